"""What the fork server of the local workers imports once, before it forks each worker
(:data:`synthcam.worker_processes.WORKER_PRELOAD`): the generation modules and Open3D (~1.4 s together; no
thread pool of OpenCV or Open3D starts). PyOpenGL, for the GL backends only, is :mod:`synthcam.worker_preload_gl`.

Importing it first ties the fork server's life to the process that started it (the kernel kills the server
when that process dies, even in the middle of these imports; workers die with the server). Meant for the
fork server only: importing this module elsewhere would do the same to the importing process. A library that
cannot be imported here is reported by the worker that needs it, in one line.
"""

from __future__ import annotations

from synthcam.worker_processes import kill_with_parent


def preload() -> None:
    """Die with the parent; import the generation modules, then Open3D where it can be imported (a failure is
    left to the worker)."""
    kill_with_parent()
    import synthcam.runners  # noqa: F401  (the worker's task and everything a room imports)
    from synthcam.open3d_import import import_open3d
    from synthcam_core.errors import SynthcamError

    try:
        import_open3d()
    except SynthcamError:
        pass


preload()
