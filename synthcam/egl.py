"""Headless EGL for the GL renderer backends: PyOpenGL loaded on its EGL platform, one OpenGL 4.1 core context
per process.

No process-wide setting outlives a call: ``PYOPENGL_PLATFORM=egl`` (PyOpenGL reads it once, when it is first
imported) and Mesa llvmpipe's ``LP_NUM_THREADS`` (read when the first context is made) are set only for the
duration of that import or that context's creation, where the user has not set them, and removed again
(:func:`egl_environment`). NVIDIA EGL on a GPU and Mesa's software rasteriser (llvmpipe) on a CPU, no window
system.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

from synthcam_core.errors import SynthcamError
from synthcam_core.extras import require

EGL_PACKAGES = "libegl1 libgl1 libglu1-mesa, and libegl-mesa0 libgl1-mesa-dri for CPU rendering"


@contextlib.contextmanager
def egl_environment(nthreads: int = 0) -> Iterator[None]:
    """Within the block, ``PYOPENGL_PLATFORM=egl`` and (``nthreads`` > 0) ``LP_NUM_THREADS=nthreads`` where the
    environment does not set them; afterwards the environment is as before.

    For the moments PyOpenGL, pyrender or Mesa read them: importing OpenGL, creating a context. A value the
    user set is kept; another PyOpenGL platform than EGL is refused (:class:`SynthcamError`).
    """
    platform = os.environ.get("PYOPENGL_PLATFORM")
    if platform not in (None, "egl"):
        raise SynthcamError(
            f"the GL renderers need PYOPENGL_PLATFORM=egl, but it is set to {platform!r}; unset it or set it to egl"
        )
    added = {"PYOPENGL_PLATFORM": "egl"}
    if nthreads > 0:
        added["LP_NUM_THREADS"] = str(nthreads)
    added = {k: v for k, v in added.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def import_gl(extra: str = "gl", purpose: str = "the gl renderer"):
    """PyOpenGL's ``GL`` and ``EGL`` modules on the EGL platform; a missing PyOpenGL names ``extra`` (needed
    for ``purpose``), a missing system library the Debian packages."""
    loaded = sys.modules.get("OpenGL.platform")
    if loaded is not None and type(getattr(loaded, "PLATFORM", None)).__name__ not in ("EGLPlatform", "NoneType"):
        raise SynthcamError(
            f"OpenGL was imported for {type(loaded.PLATFORM).__name__} before the GL renderers could "
            "choose EGL; set PYOPENGL_PLATFORM=egl in the environment"
        )
    with egl_environment():
        try:
            # Order matters with PyOpenGL 3.1.0: OpenGL.EGL imported before OpenGL.GL.shaders breaks the
            # later import of the shaders module (its extension check compares str with bytes), e.g. in pyrender.
            GL = require("OpenGL.GL", extra, purpose)
            require("OpenGL.GL.shaders", extra, purpose)
            EGL = require("OpenGL.EGL", extra, purpose)
        except (ImportError, OSError, AttributeError) as exc:  # libEGL.so.1 / libGL.so.1 not found
            raise SynthcamError(
                f"OpenGL over EGL is not available ({exc}); install the Debian packages {EGL_PACKAGES} "
                "(or use --renderer raycast)"
            ) from None
    return GL, EGL


# --- EGL context: one per process, shared by every GLRenderer ------------------------------------

_context = None


def context_open() -> bool:
    """Whether this process has made its EGL context (:func:`egl_context`)."""
    return _context is not None


def egl_context(nthreads: int = 0):
    """Create (once per process) and make current a headless EGL OpenGL 4.1 core context; returns
    ``(display, context)``.

    nthreads : software-rasteriser threads (Mesa llvmpipe's ``LP_NUM_THREADS``) unless the environment sets
        them; 0 = all cores. Only the first call in a process decides.
    Uses the EGL device given by ``EGL_DEVICE_ID`` (default 0) when the driver lists devices.
    """
    global _context
    if _context is not None:
        make_current(_context)
        return _context
    GL, EGL = import_gl()
    with egl_environment(nthreads):
        display = _egl_display(EGL)
        major, minor = EGL.EGLint(), EGL.EGLint()
        if not display or not EGL.eglInitialize(display, ctypes.pointer(major), ctypes.pointer(minor)):
            raise SynthcamError(
                f"no EGL display could be initialised; install the Debian packages {EGL_PACKAGES} "
                "(or the NVIDIA driver's EGL on a GPU machine), or use --renderer raycast"
            )
        attrs = (EGL.EGLint * 5)(
            EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT, EGL.EGL_NONE
        )
        config, count = EGL.EGLConfig(), EGL.EGLint()
        if not EGL.eglChooseConfig(display, attrs, ctypes.pointer(config), 1, ctypes.pointer(count)) or count.value < 1:
            raise SynthcamError(f"EGL offers no OpenGL configuration; install the Debian packages {EGL_PACKAGES}")
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        ctx_attrs = (EGL.EGLint * 7)(
            EGL.EGL_CONTEXT_MAJOR_VERSION,
            4,
            EGL.EGL_CONTEXT_MINOR_VERSION,
            1,
            EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK,
            EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
            EGL.EGL_NONE,
        )
        context = EGL.eglCreateContext(display, config, EGL.EGL_NO_CONTEXT, ctx_attrs)
        if not context or not EGL.eglMakeCurrent(display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, context):
            raise SynthcamError(
                "EGL could not create an OpenGL 4.1 core context; update Mesa (libgl1-mesa-dri) "
                "or the GPU driver, or use --renderer raycast"
            )
    _context = (display, context)
    return _context


def gl_renderer_string() -> str:
    """The GL_RENDERER string of the process's context, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"."""
    GL, _ = import_gl()
    egl_context()
    return GL.glGetString(GL.GL_RENDERER).decode(errors="replace")


def make_current(context) -> None:
    """Make ``context`` (what :func:`egl_context` returns) current again (a pyrender renderer in the same
    process switches contexts)."""
    from OpenGL import EGL

    EGL.eglMakeCurrent(context[0], EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, context[1])


def _egl_display(EGL):
    """The EGL display of device ``EGL_DEVICE_ID`` through EGL_EXT_platform_device, else the default one."""
    query = egl_proc(EGL, "eglQueryDevicesEXT", EGL.EGLBoolean, EGL.EGLint, ctypes.c_void_p, ctypes.POINTER(EGL.EGLint))
    get_display = egl_proc(
        EGL, "eglGetPlatformDisplayEXT", EGL.EGLDisplay, EGL.EGLenum, ctypes.c_void_p, ctypes.c_void_p
    )
    if query is not None and get_display is not None:
        n = EGL.EGLint()
        if query(0, None, ctypes.pointer(n)) and n.value > 0:
            devices = (ctypes.c_void_p * n.value)()
            query(n.value, devices, ctypes.pointer(n))
            index = int(os.environ.get("EGL_DEVICE_ID", "0"))
            if not 0 <= index < n.value:
                raise SynthcamError(f"EGL_DEVICE_ID={index} but EGL lists {n.value} device(s); use 0..{n.value - 1}")
            display = get_display(0x313F, devices[index], None)  # EGL_PLATFORM_DEVICE_EXT
            if display:
                return display
    return EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)


def egl_proc(EGL, name: str, restype, *argtypes):
    """The function ``name`` from EGL's proc address as a ctypes function, or None where the driver lacks it."""
    address = EGL.eglGetProcAddress(name)
    if not address:
        return None
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)
