"""Raw render frames/s of the GL backends on a machine without Open3D (the lent GPU machine).

Generation plans rooms with Open3D (trajectory probes, clearance queries), which is too large to travel
to the GPU machine; the renderers themselves need only PyOpenGL, pyrender and trimesh. So the scenes
and poses are planned here and pickled, and the GPU machine only renders them:

    .venv/bin/python benchmarks/gpu_render_fps.py prepare /tmp/gpu_scenes.pkl [--rooms 8] [--frames-per-room 60]
    PYOPENGL_PLATFORM=egl python benchmarks/gpu_render_fps.py run /tmp/gpu_scenes.pkl   # there (or here)

``run`` times, over every pose of every room at the prepared resolution: ``gl`` with labels and the
incidence angle (what the pipeline asks for with ``kinect_v1``), ``gl`` with labels only, and
``pyrender``'s SEG pass (labels, no normals); first frame of each room (upload) left out. It prints the
GL renderer string, so the figures say which device made them.
"""

from __future__ import annotations

import argparse
import pickle
import platform
import time
from pathlib import Path


def prepare(path: Path, rooms: int, frames_per_room: int, seed: int, width: int, height: int) -> None:
    from synthcam.generate import GenerateConfig, plan_room

    config = GenerateConfig(rooms=rooms, frames_per_room=frames_per_room, seed=seed, width=width, height=height,
                            renderer="raycast")  # the output renderer is not used: only scenes and poses travel
    plans = [plan_room(config, i) for i in range(rooms)]
    data = {"intrinsics": config.intrinsics, "scenes": [p.scene for p in plans],
            "poses": [p.trajectory.poses for p in plans]}
    path.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    tris = sum(p.scene.triangle_count for p in plans) / rooms
    print(f"wrote {path}: {rooms} rooms x {frames_per_room} poses at {width}x{height}, mean {tris:.0f} triangles, "
          f"{path.stat().st_size / 1e6:.1f} MB")


def render_fps(backend: str, data: dict, **flags) -> float:
    """Frames/s of ``backend``'s ``render(pose, **flags)`` over every pose but each room's first."""
    from synthcam.render import RENDERERS

    frames, seconds = 0, 0.0
    for scene, poses in zip(data["scenes"], data["poses"]):
        renderer = RENDERERS[backend](scene, data["intrinsics"], 0)
        renderer.render(poses[0], **flags)
        start = time.perf_counter()
        for pose in poses[1:]:
            renderer.render(pose, **flags)
        seconds += time.perf_counter() - start
        frames += len(poses) - 1
        if hasattr(renderer, "close"):
            renderer.close()
    return frames / seconds


def run(path: Path) -> None:
    from synthcam.render_gl import gl_renderer_string

    data = pickle.loads(path.read_bytes())
    k = data["intrinsics"]
    print(f"machine: {platform.node()}, GL: {gl_renderer_string()}; {len(data['scenes'])} rooms x "
          f"{len(data['poses'][0])} poses at {k.width}x{k.height}")
    gl_incidence = render_fps("gl", data, normals=False, incidence=True)
    gl_labels = render_fps("gl", data, normals=False)
    pyrender = render_fps("pyrender", data, normals=False)
    print(f"gl, labels + incidence:   {gl_incidence:8.1f} frames/s")
    print(f"gl, labels:               {gl_labels:8.1f} frames/s")
    print(f"pyrender SEG, labels:     {pyrender:8.1f} frames/s   (gl / pyrender: {gl_labels / pyrender:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="plan rooms here (needs Open3D) and pickle scenes and poses")
    p.add_argument("path", type=Path)
    p.add_argument("--rooms", type=int, default=8)
    p.add_argument("--frames-per-room", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resolution", default="640x480")
    r = sub.add_parser("run", help="render the pickled scenes with gl and pyrender and print frames/s")
    r.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        from synthcam.camera import parse_resolution

        width, height = parse_resolution(args.resolution)
        prepare(args.path, args.rooms, args.frames_per_room, args.seed, width, height)
    else:
        run(args.path)


if __name__ == "__main__":
    main()
