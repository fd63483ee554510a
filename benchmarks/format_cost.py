"""What the integrity checks of shard format v2 cost: writing, opening, reading and validating a shard,
measured for this checkout and for a reference commit (by default the last format-v1 commit) in the
same run, alternating, on the same machine.

Run: .venv/bin/python benchmarks/format_cost.py [--reference d91824c] [--frames 60] [--size 640x480] [--repeats 5]

The reference commit is checked out into a temporary git worktree and measured in a child process with
that tree first on ``sys.path``; each side writes its own shard of the same synthetic frames (smooth
depth ramps with a few boxes and their labels, fixed seed) in its own format. Per side, best of
``--repeats`` alternating rounds (the least disturbed by other jobs on a shared machine):
- write: ``ShardWriter`` of ``--frames`` frames, ms per frame (close and rename included);
- open: ``ShardFile(path)`` (format, layout, digest and per-frame pose checks in v2), ms;
- read: ``read_frame(i, ("depth", "class40"))`` over every frame, CRC32 verified, ms per frame;
- validate: ``synthcam_shards.validate.validate_shard(path)``, ms per frame.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from synthcam_core.camera import Intrinsics
from synthcam_shards.shard_file import ShardFile, ShardWriter
from synthcam_shards.validate import validate_shard

frames, width, height, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
rng = np.random.default_rng(0)
cam = Intrinsics.nyuv2().scaled(width, height)
v, u = np.mgrid[0:height, 0:width]
data = []
for i in range(frames):
    depth = (1.5 + 3.0 * u / width + 0.2 * np.sin(v / 17.0 + i)).astype(np.float32)
    labels = np.ones((height, width), np.uint8)
    for k in range(4):
        x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
        depth[y0:y0 + height // 4, x0:x0 + width // 4] -= 0.5
        labels[y0:y0 + height // 4, x0:x0 + width // 4] = 5 + k
    noisy = np.where(rng.random((height, width)) < 0.1, 0.0, depth).astype(np.float32)
    pose = np.eye(4)
    pose[:3, 3] = (0.01 * i, 0.0, 1.4)
    data.append((noisy, depth, labels, labels.astype(np.uint16), pose))
attrs = {"config": {"rooms": 1, "frames_per_room": frames, "seed": 0}, "seed": 0, "room_index": 0}
objects = [{"instance_id": k, "class40": k, "class_name": "x", "name": "x"} for k in range(1, 9)]
scene = {"room_type": "bench", "objects": objects}
path = out / "room_00000.h5"
start = time.perf_counter()
with ShardWriter(path, frames, cam, attrs, scene) as writer:
    for i, (noisy, depth, labels, instance, pose) in enumerate(data):
        writer.write(i, noisy, depth, labels, instance, pose, 0.04 * i, trajectory_id=0)
    writer.close()
write = time.perf_counter() - start
start = time.perf_counter()
shard = ShardFile(path)
opened = time.perf_counter() - start
start = time.perf_counter()
for i in range(frames):
    shard.read_frame(i, ("depth", "class40"))
read = time.perf_counter() - start
shard.close()
start = time.perf_counter()
n, problem = validate_shard(path)
checked = time.perf_counter() - start
assert problem is None and n == frames, problem
print(json.dumps({"write_ms_per_frame": 1e3 * write / frames, "open_ms": 1e3 * opened,
                  "read_ms_per_frame": 1e3 * read / frames, "validate_ms_per_frame": 1e3 * checked / frames,
                  "shard_bytes": path.stat().st_size}))
"""


def measure(tree: Path, frames: int, width: int, height: int) -> dict:
    """One round of the child measurement with ``tree`` first on the import path."""
    with tempfile.TemporaryDirectory() as out:
        env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(frames), str(width), str(height), out],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"measurement in {tree} failed:\n{result.stderr.strip().splitlines()[-1]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference", default="d91824c", help="commit to compare with (default: last format-v1 commit)"
    )
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = Path(tmp) / "reference"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(ref_tree), args.reference], check=True
        )
        try:
            rounds: dict[str, list[dict]] = {"this checkout": [], f"reference {args.reference}": []}
            for _ in range(args.repeats):
                rounds["this checkout"].append(measure(ROOT, args.frames, width, height))
                rounds[f"reference {args.reference}"].append(measure(ref_tree, args.frames, width, height))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], check=False)
    best = {side: {k: min(r[k] for r in runs) for k in runs[0]} for side, runs in rounds.items()}
    (new, ref) = best.values()
    print(
        f"{args.frames} frames at {width}x{height}, best of {args.repeats} alternating rounds "
        f"({time.strftime('%Y-%m-%d')})"
    )
    print(f"{'figure':24s} {'this checkout':>14s} {'reference':>14s} {'ratio':>7s}")
    for key in new:
        print(f"{key:24s} {new[key]:14.3f} {ref[key]:14.3f} {new[key] / ref[key]:7.2f}")


if __name__ == "__main__":
    main()
