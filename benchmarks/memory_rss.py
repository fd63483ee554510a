"""Resident memory of a long generation run: RSS after 1 room and after 50 rooms (memory flat).

Run: .venv/bin/python benchmarks/memory_rss.py [--rooms 50] [--frames-per-room 4] [--resolution 64x48]
     [--renderer raycast] [--no-trim]

Every room goes through the per-room task the serial runner, the process pool and Ray run
(:func:`synthcam.room_shard.run_room`: room generation, trajectory, render, noise, shard writing, then
``gc.collect`` + ``malloc_trim``), one after the other in this single process tuned as a worker is
(:func:`~synthcam.room_shard.keep_large_buffers_in_heap`), with the ``raycast``
renderer (``--renderer gl``: the GL backend's buffers are made and freed for every room). ``--no-trim`` runs
the bare :func:`~synthcam.room_shard.generate_room_shard` followed by ``gc.collect()`` only, with glibc's
default settings, to show what the allocator alone keeps. RSS is read from ``/proc/self/status``
(VmRSS) after each room. The growth per room is the least-squares slope over the second half of the
rooms (the first rooms warm caches: imports, label tables, Embree, the zstd filter).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

import numpy as np


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--frames-per-room", type=int, default=4)
    parser.add_argument("--resolution", default="64x48")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", default="raycast", help="backend (default raycast)")
    parser.add_argument("--no-trim", action="store_true", help="skip malloc_trim between rooms")
    args = parser.parse_args()

    from synthcam.generate_config import GenerateConfig
    from synthcam.room_shard import generate_room_shard, keep_large_buffers_in_heap, run_room
    from synthcam_core.camera import parse_resolution

    width, height = parse_resolution(args.resolution)
    config = GenerateConfig(
        rooms=args.rooms,
        frames_per_room=args.frames_per_room,
        seed=args.seed,
        width=width,
        height=height,
        renderer=args.renderer,
    )
    if not args.no_trim:
        keep_large_buffers_in_heap()  # as every worker process (and the synthcam command) does
    start = rss_mib()
    rss = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rooms):
            if args.no_trim:
                path = generate_room_shard(config, i, Path(tmp), nthreads=1)
                gc.collect()
            else:
                path = run_room(config, i, Path(tmp), nthreads=1)
            path.unlink()  # keep the disk (and page cache) out of it
            rss.append(rss_mib())
    rooms = np.arange(1, args.rooms + 1)
    tail = rooms > args.rooms // 2
    slope = float(np.polyfit(rooms[tail], np.asarray(rss)[tail], 1)[0]) if tail.sum() > 1 else 0.0
    task = "generate_room_shard + gc.collect" if args.no_trim else "run_room (gc.collect + malloc_trim)"
    print(
        f"{args.rooms} rooms x {args.frames_per_room} frames at {width}x{height}, {args.renderer}, one process, {task}"
    )
    print(f"RSS before the first room: {start:.1f} MiB")
    for k in sorted({1, 10, 25, args.rooms} & set(rooms.tolist())):
        print(f"RSS after room {k:>3}: {rss[k - 1]:.1f} MiB")
    print(
        f"after room {args.rooms} / after room 1: {rss[-1] / rss[0]:.3f}; "
        f"growth over rooms {args.rooms // 2 + 1}..{args.rooms}: {1024 * slope:.1f} KiB/room"
    )


if __name__ == "__main__":
    main()
