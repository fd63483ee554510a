"""Runners of the rooms still to generate: local worker processes (this process and started ones, one
room per task, each pinned to its own cores, dying with their parent) and Ray tasks. Both call
:func:`synthcam.room_shard.run_room`; local workers are capped at the usable cores
(:func:`synthcam.worker_processes.available_cores`).

Process-wide settings (glibc's ``mallopt``, OpenCV's thread count, CPU affinity, environment variables) are
changed only in the worker processes started here, never in the calling process: an application that wants
them in its own process opts in (:func:`synthcam.room_shard.keep_large_buffers_in_heap`).
"""

from __future__ import annotations

import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from synthcam.generate_config import GenerateConfig, shard_name
from synthcam.output_dir import PendingRooms
from synthcam.room_shard import keep_large_buffers_in_heap, run_room
from synthcam.worker_processes import die_with_parent, needs_gl, worker_context
from synthcam.write_failures import silence_failed_hdf5_closes
from synthcam_core.errors import SynthcamError
from synthcam_core.extras import require
from synthcam_shards.shard_file import TEMP_SUFFIX

# --- running rooms ---------------------------------------------------------------------------

_progress_queue = None


def _init_worker(progress_queue, counter, cores: list[int], per_worker: int, caller_pid: int) -> None:
    """In a started worker: tie its life to the caller's (:func:`die_with_parent`), pin it to its own block
    of ``per_worker`` cores with one OpenCV thread, keep large buffers in the heap, keep the progress queue."""
    global _progress_queue
    die_with_parent(caller_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the fork server's (default) handler, whatever the caller's
    silence_failed_hdf5_closes()  # a worker's failed write is reported by the parent, in one line
    keep_large_buffers_in_heap()
    _progress_queue = progress_queue
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(core_block(cores, slot, per_worker)))
    import cv2

    cv2.setNumThreads(1)


def core_block(cores: list[int], slot: int, per_worker: int) -> list[int]:
    """The ``per_worker`` cores of worker ``slot`` (slot 0 is the calling process's share)."""
    return [cores[(slot * per_worker + k) % len(cores)] for k in range(per_worker)]


def _worker_task(config: GenerateConfig, room_index: int, out_dir: str, nthreads: int) -> str:
    on_frame = _progress_queue.put if _progress_queue is not None else None
    return str(run_room(config, room_index, Path(out_dir), nthreads, on_frame=on_frame))


def run_pool(
    config: GenerateConfig,
    out_dir: Path,
    todo: PendingRooms,
    workers: int,
    cores: list[int],
    on_frame: Callable[[int], None] | None,
) -> None:
    """Run the rooms ``todo`` in ``workers`` processes: this one and ``workers - 1`` started ones.

    The others start from :func:`worker_context` (forked from the fork server, or spawned), while this
    process already works. Each started worker is handed one room at a time, so no room waits in a busy
    worker's queue while another process is idle at the end. Every started worker is pinned to its own
    block of cores with one OpenCV thread; this process keeps its settings (its affinity and OpenCV
    threads are the caller's). Started workers die with this process (:func:`die_with_parent`); if the
    call fails or is interrupted, they are killed at once and their unfinished temporary shards removed,
    with this process's own.
    """
    ctx = worker_context(needs_gl(config.renderer))
    progress, counter = ctx.Queue(), ctx.Value("i", 1)  # slot 0 is this process
    nthreads = max(1, len(cores) // workers)
    pin = cores if workers <= len(cores) else []
    remaining = iter(todo)  # rooms nobody has started yet
    pool = ProcessPoolExecutor(
        workers - 1, mp_context=ctx, initializer=_init_worker, initargs=(progress, counter, pin, nthreads, os.getpid())
    )
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


def _drain(progress, on_frame: Callable[[int], None] | None) -> None:
    while True:
        try:
            n = progress.get_nowait()
        except queue.Empty:
            return
        if on_frame is not None:
            on_frame(n)


def _ray_task(config: GenerateConfig, room_index: int, out_dir: str) -> str:
    """The Ray task, in a Ray worker process: one room, one core (Ray sets the task's CPU share)."""
    keep_large_buffers_in_heap()
    return str(run_room(config, room_index, Path(out_dir), nthreads=1))


def _connect_ray(address: str):
    """Import Ray and connect to ``address`` unless a session is already initialised; returns
    (ray module, whether this call started the session)."""
    ray = require("ray", "ray", "--ray-address (rooms as tasks on a Ray cluster)")
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
        raise SynthcamError(
            f"cannot connect to the Ray cluster at {address!r} ({first}); start one with "
            f"'ray start --head', or pass --ray-address local"
        ) from None
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
        raise SynthcamError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start one with "
            f"'ray start --head', or pass --ray-address local"
        ) from None


def run_ray(
    config: GenerateConfig, out_dir: Path, todo: PendingRooms, address: str, on_frame: Callable[[int], None] | None
) -> None:
    """Run the rooms ``todo`` as Ray tasks, keeping at most twice the cluster's CPUs in flight."""
    ray, started = _connect_ray(address)
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(_ray_task)
        window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        remaining = iter(todo)
        pending: list = []  # Ray object refs of the rooms in flight
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
