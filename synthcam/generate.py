"""The generation driver: rooms -> trajectories -> rendered, noisy frames -> one shard per room.

A dataset is a function of its :class:`GenerateConfig` alone: room ``i`` draws every random number
from ``SeedSequence(seed, spawn_key=(i,))``, so the bytes of its shard do not depend on the number
of workers, the order in which rooms finish, or whether the run was interrupted and resumed.

Rooms run serially, in local worker processes (this process and started ones, one room per task, each
pinned to its cores) or as Ray tasks (``ray_address``); all three call :func:`generate_room_shard`. ``manifest.json`` is written
last, so its presence means the dataset is complete.

An output directory belongs to one run at a time: :func:`generate_dataset` holds an exclusive lock on it
(:func:`output_lock`, the file ``.synthcam.lock``) for the whole run, workers included. Under that lock
it removes only what this tool provably wrote: its own temporary names (``room_NNNNN.h5.synthcam-partial``,
``manifest.json.synthcam-partial``), its own ``manifest.json``, and shards whose header says they are
synthcam shards. Any other file under a name the run needs (a ``room_00003.h5`` that is not a synthcam
shard, a directory called ``manifest.json``) stops the run with one line saying what to move away.

Limits (checked before any work, see :meth:`GenerateConfig.validate`): :data:`MAX_ROOMS`,
:data:`MAX_FRAMES_PER_ROOM`, :data:`MAX_SEED`, the image size of :func:`synthcam.camera.check_resolution`;
local workers are capped at the usable cores.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import multiprocessing as mp
import os
import queue
import re
import signal
import stat
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

import noise_models
from scene_library import ROOM_TYPES, Scene, build_scene, generate_room, load_description
from synthcam import __version__
from synthcam.camera import Intrinsics, check_resolution
from synthcam.errors import SynthcamError
from synthcam.render import RENDERERS, Renderer, make_renderer
from synthcam.shards import FORMAT_NAME, FORMAT_VERSION, MANIFEST, SHARD_SUFFIX, TEMP_SUFFIX, ShardWriter, default_label_tables
from synthcam.trajectory import Trajectory, sample_trajectory

LEGACY_MANIFEST = "dataset.json"
"""The manifest of format v0 datasets; a directory holding one is an older-format dataset."""
DATASET_FORMAT = "synthcam-dataset"
"""The ``format`` field of ``manifest.json``: how this tool recognises a manifest it wrote."""
LOCK_NAME = ".synthcam.lock"
"""The lock file of an output directory (holds the pid of the run that owns the directory)."""
MANIFEST_TEMP = MANIFEST + TEMP_SUFFIX
"""The temporary name ``manifest.json`` is written under (created exclusively) before it is renamed."""

MAX_ROOMS = 100_000
"""Most rooms (one shard each) in one dataset. ``manifest.json`` lists every shard with its class pixel
counts and readers load it whole (at most 64 MiB); 100,000 rooms is six times SceneNet RGB-D's 16,895
trajectories."""
MAX_FRAMES_PER_ROOM = 100_000
"""Most frames along one room's trajectory (one shard): what a shard may hold; a shard keeps its poses,
checksums and class counts in memory while it is written."""
MAX_SEED = 2**63 - 1
"""Largest master seed: every shard stores it as a signed 64-bit integer."""
MAX_MANIFEST_READ = 256 << 20
"""A ``manifest.json`` larger than this (bytes) is not one this tool wrote; it is not read."""
MAX_HEADER_ATTR_BYTES = 1 << 20
"""Largest root attribute (bytes) read from a file to tell whether it is one of this run's shards."""
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
"""Write errors that mean the output has no room left (no space, file size limit, quota)."""


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset.

    rooms, frames_per_room : counts, 1 .. :data:`MAX_ROOMS` and 1 .. :data:`MAX_FRAMES_PER_ROOM`.
    seed : master seed, 0 .. :data:`MAX_SEED`.
    width, height : image size in pixels (the NYUv2 camera scaled to it), see :func:`~synthcam.camera.check_resolution`.
    noise, noise_params : a :mod:`noise_models` preset and ``"stage.field" -> value`` overrides (finite numbers).
    renderer : a backend name from :data:`synthcam.render.RENDERERS`.
    room_types : room types to draw from (all, with NYUv2-like weights, when empty).
    scene : path of a scene description to render in every room instead of generated rooms ("" = none).
    inputs : ``{absolute path: sha256 hex}`` of every input file (the scene description and the files it
        references), filled in by :meth:`with_inputs`; part of the config, so a resumed run never mixes
        shards made from different inputs.
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
    inputs: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`SynthcamError` (or a noise/scene error) naming the first bad field; touches no output."""
        _check_count("rooms", self.rooms, MAX_ROOMS)
        _check_count("frames-per-room", self.frames_per_room, MAX_FRAMES_PER_ROOM)
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise SynthcamError(f"seed must be an integer from 0 to {MAX_SEED} (2**63 - 1), got {self.seed}")
        if not (_is_int(self.width) and _is_int(self.height)):
            raise SynthcamError(f"resolution must be whole pixels, got {self.width}x{self.height}")
        check_resolution(self.width, self.height)
        if self.renderer not in RENDERERS:
            raise SynthcamError(f"unknown renderer {self.renderer!r}; valid renderers: {', '.join(RENDERERS)}")
        for t in self.room_types:
            if t not in ROOM_TYPES:
                raise SynthcamError(f"unknown room type {t!r}; valid types: {', '.join(ROOM_TYPES)}")
        noise_models.make(self.noise, self.noise_params)
        if self.scene:
            build_scene(load_description(Path(self.scene)))  # a bad description fails before any work

    def with_inputs(self) -> "GenerateConfig":
        """This config with :attr:`inputs` hashed from the files as they are now (``{}`` without a scene)."""
        return dataclasses.replace(self, inputs=input_hashes(self.scene) if self.scene else {})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["room_types"] = list(self.room_types)
        return d

    @property
    def intrinsics(self) -> Intrinsics:
        return Intrinsics.nyuv2().scaled(self.width, self.height)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(name: str, value, largest: int) -> None:
    """Raise :class:`SynthcamError` unless ``value`` is an integer in 1 .. ``largest``."""
    if not _is_int(value) or value < 1:
        raise SynthcamError(f"{name} must be at least 1, got {value}")
    if value > largest:
        raise SynthcamError(f"{name} is {value}; at most {largest:,} per dataset is supported, "
                            f"split the work into several datasets (--out directories)")


def input_files(scene: str | Path) -> list[Path]:
    """The input files of a scene description: the description itself, then the mesh and label-map file of
    every ``imported`` object (``params.path``, ``params.label_map``), each once, in order."""
    description = load_description(Path(scene))
    files = [Path(scene)]
    for obj in description.get("objects", []) if isinstance(description, dict) else []:
        params = obj.get("params") if isinstance(obj, dict) and obj.get("kind") == "imported" else None
        for key in ("path", "label_map"):
            value = params.get(key) if isinstance(params, dict) else None
            if isinstance(value, str) and value:
                files.append(Path(value))
    return list(dict.fromkeys(files))


def input_hashes(scene: str | Path) -> dict[str, str]:
    """``{absolute path: sha256 hex digest}`` of every file of :func:`input_files`."""
    hashes = {}
    for path in input_files(scene):
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise SynthcamError(f"cannot read {path}, an input of --scene {scene} ({exc.strerror}); "
                                f"check the path and its permissions") from None
        hashes[str(path.resolve())] = digest.hexdigest()
    return hashes


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
            if config.inputs and input_hashes(config.scene) != config.inputs:
                raise SynthcamError(f"--scene {config.scene} or a file it references changed while the dataset was being "
                                    f"generated; keep the inputs unchanged and run 'synthcam generate' again")
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
    writer = None
    try:
        with ShardWriter(path, len(trajectory), config.intrinsics, attrs, plan.scene.describe(),
                         default_label_tables()) as writer:
            for i, pose in enumerate(trajectory.poses):
                frame = plan.renderer.render(pose, normals=noise.needs_normals, incidence=noise.needs_incidence)
                noisy = noise(frame, noise_rng)
                writer.write(i, noisy, frame.depth, frame.class40, frame.instance, pose, float(trajectory.timestamps[i]),
                             trajectory_id=room_index)
                if on_frame is not None:
                    on_frame(1)
            return writer.close()
    except (OSError, RuntimeError) as exc:
        code = write_errno(exc)
        if code is None:
            raise
        if writer is not None:
            _FAILED_WRITERS.append(writer)  # never closed again: see _FAILED_WRITERS
        raise output_error(path, code) from None


class OutputFullError(SynthcamError):
    """The output has no room left (no space, a file size limit or a quota): nothing half-written was kept."""


_FAILED_WRITERS: list = []
"""Shard writers whose HDF5 file failed to write. HDF5 cannot close such a file: it crashes (SIGSEGV) when
it tries again, which it does when Python frees the writer or when the process exits normally. They are
kept here, never freed, and a process that holds any should end with ``os._exit`` (see
:func:`hdf5_write_failed`); their temporary files are already unlinked."""


def hdf5_write_failed() -> bool:
    """True once a shard write failed in this process (disk full): end the process with ``os._exit`` then,
    since a normal exit runs HDF5's clean-up, which crashes on the failed file."""
    return bool(_FAILED_WRITERS)


def silence_failed_hdf5_closes() -> Callable[[], None]:
    """Drop the reports h5py prints when it frees an HDF5 object of a file that failed to write (one
    traceback per open dataset, through ``sys.excepthook`` and ``sys.unraisablehook``, after every
    failed write, which is reported once as a :class:`SynthcamError`); every other report goes to the
    previous hooks. Returns a function that restores them. For processes this tool owns: the
    ``synthcam generate`` command and its workers (a library call leaves process-wide hooks alone)."""
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook

    def unraisable_hook(unraisable) -> None:
        if not (_failed_hdf5_close(unraisable.exc_value) and "h5py" in repr(unraisable.object)):
            previous_unraisable(unraisable)

    def except_hook(exc_type, exc, tb) -> None:
        frames, step = [], tb
        while step is not None:
            frames.append(step.tb_frame.f_code.co_filename)
            step = step.tb_next
        if not (_failed_hdf5_close(exc) and frames and all("h5py" in name for name in frames)):
            previous_except(exc_type, exc, tb)

    sys.unraisablehook, sys.excepthook = unraisable_hook, except_hook

    def restore() -> None:
        sys.unraisablehook, sys.excepthook = previous_unraisable, previous_except

    return restore


def _failed_hdf5_close(exc: BaseException | None) -> bool:
    return isinstance(exc, (RuntimeError, OSError)) and write_errno(exc) is not None


_ERRNO_IN_TEXT = re.compile(r"errno = (\d+)")


def write_errno(exc: BaseException) -> int | None:
    """The errno of a failed write: of ``exc`` or an exception it chains to; HDF5 errors carry it in their
    text (``errno = 28``). None when there is none (not an I/O error)."""
    seen = 0
    while exc is not None and seen < 8:
        code = getattr(exc, "errno", None)
        if isinstance(code, int) and code > 0:
            return code
        match = _ERRNO_IN_TEXT.search(str(exc))
        if match:
            return int(match.group(1))
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def output_error(path: Path, code: int) -> SynthcamError:
    """The one-line error for a failed write of ``path`` with ``errno`` ``code``."""
    reason = os.strerror(code)
    if code in DISK_FULL_ERRNOS:
        return OutputFullError(f"cannot write {path.name} in {path.parent} ({reason}): the output is full; "
                               f"free space (or raise the limit) and rerun 'synthcam generate' to resume, "
                               f"or choose another --out (nothing half-written was kept)")
    return SynthcamError(f"cannot write {path.name} in {path.parent} ({reason}); check the --out directory "
                         f"and rerun 'synthcam generate' to resume")


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
    """Create ``out_dir`` if needed and check that files can be created in it; removes nothing.

    Raises :class:`SynthcamError` (one line naming the directory) if it cannot be created or written.
    """
    import tempfile

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # an unnamed (or uniquely named, exclusive) file
            pass
    except OSError as exc:
        raise SynthcamError(f"cannot write to output directory {out_dir} ({exc.strerror}); choose a writable --out") from None
    return out_dir


# --- the output lock -------------------------------------------------------------------------

_LOCKED: set[str] = set()
"""Output directories (resolved paths) this process holds the lock of."""


@contextmanager
def output_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``out_dir`` (created if needed) for the ``with`` block; yields the directory.

    The lock is ``fcntl.flock`` on ``out_dir/.synthcam.lock``, opened without following a symbolic link,
    with this process's pid written in it; forked workers share it and the kernel drops it when the last
    holder dies, so a killed run never leaves a stale lock. The file is removed on release. Raises
    :class:`SynthcamError` naming the holder's pid if another run holds the lock, and one line if the
    directory cannot be created or the lock file is a link or not a regular file.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"cannot write to output directory {out_dir} ({exc.strerror}); choose a writable --out") from None
    path = out_dir / LOCK_NAME
    fd = _acquire_lock(path)
    key = str(out_dir.resolve())
    _LOCKED.add(key)
    try:
        yield out_dir
    finally:
        _LOCKED.discard(key)
        _release_lock(fd, path)


def _acquire_lock(path: Path, tries: int = 20) -> int:
    """Open, lock and stamp the lock file ``path``; returns its descriptor (see :func:`output_lock`)."""
    import fcntl

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    for _ in range(tries):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise _lock_file_error(path, exc) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SynthcamError(f"{path} is not a regular file, so it cannot be synthcam's lock; move it away "
                                    f"or choose another --out")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SynthcamError(f"{path.parent} is in use by another 'synthcam generate' (pid {_lock_holder(fd)}); "
                                    f"wait for it to finish, or choose another --out") from None
            except OSError as exc:
                raise SynthcamError(f"cannot lock {path} ({exc.strerror}); use an --out on a local file system") from None
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
                os.close(fd)  # the previous holder removed this file as we opened it: lock the new one
                continue
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:
                raise output_error(path, exc.errno or errno.EIO) from None
            return fd
        except BaseException:
            os.close(fd)
            raise
    raise SynthcamError(f"cannot take the lock {path}: it keeps being replaced; stop the other runs on this --out")


def _lock_file_error(path: Path, exc: OSError) -> SynthcamError:
    if exc.errno == errno.ELOOP:
        return SynthcamError(f"{path} is a symbolic link; synthcam never writes through links in --out: remove it "
                             f"or choose another --out")
    if exc.errno == errno.EISDIR:
        return SynthcamError(f"{path} is a directory, so it cannot be synthcam's lock; move it away or choose another --out")
    return SynthcamError(f"cannot write to output directory {path.parent} ({exc.strerror}); choose a writable --out")


def _lock_holder(fd: int, wait_s: float = 1.0) -> str:
    """The pid written in a lock file held by another process ("unknown" if it writes none in ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)


def _release_lock(fd: int, path: Path) -> None:
    """Remove the lock file (if it is still the one locked) and close it, which releases the lock."""
    try:
        info, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- resume ----------------------------------------------------------------------------------


def _config_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def _mismatch(out_dir: Path, found: dict, config: GenerateConfig, where: str) -> SynthcamError:
    want = config.to_dict()
    keys = sorted(k for k in set(found) | set(want) if _config_json(found.get(k)) != _config_json(want.get(k)))
    shown = [f"{k} {found.get(k)!r} vs {want.get(k)!r}" if k != "inputs" else
             "inputs (--scene or a file it references has other content)" for k in keys[:3]]
    diff = ", ".join(shown) or "format"
    return SynthcamError(f"{out_dir} already holds a dataset with a different config ({where}: {diff}); "
                         f"use a new --out, or --overwrite to replace it")


def _room_index(name: str) -> int | None:
    """The room index of a shard file name this tool writes (``room_00007.h5`` -> 7), else None."""
    digits = name[len("room_"): -len(SHARD_SUFFIX)]
    if not (name.startswith("room_") and name.endswith(SHARD_SUFFIX) and digits.isdigit() and digits.isascii()):
        return None
    index = int(digits)
    return index if shard_name(index) == name else None


@dataclass(frozen=True)
class _Found:
    """What a file under a shard name is: ``kind`` is "foreign" (not provably a synthcam shard: never
    touched), "format" (a synthcam shard of another format version), "config" (of another config),
    "broken" (of this config but incomplete or misnamed: the tool's own, redone) or "same"."""

    kind: str
    why: str = ""
    config: dict | None = None


def _small_attr(f, name: str):
    """Root attribute ``name`` of an open HDF5 file, or None if absent or larger than MAX_HEADER_ATTR_BYTES."""
    if name not in f.attrs:
        return None
    if f.attrs.get_id(name).get_storage_size() > MAX_HEADER_ATTR_BYTES:
        return None
    value = f.attrs[name]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _inspect_shard(path: Path, config: GenerateConfig, index: int) -> _Found:
    """Classify the file at shard name ``path`` (room ``index``) from its header (see :class:`_Found`)."""
    import h5py

    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError as exc:
        return _Found("foreign", f"cannot be read ({exc.strerror})")
    if stat.S_ISLNK(info.st_mode):
        return _Found("foreign", "is a symbolic link")
    if stat.S_ISDIR(info.st_mode):
        return _Found("foreign", "is a directory")
    if not stat.S_ISREG(info.st_mode):
        return _Found("foreign", "is not a regular file")
    try:
        with h5py.File(path, "r") as f:
            fmt, version = _small_attr(f, "format"), _small_attr(f, "format_version")
            text, frames, room = _small_attr(f, "config"), _small_attr(f, "frame_count"), _small_attr(f, "room_index")
    except Exception:  # noqa: BLE001  (any failure to read a header: not provably ours)
        return _Found("foreign", "is not a readable HDF5 file")
    if fmt != FORMAT_NAME:
        return _Found("foreign", "is an HDF5 file but not a synthcam shard")
    if not _is_int(version) or int(version) != FORMAT_VERSION:
        return _Found("format", f"shard format version {version}")
    try:
        found = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return _Found("broken", "has no readable config")
    if _config_json(found) != _config_json(config.to_dict()):
        return _Found("config", config=found)
    if frames != config.frames_per_room or room != index:
        return _Found("broken", "is incomplete or under another room's name")
    return _Found("same")


def _read_own_json(path: Path, is_ours: Callable[[object], bool]) -> tuple[str, object]:
    """("absent" | "ours" | "foreign: <why>", parsed) for a JSON file this tool may have written."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return "absent", None
    except OSError as exc:
        return f"foreign: cannot be read ({exc.strerror})", None
    if stat.S_ISDIR(info.st_mode):
        return "foreign: is a directory", None
    if not stat.S_ISREG(info.st_mode):
        return "foreign: is not a regular file", None
    if info.st_size > MAX_MANIFEST_READ:
        return "foreign: is too large to be a synthcam manifest", None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(MAX_MANIFEST_READ + 1))
    except (OSError, ValueError, RecursionError):
        return "foreign: is not a synthcam manifest", None
    return ("ours", data) if is_ours(data) else ("foreign: is not a synthcam manifest", None)


def _refuse(out_dir: Path, name: str, why: str) -> SynthcamError:
    return SynthcamError(f"{out_dir / name} {why}, so synthcam will not replace it (it removes only files it wrote); "
                         f"move it away, or choose another --out")


@dataclass(frozen=True)
class PendingRooms:
    """The rooms still to generate: every index in ``range(rooms)`` except ``kept``, in order (iterated
    lazily, so a large dataset costs no memory up front)."""

    rooms: int
    kept: frozenset

    def __iter__(self) -> Iterator[int]:
        return (i for i in range(self.rooms) if i not in self.kept)

    def __len__(self) -> int:
        return self.rooms - len(self.kept)


def rooms_to_generate(config: GenerateConfig, out_dir: Path, overwrite: bool = False,
                      on_notice: Callable[[str], None] | None = None) -> PendingRooms:
    """Prepare ``out_dir`` for ``config`` and return the rooms whose shards must be (re)made.

    Call while holding :func:`output_lock` of ``out_dir``. Keeps the complete shards of the same config
    whose checksums all verify; removes (only what this tool wrote) its temporary files, its manifest
    (rewritten at the end), its shards of this config that are damaged (each reported through
    ``on_notice``), and, with ``overwrite``, every synthcam shard under a room name and an older-format
    ``dataset.json``. Raises :class:`SynthcamError` before removing anything if a file under a name the
    run needs is not provably synthcam's (never removed or replaced), if the directory holds another
    config's or an older format's dataset (unless ``overwrite``).
    """
    out_dir = Path(out_dir)
    if str(out_dir.resolve()) not in _LOCKED:
        raise RuntimeError("rooms_to_generate needs the output lock; call it inside output_lock(out_dir)")
    want = config.to_dict()
    manifest_state, manifest = _read_own_json(out_dir / MANIFEST, lambda d: isinstance(d, dict) and d.get("format") == DATASET_FORMAT)
    if manifest_state.startswith("foreign"):
        raise _refuse(out_dir, MANIFEST, manifest_state.split(": ", 1)[1])
    legacy_state, _ = _read_own_json(out_dir / LEGACY_MANIFEST,
                                     lambda d: isinstance(d, dict) and {"config", "shards", "package_version"} <= set(d))
    temps, shards = [], {}
    with os.scandir(out_dir) as entries:
        for entry in entries:
            name = entry.name
            if name == MANIFEST_TEMP or (name.endswith(TEMP_SUFFIX) and _room_index(name[: -len(TEMP_SUFFIX)]) is not None):
                if entry.is_dir(follow_symlinks=False):
                    raise _refuse(out_dir, name, "is a directory")
                temps.append(out_dir / name)
            elif _room_index(name) is not None:
                shards[_room_index(name)] = _inspect_shard(out_dir / name, config, _room_index(name))
    for index, found in sorted(shards.items()):
        if found.kind == "foreign":
            raise _refuse(out_dir, shard_name(index), found.why)
    if not overwrite:
        if manifest_state == "ours" and manifest.get("format_version") != FORMAT_VERSION:
            raise _older(out_dir, f"{MANIFEST}: format version {manifest.get('format_version')}")
        if manifest_state == "ours" and _config_json(manifest.get("config")) != _config_json(want):
            found = manifest.get("config")
            raise _mismatch(out_dir, found if isinstance(found, dict) else {}, config, MANIFEST)
        if legacy_state == "ours":
            raise _older(out_dir, f"{LEGACY_MANIFEST}: format version 0")
        for index, found in sorted(shards.items()):
            if found.kind == "format":
                raise _older(out_dir, f"{shard_name(index)}: {found.why}")
            if found.kind == "config":
                raise _mismatch(out_dir, found.config, config, shard_name(index))
    for path in temps:
        path.unlink(missing_ok=True)
    if manifest_state == "ours":
        (out_dir / MANIFEST).unlink(missing_ok=True)
    if legacy_state == "ours":
        (out_dir / LEGACY_MANIFEST).unlink(missing_ok=True)
    kept = set()
    for index, found in sorted(shards.items()):
        path = out_dir / shard_name(index)
        if found.kind == "same" and not overwrite and index < config.rooms:
            problem = _shard_problem(path, config)
            if problem is None:
                kept.add(index)
                continue
            if on_notice is not None:
                on_notice(f"{path.name} is damaged ({problem}); generating it again")
        elif found.kind == "broken" and index < config.rooms and on_notice is not None:
            on_notice(f"{path.name} {found.why}; generating it again")
        path.unlink(missing_ok=True)
    return PendingRooms(config.rooms, frozenset(kept))


def _older(out_dir: Path, where: str) -> SynthcamError:
    return SynthcamError(f"{out_dir} holds a dataset of an older synthcam format ({where}; this synthcam writes "
                         f"version {FORMAT_VERSION}); pass --overwrite to replace it, or choose another --out")


def _shard_problem(path: Path, config: GenerateConfig) -> str | None:
    """The first problem of a complete-looking shard of this config, by a full check of every checksum."""
    from synthcam.validate import validate_shard

    _, problem = validate_shard(path, expected_frames=config.frames_per_room)
    return problem


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


def _init_worker(progress_queue, counter, cores: list[int], per_worker: int, parent_pid: int) -> None:
    """Tie this worker's life to its parent's (:func:`die_with_parent`), pin it to its own block of
    ``per_worker`` cores and keep the progress queue."""
    global _progress_queue
    die_with_parent(parent_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker may inherit the CLI's handler
    silence_failed_hdf5_closes()  # a worker's failed write is reported by the parent, in one line
    _progress_queue = progress_queue
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(_core_block(cores, slot, per_worker)))
    import cv2

    cv2.setNumThreads(1)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process (SIGKILL) when its parent dies, and exit now if it already has.

    Linux ``prctl(PR_SET_PDEATHSIG)`` (through libc); then ``os.getppid()`` is compared with
    ``parent_pid`` to close the window in which the parent died before the call. A worker therefore
    never outlives the run that started it (killed with SIGKILL or SIGTERM), and never writes into an
    output directory whose lock is gone. Elsewhere only the second check applies.
    """
    import ctypes

    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


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
                     fork: bool = False, on_notice: Callable[[str], None] | None = None) -> list[Path]:
    """Generate every room of ``config`` into ``out_dir``, resuming an interrupted run.

    workers : local processes (1 = in this process), at most the usable cores (more are capped, as the
        bytes do not depend on it); ignored when ``ray_address`` is given.
    on_frame : called with a number of finished frames (also for the frames of kept shards).
    overwrite : delete the synthcam shards already in ``out_dir`` instead of resuming (files that are not
        synthcam's are never deleted: the run stops instead).
    ray_address : run each room as a Ray task: ``"auto"``, ``"host:port"``, ``"ray://host:port"`` or
        ``"local"`` (start a local cluster); an already initialised Ray session is used as is.
        ``out_dir`` must be a path every Ray node can write.
    on_skip : called once with the number of complete shards kept from an earlier run.
    fork : let local workers be forked (milliseconds) instead of spawned (~2 s of imports each) where
        :func:`worker_start_method` finds it safe. Only for a fresh process that has not run image
        work yet (the ``synthcam generate`` command): a thread pool that OpenCV or OpenMP started
        before this module was imported is invisible to that check and hangs a forked child.
    on_notice : called with a one-line message for each damaged shard of an earlier run that is redone.

    The whole run holds :func:`output_lock` of ``out_dir``. Complete shards of the same config (input
    file hashes included) whose checksums verify are kept, partial and damaged ones redone;
    ``manifest.json`` is written last. The files are byte-identical to an uninterrupted run with any
    worker count or Ray. Returns the shard paths in room order. Raises :class:`SynthcamError` for bad
    input (one line), :class:`OutputFullError` when the output fills up (nothing half-written is left).
    """
    config.validate()
    if not _is_int(workers) or workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    config = config.with_inputs()
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        todo = rooms_to_generate(config, out_dir, overwrite, on_notice)
        if on_skip is not None:
            on_skip(config.rooms - len(todo))
        if on_frame is not None and len(todo) < config.rooms:
            on_frame((config.rooms - len(todo)) * config.frames_per_room)
        cores = available_cores()
        workers = min(workers, max(len(todo), 1), len(cores))
        if len(todo) and ray_address is not None:
            _run_ray(config, out_dir, todo, ray_address, on_frame)
        elif len(todo) and workers == 1:
            for i in todo:
                run_room(config, i, out_dir, len(cores), on_frame)
        elif len(todo):
            _run_pool(config, out_dir, todo, workers, cores, on_frame, fork)
        paths = [out_dir / shard_name(i) for i in range(config.rooms)]
        write_manifest(config, out_dir, paths)
    return paths


def _run_pool(config: GenerateConfig, out_dir: Path, todo: PendingRooms, workers: int, cores: list[int],
              on_frame: Callable[[int], None] | None, fork: bool = False) -> None:
    """Run the rooms ``todo`` in ``workers`` processes: this one and ``workers - 1`` started ones.

    The others are forked when ``fork`` and where that is safe (:func:`worker_start_method`), else spawned (1.5-3.5 s
    of imports each, during which the calling process already works). Each started worker is handed
    one room at a time, so no room waits in a busy worker's queue while another process is idle at
    the end. Every process is pinned to its own block of cores (this one only for the duration of the
    call). Started workers die with this process (:func:`die_with_parent`); if the call fails or is
    interrupted, they are killed at once and their unfinished temporary shards removed.
    """
    method = worker_start_method() if fork else "spawn"
    if method == "fork":
        _preload_for_fork(config)
    ctx = mp.get_context(method)
    progress, counter = ctx.Queue(), ctx.Value("i", 1)  # slot 0 is this process
    nthreads = max(1, len(cores) // workers)
    pin = cores if workers <= len(cores) else []
    remaining = iter(todo)  # rooms nobody has started yet
    pool = ProcessPoolExecutor(workers - 1, mp_context=ctx, initializer=_init_worker,
                               initargs=(progress, counter, pin, nthreads, os.getpid()))
    pending: dict = {}  # future -> room index

    def poll() -> None:
        """Collect finished rooms and progress; keep every started worker busy with one room."""
        done = [fut for fut in pending if fut.done()]
        _drain(progress, on_frame)
        for fut in done:
            pending.pop(fut)
            fut.result()  # re-raises a worker's error
        while len(pending) < workers - 1:
            room = next(remaining, None)
            if room is None:
                break
            pending[pool.submit(_worker_task, config, room, str(out_dir), nthreads)] = room

    def local_frame(n: int) -> None:
        if on_frame is not None:
            on_frame(n)
        poll()

    try:
        poll()  # start the other workers first
        with _pinned(_core_block(pin, 0, nthreads) if pin else []):
            for room in remaining:
                run_room(config, room, out_dir, nthreads, local_frame)
                poll()
        while pending:
            wait(list(pending), timeout=0.1, return_when=FIRST_COMPLETED)
            poll()
    except BaseException:
        _stop_pool(pool)
        for room in pending.values():  # the killed workers' unfinished shards (this run holds the lock)
            (out_dir / (shard_name(room) + TEMP_SUFFIX)).unlink(missing_ok=True)
        raise
    pool.shutdown(wait=True)
    _drain(progress, on_frame)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes now (their rooms are abandoned) and shut the pool down."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # the executor keeps no public list
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass
    for process in processes:
        try:
            process.join(5)
        except (OSError, ValueError, AssertionError):
            pass
    pool.shutdown(wait=True, cancel_futures=True)


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


def _run_ray(config: GenerateConfig, out_dir: Path, todo: PendingRooms, address: str,
             on_frame: Callable[[int], None] | None) -> None:
    """Run the rooms ``todo`` as Ray tasks, keeping at most twice the cluster's CPUs in flight."""
    ray, started = _connect_ray(address)
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_ray_task)
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        remaining, pending = iter(todo), []
        while True:
            while len(pending) < window:
                room = next(remaining, None)
                if room is None:
                    break
                pending.append(task.remote(config, room, str(out_dir.resolve())))
            if not pending:
                break
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
    """Write ``manifest.json``: config, format version, each shard's file, frame count and class40 pixel
    counts (41 ints by class id), and the totals. Reads the counts from the shards.

    The text goes to ``manifest.json.synthcam-partial``, created exclusively and never through a link,
    and is renamed into place once complete; on a failed write (disk full) the temporary file is removed
    and :class:`SynthcamError` raised, so there is either a whole manifest or none. One line per shard.
    """
    import h5py

    names = default_label_tables().class40_names
    pixels = np.zeros((len(paths), len(names)), dtype=np.int64)
    frames = np.zeros(len(paths), dtype=np.int64)
    for k, path in enumerate(paths):
        with h5py.File(path, "r") as f:
            pixels[k] = f["class40_pixels"][()].sum(axis=0)
            frames[k] = int(f.attrs["frame_count"])
    head = {
        "class40_names": list(names),
        "class40_pixels": pixels.sum(axis=0).tolist(),
        "config": config.to_dict(),
        "format": DATASET_FORMAT,
        "format_version": FORMAT_VERSION,
        "frames": int(frames.sum()),
        "package_version": __version__,
    }

    def chunks() -> Iterator[str]:
        yield "{\n"
        for key, value in head.items():
            yield f" {json.dumps(key)}: {json.dumps(value, sort_keys=True, allow_nan=False)},\n"
        yield ' "shards": [\n'
        for k, path in enumerate(paths):
            entry = {"class40_pixels": pixels[k].tolist(), "file": path.name, "frames": int(frames[k])}
            yield f"  {json.dumps(entry, sort_keys=True)}{',' if k + 1 < len(paths) else ''}\n"
        yield " ]\n}\n"

    out = Path(out_dir) / MANIFEST
    temp = out.with_name(MANIFEST_TEMP)
    _write_new_file(temp, chunks())
    try:
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise _refuse(Path(out_dir), MANIFEST, "is a directory") from None
        raise output_error(out, exc.errno or errno.EIO) from None
    return out


def _write_new_file(path: Path, chunks: Iterator[str]) -> None:
    """Create ``path`` exclusively (never through a link) and write ``chunks`` to it, flushed to disk.
    On any failure the file is removed and :class:`SynthcamError` (or the interrupt) raised."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise _refuse(path.parent, path.name, "already exists and is not this run's") from None
        raise output_error(path, exc.errno or errno.EIO) from None
    try:
        buffer = []
        for piece in chunks:
            buffer.append(piece)
            if len(buffer) >= 4096:
                _write_all(fd, "".join(buffer).encode())
                buffer = []
        _write_all(fd, "".join(buffer).encode())
        os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise output_error(path, exc.errno or errno.EIO) from None
        raise
    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
