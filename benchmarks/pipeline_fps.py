"""Whole-pipeline frames/s against the raw Open3D ray-casting rate of the same scenes and poses.

Run: .venv/bin/python benchmarks/pipeline_fps.py [--rooms 4] [--frames-per-room 40]

Both figures come from the same run on the same machine:
- raw: Open3D RaycastingScene.create_rays_pinhole + cast_rays (all cores) over every pose of every
  room, nothing else (no labels, no noise, no writing);
- pipeline: `generate_dataset` end to end (scene generation, trajectories, render, labels, normals,
  kinect_v1 noise, compressed HDF5 writing), with 1 and with 2 worker processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def raw_raycast_fps(plans, intrinsics, repeats: int = 2) -> float:
    import open3d as o3d

    frames, seconds = 0, 0.0
    k = intrinsics.matrix.copy()
    # create_rays_pinhole samples pixel centres at (u + 0.5, v + 0.5): the project convention, K as is.
    for plan in plans:
        scene = o3d.t.geometry.RaycastingScene()
        for obj in plan.scene.objects:
            scene.add_triangles(o3d.core.Tensor(np.asarray(obj.mesh.vertices, np.float32)),
                                o3d.core.Tensor(np.asarray(obj.mesh.faces, np.uint32)))
        extrinsics = [np.linalg.inv(p) for p in plan.trajectory.poses]
        rays = scene.create_rays_pinhole(o3d.core.Tensor(k), o3d.core.Tensor(extrinsics[0]), intrinsics.width, intrinsics.height)
        scene.cast_rays(rays)  # build the BVH outside the timing
        start = time.perf_counter()
        for _ in range(repeats):
            for ext in extrinsics:
                rays = scene.create_rays_pinhole(o3d.core.Tensor(k), o3d.core.Tensor(ext), intrinsics.width, intrinsics.height)
                hit = scene.cast_rays(rays)
                hit["t_hit"].numpy()
        seconds += time.perf_counter() - start
        frames += repeats * len(extrinsics)
    return frames / seconds


def pipeline_fps(config, workers: int) -> float:
    from synthcam.generate import generate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_dataset(config, Path(tmp), workers=workers)
        return config.rooms * config.frames_per_room / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--frames-per-room", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from synthcam.generate import GenerateConfig, plan_room

    config = GenerateConfig(rooms=args.rooms, frames_per_room=args.frames_per_room, seed=args.seed)
    plans = [plan_room(config, i) for i in range(config.rooms)]
    tris = np.mean([p.scene.triangle_count for p in plans])
    raw = raw_raycast_fps(plans, config.intrinsics)
    one = pipeline_fps(config, workers=1)
    two = pipeline_fps(config, workers=2)
    cpu = platform.processor() or platform.machine()
    print(f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}")
    print(f"scenes: {config.rooms} generated rooms x {config.frames_per_room} frames at {config.width}x{config.height}, "
          f"mean {tris:.0f} triangles")
    print(f"raw Open3D ray casting (all cores):   {raw:6.1f} frames/s")
    print(f"pipeline, 1 worker (all cores):       {one:6.1f} frames/s  = {100 * one / raw:5.1f} % of raw")
    print(f"pipeline, 2 workers (1 core each):    {two:6.1f} frames/s  = {100 * two / raw:5.1f} % of raw")


if __name__ == "__main__":
    main()
