"""The generation driver: rooms -> trajectories -> rendered, noisy frames -> one shard per room.

A dataset is a function of its :class:`GenerateConfig` alone: room ``i`` draws every random number
from ``SeedSequence(seed, spawn_key=(i,))``, so the bytes of its shard do not depend on the number
of workers, the order in which rooms finish, or whether the run was interrupted and resumed.

Rooms run serially, in local worker processes (this process and started ones, one room per task, each
pinned to its cores) or as Ray tasks (``ray_address``); all three call :func:`generate_room_shard`. ``manifest.json`` is written
last, so its presence means the dataset is complete.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import queue
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import noise_models
from scene_library import ROOM_TYPES, Scene, build_scene, generate_room, load_description
from synthcam import __version__
from synthcam.camera import Intrinsics
from synthcam.errors import SynthcamError
from synthcam.render import RENDERERS, Renderer, make_renderer
from synthcam.shards import FORMAT_VERSION, MANIFEST, SHARD_SUFFIX, TEMP_SUFFIX, ShardWriter, default_label_tables
from synthcam.trajectory import Trajectory, sample_trajectory

LEGACY_MANIFEST = "dataset.json"  # format v0


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
    renderer: str = "auto"
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
        # Views are judged and clearances measured by ray casting at 64x48, whatever the output backend:
        # it is the fastest at that size and it answers distance queries.
        probe = make_renderer("raycast", scene, intrinsics.scaled(64, 48), nthreads)
        try:
            trajectory = sample_trajectory(scene, config.frames_per_room, traj_rng, probe.distance, probe.instances)
        except SynthcamError:
            if config.scene or attempt == max_rooms - 1:
                raise
            continue
        return RoomPlan(room_index, scene, make_renderer(config.renderer, scene, intrinsics, nthreads), trajectory)
    raise AssertionError("unreachable")


def generate_room_shard(config: GenerateConfig, room_index: int, out_dir: Path, nthreads: int = 0,
                        on_frame: Callable[[int], None] | None = None) -> Path:
    """Plan room ``room_index`` (:func:`plan_room`) and write its shard into ``out_dir``
    (:func:`write_room_shard`); returns the shard path."""
    return write_room_shard(config, plan_room(config, room_index, nthreads), out_dir, on_frame)


def write_room_shard(config: GenerateConfig, plan: RoomPlan, out_dir: Path,
                     on_frame: Callable[[int], None] | None = None) -> Path:
    """Render, add noise to and write every frame of a planned room (:func:`plan_room`) into its shard
    in ``out_dir``; returns the shard path. The room's noise stream comes from ``config`` and
    ``plan.index``, so the shard is the same whoever planned the room. The shard appears under its final
    name only once complete (see :class:`~synthcam.shards.ShardWriter`). Every frame's ``trajectory_id``
    is the room index (one trajectory per room).
    """
    room_index = plan.index
    noise = noise_models.make(config.noise, config.noise_params)
    noise_rng = np.random.default_rng(room_seed(config, room_index).spawn(3)[2])
    attrs = {
        "package_version": __version__,
        "config": config.to_dict(),
        "seed": config.seed,
        "room_index": room_index,
        "room_seed": {"entropy": config.seed, "spawn_key": [room_index]},
        "noise": noise.describe(),
        "renderer": getattr(plan.renderer, "name", config.renderer),  # the backend "auto" chose
        "room_type": plan.scene.room.room_type,
        "scene_description": plan.scene.description or {},
    }
    path = Path(out_dir) / shard_name(room_index)
    trajectory = plan.trajectory
    with ShardWriter(path, len(trajectory), config.intrinsics, attrs, plan.scene.describe(), default_label_tables()) as writer:
        for i, pose in enumerate(trajectory.poses):
            frame = plan.renderer.render(pose, normals=noise.needs_normals, incidence=noise.needs_incidence)
            noisy = noise(frame, noise_rng)
            writer.write(i, noisy, frame.depth, frame.class40, frame.instance, pose, float(trajectory.timestamps[i]),
                         trajectory_id=room_index)
            if on_frame is not None:
                on_frame(1)
        return writer.close()


def run_room(config: GenerateConfig, room_index: int, out_dir: Path, nthreads: int = 0,
             on_frame: Callable[[int], None] | None = None) -> Path:
    """The per-room task of every runner (serial, process pool, Ray): :func:`generate_room_shard`, then
    hand freed memory back to the system so that a long run's resident memory stays flat."""
    keep_large_buffers_in_heap()
    path = generate_room_shard(config, room_index, out_dir, nthreads, on_frame)
    release_memory()
    return path


def keep_large_buffers_in_heap(mmap_threshold: int = 64 << 20) -> None:
    """Serve allocations below ``mmap_threshold`` bytes from the heap and keep freed heap memory (glibc
    ``mallopt``; elsewhere a no-op).

    A 640x480 frame allocates and frees dozens of 0.3-5 MB arrays (read-back, labels, normals, noise
    stages, uint16 copies); by default glibc maps each one afresh and the first touch of every page
    faults, some 10-15 % of a frame's time (benchmarks/pipeline_fps.py). :func:`release_memory` still
    hands the heap back after each room. Idempotent; affects the whole process.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, int(mmap_threshold))  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2 * int(mmap_threshold))  # M_TRIM_THRESHOLD: no trimming at every free
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Collect garbage and return free heap pages to the OS (``malloc_trim``; glibc only, else a no-op).

    Nothing leaks per room (Python allocations are flat under tracemalloc), but glibc keeps freed
    mesh and buffer memory in its arenas; trimming holds RSS some 5 MiB lower (benchmarks/memory_rss.py)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
    for stale in out_dir.glob(f"room_*{SHARD_SUFFIX}{TEMP_SUFFIX}"):
        stale.unlink()
    return out_dir


# --- resume ----------------------------------------------------------------------------------


def _config_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def _mismatch(out_dir: Path, found: dict, config: GenerateConfig, where: str) -> SynthcamError:
    want = config.to_dict()
    keys = sorted(k for k in set(found) | set(want) if _config_json(found.get(k)) != _config_json(want.get(k)))
    diff = ", ".join(f"{k} {found.get(k)!r} vs {want.get(k)!r}" for k in keys[:3]) or "format"
    return SynthcamError(f"{out_dir} already holds a dataset with a different config ({where}: {diff}); "
                         f"use a new --out, or --overwrite to replace it")


def _room_index(path: Path) -> int | None:
    index = path.name[len("room_"): -len(SHARD_SUFFIX)]
    return int(index) if path.name.startswith("room_") and index.isdigit() else None


def _shard_is_complete(path: Path, config: GenerateConfig) -> bool:
    """True if ``path`` is a complete v1 shard of ``config`` (header only: a quick check).

    A file that is not a readable v1 shard is False (it is regenerated); a v1 shard of another config
    raises :class:`SynthcamError`.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION or "config" not in f.attrs:
                return False
            found = json.loads(f.attrs["config"])
            complete = int(f.attrs.get("frame_count", -1)) == config.frames_per_room
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if _config_json(found) != _config_json(config.to_dict()):
        raise _mismatch(path.parent, found, config, path.name)
    return complete


def rooms_to_generate(config: GenerateConfig, out_dir: Path, overwrite: bool = False) -> list[int]:
    """Prepare ``out_dir`` for ``config`` and return the room indices whose shards must be (re)made.

    Keeps complete shards of the same config, deletes partial (``.tmp``), unreadable and older-format
    shards and the manifest (rewritten at the end). With ``overwrite`` every shard is deleted first.
    Raises :class:`SynthcamError` if the directory holds a dataset of a different config.
    """
    out_dir = prepare_output(out_dir)
    manifest = out_dir / MANIFEST
    shards = sorted(p for p in out_dir.glob(f"room_*{SHARD_SUFFIX}") if _room_index(p) is not None)
    if overwrite:
        for path in shards:
            path.unlink()
        shards = []
    elif manifest.is_file():
        try:
            found = json.loads(manifest.read_text()).get("config")
        except ValueError:
            found = None
        if isinstance(found, dict) and _config_json(found) != _config_json(config.to_dict()):
            raise _mismatch(out_dir, found, config, MANIFEST)
    todo = set(range(config.rooms))
    for path in shards:
        if _shard_is_complete(path, config) and _room_index(path) < config.rooms:
            todo.discard(_room_index(path))
        else:
            path.unlink()
    manifest.unlink(missing_ok=True)
    (out_dir / LEGACY_MANIFEST).unlink(missing_ok=True)
    return sorted(todo)


# --- running rooms ---------------------------------------------------------------------------

_progress_queue = None


def _native_threads() -> int | None:
    """Threads of this process as the OS counts them (Python's and native pools'); None off Linux."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


_THREADS_AT_IMPORT = _native_threads()


def worker_start_method() -> str:
    """``"fork"`` where forking this process is safe, else ``"spawn"``.

    A forked worker starts in milliseconds with every module already imported; a spawned one first
    spends ~2 s importing (benchmarks/pipeline_fps.py), on jobs of a few seconds 10-20 % of the run.
    Forking is safe while no native thread pool has started since this module was imported (a GL
    context's rasteriser threads, OpenMP, OpenCV or Open3D pools do not survive a fork and can hang
    the child): the OS thread count, less Python threads (which simply do not exist in the child),
    must not exceed the count at import, and no GL context may be open. Linux only.
    """
    if "fork" not in mp.get_all_start_methods() or not sys.platform.startswith("linux"):
        return "spawn"
    threads = _native_threads()
    if threads is None or _THREADS_AT_IMPORT is None:
        return "spawn"
    render_gl = sys.modules.get("synthcam.render_gl")
    if render_gl is not None and getattr(render_gl, "_context", None) is not None:
        return "spawn"
    return "fork" if threads - (threading.active_count() - 1) <= _THREADS_AT_IMPORT else "spawn"


def _init_worker(progress_queue, counter, cores: list[int], per_worker: int) -> None:
    """Pin this worker to its own block of ``per_worker`` cores and keep the progress queue."""
    global _progress_queue
    _progress_queue = progress_queue
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(_core_block(cores, slot, per_worker)))
    import cv2

    cv2.setNumThreads(1)


def _core_block(cores: list[int], slot: int, per_worker: int) -> list[int]:
    """The ``per_worker`` cores of worker ``slot`` (slot 0 is the calling process)."""
    return [cores[(slot * per_worker + k) % len(cores)] for k in range(per_worker)]


def _worker_task(config: GenerateConfig, room_index: int, out_dir: str, nthreads: int) -> str:
    return str(run_room(config, room_index, Path(out_dir), nthreads, on_frame=_progress_queue.put))


def available_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def auto_workers(config: GenerateConfig, fork: bool = False) -> int:
    """Worker processes for ``config``: one per core, at most one per room. Where workers must be
    spawned (~2 s of imports each) rather than forked, only for jobs of 200 frames or more."""
    if config.rooms * config.frames_per_room < 200 and not (fork and worker_start_method() == "fork"):
        return 1
    return max(1, min(len(available_cores()), config.rooms))


def generate_dataset(config: GenerateConfig, out_dir: Path, workers: int = 1,
                     on_frame: Callable[[int], None] | None = None, *, overwrite: bool = False,
                     ray_address: str | None = None, on_skip: Callable[[int], None] | None = None,
                     fork: bool = False) -> list[Path]:
    """Generate every room of ``config`` into ``out_dir``, resuming an interrupted run.

    workers : local processes (1 = in this process); ignored when ``ray_address`` is given.
    on_frame : called with a number of finished frames (also for the frames of kept shards).
    overwrite : delete the shards already in ``out_dir`` instead of resuming.
    ray_address : run each room as a Ray task: ``"auto"``, ``"host:port"``, ``"ray://host:port"`` or
        ``"local"`` (start a local cluster); an already initialised Ray session is used as is.
        ``out_dir`` must be a path every Ray node can write.
    on_skip : called once with the number of complete shards kept from an earlier run.
    fork : let local workers be forked (milliseconds) instead of spawned (~2 s of imports each) where
        :func:`worker_start_method` finds it safe. Only for a fresh process that has not run image
        work yet (the ``synthcam generate`` command): a thread pool that OpenCV or OpenMP started
        before this module was imported is invisible to that check and hangs a forked child.

    Complete shards of the same config are kept, partial ones redone; ``manifest.json`` is written
    last. The files are byte-identical to an uninterrupted run with any worker count or Ray.
    Returns the shard paths in room order.
    """
    config.validate()
    if workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    todo = rooms_to_generate(config, out_dir, overwrite)
    if on_skip is not None:
        on_skip(config.rooms - len(todo))
    if on_frame is not None and len(todo) < config.rooms:
        on_frame((config.rooms - len(todo)) * config.frames_per_room)
    cores = available_cores()
    workers = min(workers, max(len(todo), 1))
    if todo and ray_address is not None:
        _run_ray(config, out_dir, todo, ray_address, on_frame)
    elif todo and workers == 1:
        for i in todo:
            run_room(config, i, out_dir, len(cores), on_frame)
    elif todo:
        _run_pool(config, out_dir, todo, workers, cores, on_frame, fork)
    paths = [out_dir / shard_name(i) for i in range(config.rooms)]
    write_manifest(config, out_dir, paths)
    return paths


def _run_pool(config: GenerateConfig, out_dir: Path, todo: list[int], workers: int, cores: list[int],
              on_frame: Callable[[int], None] | None, fork: bool = False) -> None:
    """Run the rooms ``todo`` in ``workers`` processes: this one and ``workers - 1`` started ones.

    The others are forked when ``fork`` and where that is safe (:func:`worker_start_method`), else spawned (1.5-3.5 s
    of imports each, during which the calling process already works). Each started worker is handed
    one room at a time, so no room waits in a busy worker's queue while another process is idle at
    the end. Every process is pinned to its own block of cores (this one only for the duration of the
    call).
    """
    method = worker_start_method() if fork else "spawn"
    if method == "fork":
        _preload_for_fork(config)
    ctx = mp.get_context(method)
    progress, counter = ctx.Queue(), ctx.Value("i", 1)  # slot 0 is this process
    nthreads = max(1, len(cores) // workers)
    pin = cores if workers <= len(cores) else []
    remaining = list(todo)  # rooms nobody has started yet
    with ProcessPoolExecutor(workers - 1, mp_context=ctx, initializer=_init_worker,
                             initargs=(progress, counter, pin, nthreads)) as pool:
        pending: set = set()

        def poll() -> None:
            """Collect finished rooms and progress; keep every started worker busy with one room."""
            done = {fut for fut in pending if fut.done()}
            pending.difference_update(done)
            _drain(progress, on_frame)
            for fut in done:
                fut.result()  # re-raises a worker's error
            while remaining and len(pending) < workers - 1:
                pending.add(pool.submit(_worker_task, config, remaining.pop(0), str(out_dir), nthreads))

        def local_frame(n: int) -> None:
            if on_frame is not None:
                on_frame(n)
            poll()

        try:
            poll()  # start the other workers first
            with _pinned(_core_block(pin, 0, nthreads) if pin else []):
                while remaining:
                    run_room(config, remaining.pop(0), out_dir, nthreads, local_frame)
                    poll()
            while pending:
                wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                poll()
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    _drain(progress, on_frame)


def _preload_for_fork(config: GenerateConfig) -> None:
    """Import the libraries every room loads lazily (Open3D for the probe, PyOpenGL for the GL backends:
    ~0.85 s, no threads started), so that forked workers inherit them instead of importing them again."""
    from synthcam.render import import_open3d

    import_open3d()
    if config.renderer != "raycast":
        from synthcam.render_gl import import_gl

        try:
            import_gl()
        except SynthcamError:  # the room's own renderer set-up reports it
            pass


class _pinned:
    """Context manager: run the calling thread on ``cores`` with one OpenCV thread, then restore both."""

    def __init__(self, cores: list[int]):
        self.cores = set(cores)

    def __enter__(self) -> "_pinned":
        import cv2

        self._threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        self._affinity = os.sched_getaffinity(0) if self.cores and hasattr(os, "sched_setaffinity") else None
        if self._affinity is not None:
            os.sched_setaffinity(0, self.cores)
        return self

    def __exit__(self, *exc) -> None:
        import cv2

        cv2.setNumThreads(self._threads)
        if self._affinity is not None:
            os.sched_setaffinity(0, self._affinity)


def _drain(progress, on_frame: Callable[[int], None] | None) -> None:
    while True:
        try:
            n = progress.get_nowait()
        except queue.Empty:
            return
        if on_frame is not None:
            on_frame(n)


def _ray_task(config: GenerateConfig, room_index: int, out_dir: str) -> str:
    """The Ray task: one room, one core (Ray sets the task's CPU share)."""
    return str(run_room(config, room_index, Path(out_dir), nthreads=1))


def _connect_ray(address: str):
    """Import Ray and connect to ``address`` unless a session is already initialised; returns
    (ray module, whether this call started the session)."""
    try:
        import ray
    except ImportError:
        raise SynthcamError("--ray-address needs Ray; install it with 'pip install ray' or run without --ray-address") from None
    if ray.is_initialized():
        return ray, False
    if address not in ("auto", "local"):
        _probe_ray_address(address)  # Ray itself retries an unreachable address for minutes
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SynthcamError(f"cannot connect to the Ray cluster at {address!r} ({first}); start one with "
                            f"'ray start --head', or pass --ray-address local") from None
    return ray, True


def _probe_ray_address(address: str, timeout_s: float = 5.0) -> None:
    """Raise :class:`SynthcamError` unless ``[ray://]HOST:PORT`` accepts a TCP connection."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SynthcamError(f"--ray-address {address!r} is not auto, local, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise SynthcamError(f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
                            f"'ray start --head', or pass --ray-address local") from None


def _run_ray(config: GenerateConfig, out_dir: Path, todo: list[int], address: str,
             on_frame: Callable[[int], None] | None) -> None:
    ray, started = _connect_ray(address)
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_ray_task)
        pending = [task.remote(config, i, str(out_dir.resolve())) for i in todo]
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in done:
                ray.get(ref)  # re-raises a task's error (as its original type where Ray can)
                if on_frame is not None:
                    on_frame(config.frames_per_room)
    finally:
        if started:
            ray.shutdown()


# --- manifest --------------------------------------------------------------------------------


def write_manifest(config: GenerateConfig, out_dir: Path, paths: list[Path]) -> Path:
    """Write ``manifest.json`` atomically: config, format version, each shard's file, frame count and
    class40 pixel counts (41 ints by class id), and the totals. Reads the counts from the shards."""
    import h5py

    names = default_label_tables().class40_names
    shards, total = [], np.zeros(len(names), dtype=np.int64)
    for path in paths:
        with h5py.File(path, "r") as f:
            pixels = f["class40_pixels"][()].sum(axis=0)
            frames = int(f.attrs["frame_count"])
        total += pixels
        shards.append({"file": path.name, "frames": frames, "class40_pixels": pixels.tolist()})
    data = {
        "format": "synthcam-dataset",
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": config.to_dict(),
        "shards": shards,
        "frames": sum(s["frames"] for s in shards),
        "class40_names": list(names),
        "class40_pixels": total.tolist(),
    }
    out = Path(out_dir) / MANIFEST
    tmp = out.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, out)
    return out
