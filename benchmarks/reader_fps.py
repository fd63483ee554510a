"""Shard reader frames/s at 640x480 through a torch DataLoader, from a warm page cache.

Run: .venv/bin/python benchmarks/reader_fps.py [--data DIR] [--rooms 4] [--frames-per-room 40]
                                               [--workers 2] [--batch 16] [--block 16] [--epochs 3]

Generates a small 640x480 dataset (``--noise none``: only the bytes matter) into DIR if it holds no
shards, reads it once to warm the page cache, then reports, for standard (float32 depth, int64
label) and compact (uint16 depth_mm, uint8 label) samples, in the same run:
- per-frame costs in this process: HDF5 read + zstd decompression of a run of ``--block`` frames,
  CRC32 verification, building the batch (:meth:`ShardDataset.__getitems__` + ``collate_frames``),
  and what a worker pays for fresh shared memory per batch (torch's path, avoided by the pool);
- DataLoader frames/s over ``--epochs`` epochs after a warm-up epoch, batch ``--batch``:
  ``fast`` = ``ShardOrderSampler(block=--block)`` + ``collate_fn=collate_frames`` (batches read by
  runs straight into reused shared memory, :mod:`segnet.datasets.batch_memory`), with no workers and with
  ``--workers`` workers; ``fresh shm`` = the same with the segment pool off (torch's own transport);
  ``per sample`` = ``block=1`` and torch's default collate (what a plain DataLoader does).
Per-step costs are the best of 3 passes, the least disturbed by other jobs on a shared machine.
Goal (issue 5): >= 1,500 frames/s with 2 workers, over twice the 712 frames/s one H100 trains on.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

GOAL_FPS = 1500.0


def ensure_dataset(data: Path, rooms: int, frames: int) -> None:
    from synthcam.generate import GenerateConfig, generate_dataset

    if not list(data.glob("*.h5")):
        start = time.perf_counter()
        generate_dataset(GenerateConfig(rooms=rooms, frames_per_room=frames, seed=1, noise="none"), data, workers=2)
        print(f"generated {rooms * frames} frames in {time.perf_counter() - start:.1f} s into {data}")


def per_frame_costs(data: Path, block: int, compact: bool) -> dict[str, float]:
    """Mean milliseconds per frame of each reading step, in this process."""
    import torch

    from segnet.datasets.shard_reader import ShardDataset, collate_frames

    ds = ShardDataset(data, compact=compact)
    runs = [(shard, a, min(a + block, len(shard))) for shard in ds.shards for a in range(0, len(shard), block)]
    batches = [list(range(a, min(a + block, len(ds)))) for a in range(0, len(ds), block)]  # within shards
    batches = [b for b in batches if ds.locate(b[0])[0] == ds.locate(b[-1])[0]]
    fields = ("depth_mm", "class40")

    def timed(fn, items, frames: int) -> float:
        best = float("inf")
        for _ in range(3):  # the best pass: the least disturbed by other jobs on a shared machine
            start = time.perf_counter()
            for item in items:
                fn(item)
            best = min(best, (time.perf_counter() - start) * 1e3 / frames)
        return best

    n_run = sum(b - a for _, a, b in runs)
    costs = {
        "read+zstd": timed(lambda r: r[0].read_frames(r[1], r[2], fields, verify=False), runs, n_run),
        "read+zstd+crc": timed(lambda r: r[0].read_frames(r[1], r[2], fields), runs, n_run),
        "batch (all)": timed(lambda b: collate_frames(ds.__getitems__(b)), batches, sum(map(len, batches))),
    }
    frame_bytes = ds.out_size[0] * ds.out_size[1] * (3 if compact else 12)

    def fresh_shared(_):
        storage = torch.UntypedStorage._new_shared(block * frame_bytes)
        torch.empty(0, dtype=torch.uint8).set_(storage).fill_(1)

    costs["fresh shm"] = timed(fresh_shared, range(8), 8 * block)
    return costs


def loader_fps(
    data: Path, workers: int, batch: int, block: int, epochs: int, compact: bool, fast: bool = True, pool: bool = True
) -> tuple[float, float]:
    """(mean, best-epoch) frames/s over ``epochs`` epochs after a warm-up epoch."""
    from torch.utils.data import DataLoader, default_collate

    import segnet.datasets.batch_memory as batch_memory
    from segnet.datasets.shard_reader import ShardDataset, ShardOrderSampler, collate_frames

    saved, batch_memory.MAX_SEGMENTS = batch_memory.MAX_SEGMENTS, batch_memory.MAX_SEGMENTS if pool else 0
    try:
        ds = ShardDataset(data, compact=compact)
        sampler = ShardOrderSampler(ds, seed=0, block=block if fast else 1)
        loader = DataLoader(
            ds,
            batch_size=batch,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers else None,
            collate_fn=collate_frames if fast else default_collate,
        )
        for _ in loader:  # warm-up: page cache, worker start, handles (workers fork here, with the pool setting)
            pass
    finally:
        batch_memory.MAX_SEGMENTS = saved
    rates = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch + 1)
        frames, start = 0, time.perf_counter()
        for b in loader:
            frames += b["label"].shape[0]
        rates.append((frames, time.perf_counter() - start))
    del loader
    mean = sum(f for f, _ in rates) / sum(t for _, t in rates)
    return mean, max(f / t for f, t in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (generated if it holds no shards)")
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--frames-per-room", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--block", type=int, default=16, help="consecutive frames per sampler block")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in DataLoader workers; 2 threads on a busy 2-core machine stall in torch ops
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        ensure_dataset(data, args.rooms, args.frames_per_room)
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}"
        )
        w = args.workers
        for compact in (False, True):
            mode = "compact (uint16 depth_mm, uint8 label)" if compact else "standard (float32 depth, int64 label)"
            print(f"{mode}:")
            for name, ms in per_frame_costs(data, args.block, compact).items():
                print(f"  {name:>16}: {ms:6.3f} ms/frame (1 process, 1 torch thread)")
            rows = [
                ("fast, no workers", 0, True, True),
                (f"fast, {w} workers", w, True, True),
                (f"fresh shm, {w} workers", w, True, False),
                (f"per sample, {w} workers", w, False, True),
            ]
            for name, workers, fast, pool in rows:
                fps, best = loader_fps(data, workers, args.batch, args.block, args.epochs, compact, fast, pool)
                goal = f"; goal {GOAL_FPS:.0f}: {fps / GOAL_FPS:.0%}" if workers and fast and pool else ""
                print(f"  DataLoader {name:>22}: {fps:6.0f} frames/s (best epoch {best:.0f}{goal})")
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
