"""Render and pipeline frames/s on a machine without Open3D (the lent GPU machine), against the raw
renderers on the same rooms and poses.

Generation plans rooms with Open3D (trajectory probes, clearance queries), which is too large to travel
to the GPU machine; rendering, noise and shard writing need only PyOpenGL, pyrender, trimesh, OpenCV,
h5py and hdf5plugin's zstd filter. So the rooms are planned here and pickled, and the GPU machine renders
them (``benchmarks/gpu_prepare.sh`` builds everything that travels; ``benchmarks/gpu_run.sh`` is the
command there):

    .venv/bin/python benchmarks/gpu_render_fps.py prepare .gpu/plans.pkl [--rooms 16] [--frames-per-room 300]
    PYOPENGL_PLATFORM=egl python benchmarks/gpu_render_fps.py run .gpu/plans.pkl [--workers 1,2,4,8,16]

``run`` prints, from one run on one machine, at the prepared resolution:
- raw ``gl`` with labels and the incidence angle (what the pipeline asks for with ``kinect_v1``), raw
  ``gl`` with labels only and raw ``pyrender`` SEG pass (labels), one process, every pose but each
  room's first (upload);
- render + noise + write (the issue's pipeline figure, planning done beforehand) with ``gl`` for each
  ``--workers`` count (workers pinned to equal blocks of cores), and with ``pyrender`` for the largest;
  as a percentage of raw ``gl`` with labels + incidence.
It prints the GL renderer string, so the figures say which device made them.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from planned_rooms import load_plans, plan_rooms, render_fps, render_noise_write_fps, save_plans


def prepare(path: Path, rooms: int, frames_per_room: int, seed: int, width: int, height: int) -> None:
    from synthcam.generate_config import GenerateConfig

    config = GenerateConfig(rooms=rooms, frames_per_room=frames_per_room, seed=seed, width=width, height=height)
    planned = plan_rooms(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_plans(path, planned)
    tris = sum(s.triangle_count for s in planned.scenes) / rooms
    print(
        f"wrote {path}: {rooms} rooms x {frames_per_room} poses at {width}x{height}, mean {tris:.0f} triangles, "
        f"{path.stat().st_size / 1e6:.1f} MB"
    )


def run(path: Path, workers: list[int], pipeline: bool = True) -> None:
    from synthcam.egl import gl_renderer_string

    rooms = load_plans(path)
    k = rooms.config.intrinsics
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, GL: {gl_renderer_string()}; {len(rooms.scenes)} rooms x "
        f"{len(rooms.trajectories[0])} poses at {k.width}x{k.height}",
        flush=True,
    )
    gl_incidence = render_fps("gl", rooms, normals=False, incidence=True)
    gl_labels = render_fps("gl", rooms, normals=False)
    pyrender = render_fps("pyrender", rooms, normals=False)
    print(f"raw gl, labels + incidence:   {gl_incidence:8.1f} frames/s")
    print(f"raw gl, labels:               {gl_labels:8.1f} frames/s")
    print(
        f"raw pyrender SEG, labels:     {pyrender:8.1f} frames/s   (gl / pyrender: {gl_labels / pyrender:.1f}x)",
        flush=True,
    )
    if not pipeline:
        return
    print("render + noise + write (kinect_v1, zstd shards; rooms planned beforehand):")
    first = None
    for n in workers:
        fps = render_noise_write_fps(path, n, "gl")
        first = first or fps
        print(
            f"  gl, {n:2d} workers:             {fps:8.1f} frames/s = {100 * fps / gl_incidence:5.1f} % of raw gl, "
            f"{fps / first:5.2f}x {workers[0]} worker(s)",
            flush=True,
        )
    fps = render_noise_write_fps(path, workers[-1], "pyrender")
    print(
        f"  pyrender, {workers[-1]:2d} workers:       {fps:8.1f} frames/s = "
        f"{100 * fps / pyrender:5.1f} % of raw pyrender"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="plan rooms here (needs Open3D) and pickle scenes and trajectories")
    p.add_argument("path", type=Path)
    p.add_argument("--rooms", type=int, default=16)
    p.add_argument("--frames-per-room", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resolution", default="640x480")
    r = sub.add_parser("run", help="render the pickled rooms with gl and pyrender, alone and in the pipeline")
    r.add_argument("path", type=Path)
    r.add_argument("--workers", default="1,2,4,8,16", help="comma-separated worker counts of the pipeline runs")
    r.add_argument("--no-pipeline", action="store_true", help="raw render rates only")
    args = parser.parse_args()
    if args.command == "prepare":
        from synthcam_core.camera import parse_resolution

        width, height = parse_resolution(args.resolution)
        prepare(args.path, args.rooms, args.frames_per_room, args.seed, width, height)
    else:
        workers = sorted({int(w) for w in args.workers.split(",")})
        run(args.path, workers, pipeline=not args.no_pipeline)


if __name__ == "__main__":
    main()
