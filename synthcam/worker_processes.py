"""How local worker processes start: from a fork server that has imported the generation modules once.

Light on purpose (the standard library only), so that an application can start the fork server first thing
(:func:`start_worker_server`), letting its imports run alongside the application's own.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.context import BaseContext

#: What the fork server imports once, before it forks each worker (after the caller's ``__main__``,
#: multiprocessing's default preload): :mod:`synthcam.worker_preload`; for the GL backends also
#: :data:`GL_PRELOAD` (PyOpenGL on EGL, which ray casting never imports).
WORKER_PRELOAD = ("synthcam.worker_preload",)
GL_PRELOAD = ("synthcam.worker_preload_gl",)


def needs_gl(renderer: str) -> bool:
    """Whether workers of ``renderer`` may import PyOpenGL (every backend but ``raycast``; ``auto`` may pick GL)."""
    return renderer != "raycast"


def available_cores() -> list[int]:
    """The cores this process may run on, sorted."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


#: Jobs of fewer frames run in one process: starting workers (the fork server's imports, ~1-2 s) would cost
#: more than they save.
MIN_FRAMES_FOR_WORKERS = 200


def auto_workers(rooms: int, frames_per_room: int) -> int:
    """Worker processes for a job of ``rooms`` x ``frames_per_room`` frames: one per usable core, at most one
    per room; 1 for jobs of fewer than :data:`MIN_FRAMES_FOR_WORKERS` frames."""
    if rooms * frames_per_room < MIN_FRAMES_FOR_WORKERS:
        return 1
    return max(1, min(len(available_cores()), rooms))


def worker_context(gl: bool = True) -> BaseContext:
    """The multiprocessing context of local workers: ``forkserver`` where the platform has it, else ``spawn``.

    The fork server is a fresh, single-threaded process that imports :data:`WORKER_PRELOAD` (and, with
    ``gl``, :data:`GL_PRELOAD`) once and forks
    every worker from itself: a worker starts in milliseconds with the generation modules imported, and
    never inherits the caller's threads, GL context or settings, whatever the caller did before. The
    preload list is set on multiprocessing's fork-server context, which this module uses only for its
    workers; a server that is already running in this process (started earlier by someone else) is used
    as it is, and workers then import what they need themselves. A spawned worker imports everything
    itself (~2 s).
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", *WORKER_PRELOAD, *(GL_PRELOAD if gl else ())])
    return ctx


def start_worker_server(gl: bool = True) -> None:
    """Start the fork server of :func:`worker_context` now (no-op where workers are spawned, or when it
    runs already); returns at once, while the server imports.

    For an application that will generate with several workers (the ``synthcam generate`` command): called
    before its own imports, the server's imports overlap them and the first worker forks without waiting.
    Without it, the server starts with the first worker pool.
    """
    if worker_context(gl).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def kill_with_parent() -> None:
    """Have the kernel kill this process (SIGKILL) when its parent dies: Linux ``prctl(PR_SET_PDEATHSIG)``
    through libc; elsewhere a no-op. For processes started by the library only (workers, the fork server)."""
    import ctypes

    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass


def die_with_parent(caller_pid: int) -> None:
    """In a started worker: be killed when its parent dies (:func:`kill_with_parent`), and exit now if the
    run that started it (process ``caller_pid``) is already gone.

    The parent is the caller itself (spawned workers) or the fork server, which the kernel kills as soon as
    the caller dies (:mod:`synthcam.worker_preload`). The check that follows closes the window in which the
    caller died before the call. A worker therefore never outlives the run that started it (killed with
    SIGKILL or SIGTERM), and never writes into an output directory whose lock is gone.
    """
    kill_with_parent()
    if os.getppid() == caller_pid:
        return
    try:
        os.kill(caller_pid, 0)
    except (ProcessLookupError, PermissionError):  # gone (or the pid reused by someone else's process)
        os._exit(1)
