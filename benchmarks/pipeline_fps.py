"""Whole-pipeline frames/s against the raw rate of the renderers on the same scenes and poses.

Run: .venv/bin/python benchmarks/pipeline_fps.py [--rooms 16] [--frames-per-room 300] [--renderer auto]

Defaults: 16 rooms of SceneNet RGB-D's 300-frame trajectories (with 2 workers each process ends on
its last room at a different time; over 8 rooms per process that tail costs a few per cent, over a
real dataset of thousands of rooms nothing).

All figures come from the same run on the same machine:
- raw ray casting: Open3D RaycastingScene.create_rays_pinhole + cast_rays (all cores) over every
  ``--reference-every``-th pose of every room, nothing else (no labels, no noise, no writing);
- raw pyrender: ``PyrenderRenderer.render`` without normals (its SEG pass: depth + labels), same poses;
- raw gl: ``GLRenderer.render`` (depth, labels and normals or incidence as the pipeline asks for them, read back to
  numpy) over every pose of every room, all cores;
- render + noise + write (the issue's pipeline figure): the rooms planned beforehand (not timed), then
  rendered, noised and written into shards exactly as ``synthcam generate`` does after planning
  (``write_room_shard``), by 1 worker (all cores for the rasteriser's threads) and by 2 workers (one
  core each), handed one room at a time; started before the timing (``benchmarks/planned_rooms.py``,
  the same code that measures a GPU machine through ``benchmarks/gpu_render_fps.py``);
- end to end: `generate_dataset` (scene generation, trajectories, render, labels, incidence,
  kinect_v1 noise, compressed HDF5 writing, the other worker's start-up), with 1 worker (all cores for
  the rasteriser's threads, as the CLI runs one), 1 worker pinned to one core, and 2 workers (one core
  each), each run in a fresh process as the CLI runs it (``run`` counts from the call of
  ``generate_dataset``, ``with start-up`` from the launch of that process: interpreter and imports);
- breakdown: the same per-room steps timed one by one in a process pinned to one core (what each of
  the 2 workers does): planning (room generation + trajectory sampling), render (depth + labels), the
  extra cost of the geometry the noise model reads (incidence angle or normals), noise, write; and a
  worker's start-up (spawned or from the fork server: imports, EGL context).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def raw_raycast_fps(rooms, repeats: int = 1, every: int = 1) -> float:
    """Frames/s of Open3D ray casting alone (depth only) over every ``every``-th pose of every planned room."""
    import open3d as o3d

    from synthcam.render_raycast import raycasting_scene

    intrinsics = rooms.config.intrinsics
    frames, seconds = 0, 0.0
    k = intrinsics.matrix.copy()
    # create_rays_pinhole samples pixel centres at (u + 0.5, v + 0.5): the project convention, K as is.
    for scene_, trajectory in zip(rooms.scenes, rooms.trajectories):
        scene = raycasting_scene(scene_)
        extrinsics = [np.linalg.inv(p) for p in trajectory.poses[::every]]
        rays = scene.create_rays_pinhole(
            o3d.core.Tensor(k), o3d.core.Tensor(extrinsics[0]), intrinsics.width, intrinsics.height
        )
        scene.cast_rays(rays)  # build the BVH outside the timing
        start = time.perf_counter()
        for _ in range(repeats):
            for ext in extrinsics:
                rays = scene.create_rays_pinhole(
                    o3d.core.Tensor(k), o3d.core.Tensor(ext), intrinsics.width, intrinsics.height
                )
                hit = scene.cast_rays(rays)
                hit["t_hit"].numpy()
        seconds += time.perf_counter() - start
        frames += repeats * len(extrinsics)
    return frames / seconds


def pipeline_fps(config, workers: int, one_core: bool = False) -> tuple[float, float]:
    """(frames/s from the call of ``generate_dataset``, frames/s from the launch of a fresh process);
    ``one_core``: the process is pinned to one core (a worker as each of 2 workers runs)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        process = ctx.Process(target=_pipeline_in_fresh_process, args=(config, tmp, workers, result, one_core))
        process.start()
        seconds = result.get()
        total = time.perf_counter() - start
        process.join()
    if seconds is None:
        raise SystemExit(f"the pipeline run with {workers} workers failed (see its traceback above)")
    frames = config.rooms * config.frames_per_room
    return frames / seconds, frames / total


def _pipeline_in_fresh_process(config, out_dir: str, workers: int, result, one_core: bool = False) -> None:
    try:
        if one_core:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        from synthcam.worker_processes import start_worker_server

        if workers > 1:
            start_worker_server()  # as the CLI does, before its imports
        from synthcam.generate import generate_dataset
        from synthcam.room_shard import keep_large_buffers_in_heap

        keep_large_buffers_in_heap()  # the CLI opts in for its own process
        start = time.perf_counter()
        generate_dataset(config, Path(out_dir), workers=workers)  # a fresh process, as the CLI
        result.put(time.perf_counter() - start)
    except BaseException:
        result.put(None)
        raise


def worker_start_up() -> tuple[float, float, float]:
    """Seconds from starting a worker process to its imports done and its EGL context open: spawned, forked
    from a fork server that is started with it (the server's preload included: a fresh ``generate`` whose
    server was not started early) and forked from a running fork server (:func:`start_worker_server`
    called early enough, or any later pool of the same process). Each in a fresh process."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        start = time.perf_counter()
        pool.apply(_start_worker)
        spawned = time.perf_counter() - start
    result = ctx.Queue()
    process = ctx.Process(target=_fork_server_start_up, args=(result,))
    process.start()
    cold, warm = result.get()
    process.join()
    return spawned, cold, warm


def print_start_up() -> None:
    spawned, cold, warm = worker_start_up()
    print(
        f"worker start-up to imports done and EGL context open: spawned {spawned:.2f} s, from a fork server "
        f"started with it {cold:.2f} s, from a running one {warm:.2f} s"
    )


def _fork_server_start_up(result) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from synthcam.worker_processes import worker_context

    times = []
    for _ in range(2):  # the first pool starts the server, the second finds it running
        with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
            start = time.perf_counter()
            pool.submit(_start_worker).result()
            times.append(time.perf_counter() - start)
    result.put(tuple(times))


def _start_worker() -> None:
    import synthcam.generate  # noqa: F401  (what a worker imports)
    from synthcam.egl import egl_context
    from synthcam.open3d_import import import_open3d

    import_open3d()
    egl_context(1)


def breakdown(config) -> dict[str, float]:
    """Milliseconds per frame of each pipeline step for ``config``, one room after another on one core.

    Runs in a child process pinned to one core with one render thread, as each of 2 workers does.
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_breakdown_in_worker, (config,))


def _breakdown_in_worker(config) -> dict[str, float]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)
    import noise_models
    from synthcam.room_shard import keep_large_buffers_in_heap, plan_room
    from synthcam_shards.shard_file import ShardWriter

    keep_large_buffers_in_heap()  # as every pipeline process does
    _start_worker()  # imports and the EGL context are start-up, timed on their own
    noise = noise_models.make(config.noise, config.noise_params)
    rng = np.random.default_rng(0)
    t = dict(plan=0.0, render=0.0, geometry=0.0, noise=0.0, write=0.0)
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        for room in range(config.rooms):
            start = time.perf_counter()
            plan = plan_room(config, room, nthreads=1)
            t["plan"] += time.perf_counter() - start
            start = time.perf_counter()
            with ShardWriter(
                Path(tmp) / f"{room}.h5", len(plan.trajectory), config.intrinsics, {}, plan.scene.describe()
            ) as writer:
                t["write"] += time.perf_counter() - start
                for i, pose in enumerate(plan.trajectory.poses):
                    t0 = time.perf_counter()
                    plan.renderer.render(pose, normals=False)
                    t1 = time.perf_counter()
                    frame = plan.renderer.render(pose, normals=noise.needs_normals, incidence=noise.needs_incidence)
                    t2 = time.perf_counter()
                    noisy = noise(frame, rng)
                    t3 = time.perf_counter()
                    writer.write(i, noisy, frame.depth, frame.class40, frame.instance, pose, 0.0)
                    t4 = time.perf_counter()
                    t["render"] += t1 - t0
                    t["geometry"] += max((t2 - t1) - (t1 - t0), 0.0)
                    t["noise"] += t3 - t2
                    t["write"] += t4 - t3
                    frames += 1
                start = time.perf_counter()
                writer.close()
                t["write"] += time.perf_counter() - start
    return {k: 1e3 * v / frames for k, v in t.items()}


def _line(label: str, fps: float, rest: str = "") -> None:
    print(f"{label + ':':<44}{fps:7.1f} frames/s  {rest}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=16)
    parser.add_argument("--frames-per-room", type=int, default=300)
    parser.add_argument(
        "--reference-every",
        type=int,
        default=4,
        help="raw ray casting and pyrender over every N-th pose (default 4; they are slow)",
    )
    parser.add_argument("--breakdown-rooms", type=int, default=4, help="rooms timed step by step on one core")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderer", default="auto", help="backend of the pipeline runs (default: auto)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the per-step timing on one core")
    parser.add_argument("--start-up-only", action="store_true", help="only time a worker's start-up")
    parser.add_argument(
        "--no-end-to-end",
        action="store_true",
        help="skip the generate_dataset runs (planning included); keep render + noise + write",
    )
    args = parser.parse_args()
    if args.start_up_only:
        print_start_up()
        return

    from planned_rooms import plan_rooms, render_fps, render_noise_write_fps, save_plans

    import noise_models
    from synthcam.generate_config import GenerateConfig
    from synthcam.render import choose_renderer

    config = GenerateConfig(
        rooms=args.rooms, frames_per_room=args.frames_per_room, seed=args.seed, renderer=args.renderer
    )
    model = noise_models.make(config.noise, config.noise_params)
    needs_normals, needs_incidence = model.needs_normals, model.needs_incidence
    rooms = plan_rooms(config)
    tris = np.mean([s.triangle_count for s in rooms.scenes])
    chosen = (
        sorted({choose_renderer(s, config.intrinsics) for s in rooms.scenes})
        if args.renderer == "auto"
        else [args.renderer]
    )
    every = args.reference_every
    raw_rc = raw_raycast_fps(rooms, every=every)
    raw_gl = render_fps("gl", rooms, normals=needs_normals, incidence=needs_incidence)
    raw_pyrender = render_fps("pyrender", rooms, every=every, normals=False)
    raw = max(raw_rc, raw_gl)
    with tempfile.TemporaryDirectory() as tmp:
        plans_path = Path(tmp) / "plans.pkl"
        save_plans(plans_path, rooms)
        del rooms
        rnw = {w: render_noise_write_fps(plans_path, w, args.renderer) for w in (1, 2)}
    if not args.no_end_to_end:
        one, one_cold = pipeline_fps(config, workers=1)
        core, _ = pipeline_fps(config, workers=1, one_core=True)
        two, two_cold = pipeline_fps(config, workers=2)
    cpu = platform.processor() or platform.machine()
    from synthcam.egl import gl_renderer_string

    print(
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}, GL: {gl_renderer_string()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"scenes: {config.rooms} generated rooms x {config.frames_per_room} frames at {config.width}x{config.height}, "
        f"mean {tris:.0f} triangles; pipeline renderer {args.renderer} -> {', '.join(chosen)}"
    )
    extra = " + normals" if needs_normals else " + incidence" if needs_incidence else ""
    _line("raw Open3D ray casting (all cores)", raw_rc, f"(one pose in {every})")
    _line(f"raw gl, labels{extra} (all cores)", raw_gl)
    _line("raw pyrender SEG pass, labels (all cores)", raw_pyrender, f"(one pose in {every})")
    print("render + noise + write (rooms planned beforehand):")
    _line("  1 worker (all cores)", rnw[1], f"= {100 * rnw[1] / raw:5.1f} % of the fastest raw")
    _line(
        "  2 workers (1 core each)",
        rnw[2],
        f"= {100 * rnw[2] / raw:5.1f} % of the fastest raw, {rnw[2] / rnw[1]:.2f}x one worker",
    )
    if not args.no_end_to_end:
        print("end to end (generate_dataset: planning too):")
        _line(
            "  1 worker (all cores)",
            one,
            f"= {100 * one / raw:5.1f} % of the fastest raw; with start-up {one_cold:5.1f}",
        )
        _line("  1 worker pinned to 1 core", core)
        _line(
            "  2 workers (1 core each)",
            two,
            f"= {100 * two / raw:5.1f} % of the fastest raw, {two / one:.2f}x one worker "
            f"({two / core:.2f}x one worker on one core); with start-up {two_cold:5.1f} ({two_cold / one_cold:.2f}x)",
        )
    if not args.no_breakdown:
        ms = breakdown(dataclasses.replace(config, rooms=min(args.breakdown_rooms, config.rooms)))
        total = sum(ms.values())
        parts = ", ".join(f"{k} {v:.1f}" for k, v in ms.items())
        print(
            f"one worker on one core, ms/frame: {parts}; total {total:.1f} ms = {1e3 / total:.1f} frames/s per core "
            f"({args.breakdown_rooms} rooms); 2 workers reached "
            f"{100 * rnw[2] * (total - ms['plan']) / 2e3:.0f} % of twice that without planning"
        )
        print_start_up()


if __name__ == "__main__":
    main()
