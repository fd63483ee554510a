"""What the fork server of the local workers imports once, before it forks each worker
(:data:`synthcam.worker_processes.WORKER_PRELOAD`): the generation modules, Open3D and PyOpenGL on its EGL
platform (~2 s together; no thread pool of OpenCV, Open3D or a GL driver starts, no GL context is made).

Importing this module does that work in whatever process imports it; no setting outlives the import (the
EGL platform variable is set only while PyOpenGL is imported: :func:`synthcam.egl.egl_environment`). A
library that is missing here is reported by the worker that needs it, in one line.
"""

from __future__ import annotations

import synthcam.runners  # noqa: F401  (the worker's task and everything a room imports)
from synthcam.egl import import_gl
from synthcam.open3d_import import import_open3d
from synthcam_core.errors import SynthcamError


def preload() -> None:
    """Import Open3D and PyOpenGL (EGL) where they can be imported; a failure is left to the worker."""
    for load in (import_open3d, import_gl):
        try:
            load()
        except SynthcamError:
            pass


preload()
