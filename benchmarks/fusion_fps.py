"""Label fusion speed and memory: frames/s of :meth:`LabelFusion.integrate` beside plain TSDF integration, and
resident memory over a long sequence (memory flat).

Run: .venv/bin/python benchmarks/fusion_fps.py [--frames 1000] [--resolution 320x240] [--voxel-size 0.02]

One room of ``--frames`` frames with ``kinect_v1`` noise is generated (``synthcam generate``, raycast), then
fused three ways frame after frame, each in its own pass over the same frames read from the shard:

- ``tsdf``: Open3D's ``VoxelBlockGrid`` with ``tsdf`` and ``weight`` only (the reference: what a map without
  labels costs);
- ``ids``: :class:`~segnet.fusion.volume.LabelFusion` with the ground-truth class ids (one count a pixel);
- ``probs``: the same with (14, H, W) float32 class probabilities, as a network's softmax is fused (made from
  the ground truth beforehand, outside the timed call).

Only the integrate call is timed (reading the shard is not). Resident memory (VmRSS) and the map's own
bytes are read every ``--every`` frames of the ``probs`` pass; growth is the least-squares slope over the
second half of the sequence. The camera of a generated trajectory keeps to its room, so a map that keeps
its memory flat stops growing once the room is seen.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from memory_rss import rss_mib


def probabilities(truth: np.ndarray, classes: int) -> np.ndarray:
    """(classes, H, W) float32: 0.7 on the true class, the rest spread evenly (void pixels all even)."""
    probs = np.full((classes, *truth.shape), 0.3 / (classes - 2), np.float32)
    probs[0] = 0.0
    rows, cols = np.nonzero(truth > 0)
    probs[truth[rows, cols], rows, cols] = 0.7
    probs[1:, truth == 0] = 1.0 / (classes - 1)
    return probs


def plain_tsdf(voxel_size: float, trunc: float):
    """An integrate function on a VoxelBlockGrid with tsdf and weight only (same blocks as LabelFusion)."""
    import open3d as o3d

    o3c = o3d.core
    grid = o3d.t.geometry.VoxelBlockGrid(
        ("tsdf", "weight"), (o3c.float32, o3c.float32), ((1), (1)), voxel_size, 8, 40000, o3c.Device("CPU:0")
    )

    def integrate(depth, pose, intrinsics, labels) -> None:
        image = o3d.t.geometry.Image(o3c.Tensor.from_numpy(depth))
        k = o3c.Tensor(intrinsics.matrix, o3c.float64)
        ext = o3c.Tensor(np.linalg.inv(pose), o3c.float64)
        blocks = grid.compute_unique_block_coordinates(image, k, ext, 1.0, 8.0, trunc / voxel_size)
        grid.integrate(blocks, image, k, ext, 1.0, 8.0, trunc / voxel_size)

    return integrate


def run_pass(name: str, source, integrate, classes: int, every: int, fusion=None) -> dict:
    seconds, samples = 0.0, []
    for i, frame in enumerate(source.frames()):
        labels = probabilities(frame.truth, classes) if name == "probs" else frame.truth
        start = time.perf_counter()
        integrate(frame.depth, frame.pose, source.intrinsics, labels)
        seconds += time.perf_counter() - start
        if (i + 1) % every == 0:
            map_mib = fusion.memory_bytes() / 2**20 if fusion is not None else float("nan")
            samples.append((i + 1, rss_mib(), map_mib))
    return {"fps": len(source) / seconds, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--resolution", default="320x240")
    parser.add_argument("--voxel-size", type=float, default=0.02)
    parser.add_argument("--trunc", type=float, default=0.08)
    parser.add_argument("--every", type=int, default=100, help="read memory every N frames")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from segnet.fusion.sources import ShardSource
    from segnet.fusion.volume import FusionSettings, LabelFusion
    from synthcam.generate import generate_dataset
    from synthcam.generate_config import GenerateConfig
    from synthcam_core.camera import parse_resolution
    from synthcam_shards.shard_file import find_shards

    width, height = parse_resolution(args.resolution)
    classes = 14
    with tempfile.TemporaryDirectory() as tmp:
        config = GenerateConfig(
            rooms=1, frames_per_room=args.frames, seed=args.seed, width=width, height=height, noise="kinect_v1"
        )
        start = time.perf_counter()
        generate_dataset(config, Path(tmp), workers=1)
        print(f"generated {args.frames} frames at {width}x{height} in {time.perf_counter() - start:.0f} s")
        shard = find_shards(Path(tmp))[0]
        settings = FusionSettings(voxel_size=args.voxel_size, trunc=args.trunc)
        results = {}
        for name in ("tsdf", "ids", "probs"):
            source = ShardSource(shard, "noisy", 13)
            fusion = None if name == "tsdf" else LabelFusion(classes, settings)
            integrate = plain_tsdf(args.voxel_size, args.trunc) if fusion is None else fusion.integrate
            results[name] = run_pass(name, source, integrate, classes, args.every, fusion)
            source.close()
            print(f"{name:6s} {results[name]['fps']:7.1f} frames/s", flush=True)

    ref = results["tsdf"]["fps"]
    print(f"\nlabel fusion at {width}x{height}, {1000 * args.voxel_size:g} mm voxels, {args.frames} frames")
    for name, title in (("ids", "class ids"), ("probs", "14-class probabilities")):
        fps = results[name]["fps"]
        print(f"  {title:24s} {fps:7.1f} frames/s  (plain TSDF {ref:.1f} frames/s, ratio x{fps / ref:.3f})")
    samples = np.array(results["probs"]["samples"])
    print("\n  frames   RSS MiB   map MiB")
    for n, rss, map_mib in samples:
        print(f"  {int(n):6d}  {rss:8.1f}  {map_mib:8.1f}")
    half = samples[len(samples) // 2 :]
    if len(half) >= 2:
        slope = np.polyfit(half[:, 0], half[:, 1], 1)[0]
        print(f"  RSS growth over the second half: {1000 * slope:.2f} MiB per 1,000 frames")


if __name__ == "__main__":
    main()
