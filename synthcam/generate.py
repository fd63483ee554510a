"""The generation driver: rooms -> trajectories -> rendered, noisy frames -> one shard per room.

A dataset is a function of its :class:`GenerateConfig` alone: room ``i`` draws every random number
from ``SeedSequence(seed, spawn_key=(i,))``, so the bytes of its arrays do not depend on the number
of workers or the order in which rooms finish.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import queue
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import noise_models
from scene_library import ROOM_TYPES, Scene, build_scene, generate_room, load_description
from scene_library.labels import class40_names
from synthcam import __version__
from synthcam.camera import Intrinsics
from synthcam.errors import SynthcamError
from synthcam.render import RENDERERS, Renderer, make_renderer
from synthcam.shards import SHARD_SUFFIX, ShardWriter
from synthcam.trajectory import Trajectory, sample_trajectory

MANIFEST = "dataset.json"


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset.

    rooms, frames_per_room : counts, >= 1.
    seed : master seed, >= 0.
    width, height : image size in pixels (the NYUv2 camera scaled to it).
    noise, noise_params : a :mod:`noise_models` preset and ``"stage.field" -> value`` overrides.
    renderer : a backend name from :data:`synthcam.render.RENDERERS`.
    room_types : room types to draw from (all, with NYUv2-like weights, when empty).
    scene : path of a scene description to render in every room instead of generated rooms ("" = none).
    """

    rooms: int
    frames_per_room: int
    seed: int = 0
    width: int = 640
    height: int = 480
    noise: str = "kinect_v1"
    noise_params: dict = field(default_factory=dict)
    renderer: str = "raycast"
    room_types: tuple[str, ...] = ()
    scene: str = ""

    def validate(self) -> None:
        """Raise :class:`SynthcamError` (or a noise/scene error) naming the first bad field."""
        for name in ("rooms", "frames_per_room"):
            if getattr(self, name) < 1:
                raise SynthcamError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise SynthcamError(f"seed must be >= 0, got {self.seed}")
        if self.width < 16 or self.height < 16:
            raise SynthcamError(f"resolution {self.width}x{self.height} is too small; use at least 16x16")
        if self.renderer not in RENDERERS:
            raise SynthcamError(f"unknown renderer {self.renderer!r}; valid renderers: {', '.join(RENDERERS)}")
        for t in self.room_types:
            if t not in ROOM_TYPES:
                raise SynthcamError(f"unknown room type {t!r}; valid types: {', '.join(ROOM_TYPES)}")
        noise_models.make(self.noise, self.noise_params)
        if self.scene:
            build_scene(load_description(Path(self.scene)))  # a bad description fails before any work

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["room_types"] = list(self.room_types)
        return d

    @property
    def intrinsics(self) -> Intrinsics:
        return Intrinsics.nyuv2().scaled(self.width, self.height)


def shard_name(room_index: int) -> str:
    return f"room_{room_index:05d}{SHARD_SUFFIX}"


def room_seed(config: GenerateConfig, room_index: int) -> np.random.SeedSequence:
    """The seed sequence of room ``room_index``, independent of worker count and order."""
    return np.random.SeedSequence(config.seed, spawn_key=(room_index,))


@dataclass(frozen=True)
class RoomPlan:
    """Room ``index`` of a dataset: its scene, its renderer and its camera trajectory."""

    index: int
    scene: Scene
    renderer: Renderer
    trajectory: Trajectory


def plan_room(config: GenerateConfig, room_index: int, nthreads: int = 0, max_rooms: int = 5) -> RoomPlan:
    """Build room ``room_index`` of ``config``: scene, renderer and trajectory (deterministic).

    A generated room in which no valid trajectory exists (rare: a small, sparse room) is replaced by the
    next room drawn from the same seed stream, up to ``max_rooms`` draws.
    """
    scene_seq, traj_seq, _ = room_seed(config, room_index).spawn(3)
    scene_rng, traj_rng = np.random.default_rng(scene_seq), np.random.default_rng(traj_seq)
    intrinsics = config.intrinsics
    for attempt in range(1 if config.scene else max_rooms):
        if config.scene:
            scene = build_scene(load_description(Path(config.scene)))
        else:
            room_type = str(scene_rng.choice(config.room_types)) if config.room_types else None
            scene = generate_room(scene_rng, room_type)
        renderer = make_renderer(config.renderer, scene, intrinsics, nthreads)
        probe = make_renderer(config.renderer, scene, intrinsics.scaled(64, 48), nthreads)  # judges candidate views
        try:
            trajectory = sample_trajectory(scene, config.frames_per_room, traj_rng, renderer.distance,
                                           lambda pose: probe.render(pose, normals=False).instance)
        except SynthcamError:
            if config.scene or attempt == max_rooms - 1:
                raise
            continue
        return RoomPlan(room_index, scene, renderer, trajectory)
    raise AssertionError("unreachable")


def generate_room_shard(config: GenerateConfig, room_index: int, out_dir: Path, nthreads: int = 0,
                        on_frame: Callable[[int], None] | None = None) -> Path:
    """Generate room ``room_index`` and write its shard into ``out_dir``; returns the shard path."""
    plan = plan_room(config, room_index, nthreads)
    noise = noise_models.make(config.noise, config.noise_params)
    noise_rng = np.random.default_rng(room_seed(config, room_index).spawn(3)[2])
    attrs = {
        "package_version": __version__,
        "config": config.to_dict(),
        "seed": config.seed,
        "room_index": room_index,
        "room_seed": {"entropy": config.seed, "spawn_key": [room_index]},
        "noise": noise.describe(),
        "renderer": config.renderer,
        "room_type": plan.scene.room.room_type,
        "scene_description": plan.scene.description or {},
    }
    path = Path(out_dir) / shard_name(room_index)
    trajectory = plan.trajectory
    with ShardWriter(path, len(trajectory), config.intrinsics, attrs, plan.scene.describe(), class40_names()) as writer:
        for i, pose in enumerate(trajectory.poses):
            frame = plan.renderer.render(pose, normals=noise.needs_normals)
            noisy = noise(frame, noise_rng)
            writer.write(i, noisy, frame.depth, frame.class40, frame.instance, pose, float(trajectory.timestamps[i]))
            if on_frame is not None:
                on_frame(1)
        return writer.close()


def prepare_output(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check it is writable; remove stale temporary shards."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".synthcam-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SynthcamError(f"cannot write to output directory {out_dir} ({exc.strerror}); choose a writable --out") from None
    for stale in out_dir.glob(f"*{SHARD_SUFFIX}.tmp"):
        stale.unlink()
    return out_dir


# --- process pool plumbing -------------------------------------------------------------------

_progress_queue = None


def _init_worker(progress_queue, counter, cores: list[int], per_worker: int) -> None:
    """Pin this worker to its own block of ``per_worker`` cores and keep the progress queue."""
    global _progress_queue
    _progress_queue = progress_queue
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and hasattr(os, "sched_setaffinity"):
        block = [cores[(slot * per_worker + k) % len(cores)] for k in range(per_worker)]
        os.sched_setaffinity(0, set(block))
    import cv2

    cv2.setNumThreads(1)


def _worker_task(config: GenerateConfig, room_index: int, out_dir: str, nthreads: int) -> str:
    return str(generate_room_shard(config, room_index, Path(out_dir), nthreads, on_frame=_progress_queue.put))


def available_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def auto_workers(config: GenerateConfig) -> int:
    """Worker processes for ``config``: one per core (at most one per room) once there are enough
    frames to repay a worker's start-up (about 1.5 s of imports, i.e. some 200 frames on 2 cores)."""
    if config.rooms * config.frames_per_room < 200:
        return 1
    return max(1, min(len(available_cores()), config.rooms))


def generate_dataset(config: GenerateConfig, out_dir: Path, workers: int = 1,
                     on_frame: Callable[[int], None] | None = None) -> list[Path]:
    """Generate every room of ``config`` into ``out_dir`` with ``workers`` processes.

    Writes ``dataset.json`` (config, shards, frame counts) last, once every shard is complete.
    Returns the shard paths in room order.
    """
    config.validate()
    if workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    out_dir = prepare_output(out_dir)
    manifest = out_dir / MANIFEST
    manifest.unlink(missing_ok=True)
    for stale in out_dir.glob(f"room_*{SHARD_SUFFIX}"):  # shards of an earlier, larger run must not linger
        index = stale.name[len("room_") : -len(SHARD_SUFFIX)]
        if not index.isdigit() or int(index) >= config.rooms:
            stale.unlink()
    cores = available_cores()
    workers = min(workers, config.rooms)
    if workers == 1:
        paths = [generate_room_shard(config, i, out_dir, len(cores), on_frame) for i in range(config.rooms)]
    else:
        paths = _run_pool(config, out_dir, workers, cores, on_frame)
    _write_manifest(config, out_dir, paths)
    return paths


def _run_pool(config: GenerateConfig, out_dir: Path, workers: int, cores: list[int],
              on_frame: Callable[[int], None] | None) -> list[Path]:
    ctx = mp.get_context("spawn")
    progress, counter = ctx.Queue(), ctx.Value("i", 0)
    nthreads = max(1, len(cores) // workers)
    pin = cores if workers <= len(cores) else []
    results: dict[int, Path] = {}
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(progress, counter, pin, nthreads)) as pool:
        pending = {pool.submit(_worker_task, config, i, str(out_dir), nthreads): i for i in range(config.rooms)}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                _drain(progress, on_frame)
                for fut in done:
                    results[pending.pop(fut)] = Path(fut.result())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    _drain(progress, on_frame)
    return [results[i] for i in range(config.rooms)]


def _drain(progress, on_frame: Callable[[int], None] | None) -> None:
    while True:
        try:
            n = progress.get_nowait()
        except queue.Empty:
            return
        if on_frame is not None:
            on_frame(n)


def _write_manifest(config: GenerateConfig, out_dir: Path, paths: list[Path]) -> None:
    data = {
        "package_version": __version__,
        "config": config.to_dict(),
        "shards": [{"file": p.name, "frames": config.frames_per_room} for p in paths],
        "frames": config.rooms * config.frames_per_room,
    }
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / MANIFEST)
