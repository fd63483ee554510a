"""PyOpenGL on its EGL platform, imported once by the fork server of workers that may render with a GL backend
(:data:`synthcam.worker_processes.GL_PRELOAD`, after :mod:`synthcam.worker_preload`; ~0.16 s). No GL context
is made and no setting outlives the import (the EGL platform variable is set only while PyOpenGL is imported:
:func:`synthcam.egl.egl_environment`). A failure is left to the worker that needs GL, which reports it in one
line.
"""

from __future__ import annotations

from synthcam.egl import import_gl
from synthcam_core.errors import SynthcamError

try:
    import_gl()
except SynthcamError:
    pass
