"""Rooms planned once, then rendered, noised and written by worker processes: the issue's pipeline figure
(render + noise + write) without planning, on this machine or on one without Open3D (the GPU machine).

Planning (room generation, trajectory probes and clearance queries) needs Open3D, which is too large to
travel to the lent GPU machine. :func:`save_plans` pickles the planned scenes and trajectories here;
:func:`load_plans` reads them anywhere that has the renderers (PyOpenGL, pyrender, trimesh), and
:func:`render_noise_write_fps` writes every room's shard exactly as ``synthcam generate`` does after
planning (:func:`synthcam.room_shard.write_room_shard`), in a pool of worker processes pinned to cores.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# A machine that gets hdf5plugin cut to its zstd filter (benchmarks/gpu_prepare.sh) would log every
# other filter as missing.
logging.getLogger("hdf5plugin").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PlannedRooms:
    """config: the dataset's GenerateConfig; scenes[i] and trajectories[i]: room i's plan (no renderer)."""

    config: object
    scenes: list
    trajectories: list

    @property
    def frames(self) -> int:
        return sum(len(t) for t in self.trajectories)


def plan_rooms(config, nthreads: int = 0) -> PlannedRooms:
    """Plan every room of ``config`` as generation does (needs Open3D)."""
    from synthcam.room_shard import plan_room

    plans = [plan_room(dataclasses.replace(config, renderer="raycast"), i, nthreads) for i in range(config.rooms)]
    return PlannedRooms(config, [p.scene for p in plans], [p.trajectory for p in plans])


def save_plans(path: Path, rooms: PlannedRooms) -> None:
    Path(path).write_bytes(pickle.dumps(rooms, protocol=pickle.HIGHEST_PROTOCOL))


def load_plans(path: Path) -> PlannedRooms:
    return pickle.loads(Path(path).read_bytes())


def render_fps(backend: str, rooms: PlannedRooms, every: int = 1, **flags) -> float:
    """Frames/s of ``backend``'s ``render(pose, **flags)`` alone, in this process with all its cores, over
    every ``every``-th pose of every room (each room's first render, which uploads it, left out)."""
    from synthcam.render import make_renderer

    frames, seconds = 0, 0.0
    for scene, trajectory in zip(rooms.scenes, rooms.trajectories):
        renderer = make_renderer(backend, scene, rooms.config.intrinsics)
        renderer.render(trajectory.poses[0], **flags)
        poses = trajectory.poses[::every]
        start = time.perf_counter()
        for pose in poses:
            renderer.render(pose, **flags)
        seconds += time.perf_counter() - start
        frames += len(poses)
        if hasattr(renderer, "close"):
            renderer.close()
    return frames / seconds


def render_noise_write_fps(plans_path: Path, workers: int, renderer: str) -> float:
    """Frames/s of rendering, noising and writing every planned room of ``plans_path`` (a
    :func:`save_plans` file) with ``workers`` processes, each pinned to its own block of the cores
    (one worker: all of them), one room at a time.

    Timed from the first room handed out to the last shard closed; the workers' start-up (imports and
    the GL context) is done before, as a long generation run pays it once.
    """
    from synthcam.worker_processes import available_cores

    cores = available_cores()
    per_worker = max(1, len(cores) // workers)
    ctx = mp.get_context("spawn")  # GL contexts and rasteriser threads do not survive a fork
    ready, slots = ctx.Barrier(workers + 1), ctx.Value("i", 0)
    count = len(load_plans(plans_path).scenes)
    with (
        tempfile.TemporaryDirectory() as out_dir,
        ctx.Pool(
            workers, initializer=_init, initargs=(str(plans_path), renderer, cores, per_worker, slots, ready)
        ) as pool,
    ):
        ready.wait(timeout=180)  # every worker started; one that fails to start times the barrier out
        start = time.perf_counter()
        frames = sum(pool.imap_unordered(_write_room, [(i, out_dir) for i in range(count)], chunksize=1))
        seconds = time.perf_counter() - start
    return frames / seconds


_rooms: PlannedRooms | None = None


def _init(plans_path: str, renderer: str, cores: list[int], per_worker: int, slots, ready) -> None:
    global _rooms
    with slots.get_lock():
        slot = slots.value
        slots.value += 1
    from synthcam.room_shard import keep_large_buffers_in_heap
    from synthcam.runners import core_block  # the blocks generation pins to

    if hasattr(os, "sched_setaffinity") and per_worker < len(cores):
        os.sched_setaffinity(0, set(core_block(cores, slot, per_worker)))
    import cv2

    cv2.setNumThreads(1)
    from synthcam.egl import egl_context

    keep_large_buffers_in_heap()
    rooms = load_plans(Path(plans_path))
    _rooms = dataclasses.replace(rooms, config=dataclasses.replace(rooms.config, renderer=renderer))
    if renderer in ("gl", "auto"):
        egl_context(per_worker)
    ready.wait(timeout=180)


def _write_room(job: tuple[int, str]) -> int:
    from synthcam.render import make_renderer
    from synthcam.room_shard import RoomPlan, write_room_shard

    index, out_dir = job
    config, scene, trajectory = _rooms.config, _rooms.scenes[index], _rooms.trajectories[index]
    renderer = make_renderer(config.renderer, scene, config.intrinsics, max(1, len(os.sched_getaffinity(0))))
    write_room_shard(config, RoomPlan(index, scene, renderer, trajectory), Path(out_dir))
    if hasattr(renderer, "close"):
        renderer.close()
    return len(trajectory)
