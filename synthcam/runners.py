"""Runners of the rooms still to generate: local worker processes (this process and started ones, one
room per task, each pinned to its own cores, dying with their parent) and Ray tasks. Both call
:func:`synthcam.room_shard.run_room`; local workers are capped at the usable cores (:func:`available_cores`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable

from synthcam_core.errors import SynthcamError
from synthcam.generate_config import GenerateConfig, shard_name
from synthcam.output_dir import PendingRooms
from synthcam.room_shard import run_room
from synthcam_shards.shard_file import TEMP_SUFFIX
from synthcam.write_failures import silence_failed_hdf5_closes

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
        os.sched_setaffinity(0, set(core_block(cores, slot, per_worker)))
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


def core_block(cores: list[int], slot: int, per_worker: int) -> list[int]:
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


def run_pool(config: GenerateConfig, out_dir: Path, todo: PendingRooms, workers: int, cores: list[int],
              on_frame: Callable[[int], None] | None, fork: bool = False) -> None:
    """Run the rooms ``todo`` in ``workers`` processes: this one and ``workers - 1`` started ones.

    The others are forked when ``fork`` and where that is safe (:func:`worker_start_method`), else spawned (1.5-3.5 s
    of imports each, during which the calling process already works). Each started worker is handed
    one room at a time, so no room waits in a busy worker's queue while another process is idle at
    the end. Every process is pinned to its own block of cores (this one only for the duration of the
    call). Started workers die with this process (:func:`die_with_parent`); if the call fails or is
    interrupted, they are killed at once and their unfinished temporary shards removed, with this process's own.
    """
    method = worker_start_method() if fork else "spawn"
    if method == "fork":
        preload_for_fork(config)
    ctx = mp.get_context(method)
    progress, counter = ctx.Queue(), ctx.Value("i", 1)  # slot 0 is this process
    nthreads = max(1, len(cores) // workers)
    pin = cores if workers <= len(cores) else []
    remaining = iter(todo)  # rooms nobody has started yet
    pool = ProcessPoolExecutor(workers - 1, mp_context=ctx, initializer=_init_worker,
                               initargs=(progress, counter, pin, nthreads, os.getpid()))
    pending: dict = {}  # future -> room index
    local: list[int] = []  # the room this process is working on, if any

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
        with _pinned(core_block(pin, 0, nthreads) if pin else []):
            for room in remaining:
                local[:] = [room]
                run_room(config, room, out_dir, nthreads, local_frame)
                local.clear()
                poll()
        while pending:
            wait(list(pending), timeout=0.1, return_when=FIRST_COMPLETED)
            poll()
    except BaseException:
        _stop_pool(pool)
        for room in [*pending.values(), *local]:  # unfinished shards of the killed workers and of this process
            (out_dir / (shard_name(room) + TEMP_SUFFIX)).unlink(missing_ok=True)  # (this run holds the lock)
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


def preload_for_fork(config: GenerateConfig) -> None:
    """Import the libraries every room loads lazily (Open3D for the probe, PyOpenGL for the GL backends:
    ~0.85 s, no threads started), so that forked workers inherit them instead of importing them again."""
    from synthcam.open3d_import import import_open3d

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
    form = f"--ray-address {address!r} is not auto, local, HOST:PORT or ray://HOST:PORT"
    if not sep or not host:
        raise SynthcamError(form)
    if not (port.isdecimal() and len(port) <= 5 and 0 < int(port) < 65536):
        raise SynthcamError(f"{form} (PORT is 1 to 65535)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except ValueError:  # UnicodeError included: a host name with an empty or too long part
        raise SynthcamError(f"{form} ({host!r} is not a host name)") from None
    except OSError as exc:
        raise SynthcamError(f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
                            f"'ray start --head', or pass --ray-address local") from None


def run_ray(config: GenerateConfig, out_dir: Path, todo: PendingRooms, address: str,
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
