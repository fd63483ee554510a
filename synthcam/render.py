"""Renderer backends behind one interface: a scene and a camera in, :class:`Frame` out.

The registry (:data:`RENDERERS`) names every backend; each lives in its own module:

- ``raycast``: Open3D's ``RaycastingScene`` on the CPU, no GL (:mod:`synthcam.render_raycast`);
- ``gl``: OpenGL over headless EGL with its own shaders, one draw call (NVIDIA EGL on a GPU, Mesa llvmpipe
  on a CPU; :mod:`synthcam.render_gl`, the EGL context in :mod:`synthcam.egl`);
- ``pyrender``: pyrender's flat SEG pass over EGL, normals derived from depth (:mod:`synthcam.render_pyrender`);
- ``auto``: the fastest available for the scene and camera at hand (:func:`choose_renderer`).

Every backend also answers ``distance(points)`` (Open3D's distance query; GL has none). Backends do not
import this module; the GL ones are imported only when built, so their optional packages (the ``gl`` and
``pyrender`` extras) are needed only by those who use them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from scene_library import Scene
from synthcam.egl import egl_context, gl_renderer_string
from synthcam.render_raycast import RaycastRenderer
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.frame import Frame


class Renderer(Protocol):
    """What every backend offers."""

    name: str

    def render(self, pose: np.ndarray, normals: bool = True, incidence: bool = False) -> Frame:
        """Depth and labels for a (4, 4) camera-to-world ``pose``; per-pixel normals when ``normals``, the
        incidence cosine (``Frame.incidence``) when ``incidence``."""
        ...

    def distance(self, points: np.ndarray) -> np.ndarray: ...


#: Below this many pixels per frame ray casting wins on any machine: a 64x48 probe casts in ~0.2 ms,
#: less than one GL draw and read-back.
AUTO_MIN_GL_PIXELS = 160 * 120

#: On a software rasteriser (Mesa llvmpipe) GL's cost grows with the triangle count and ray casting's
#: barely does; measured on 2 cores at 640x480 (BENCHMARKS.md, research/gl_multiview.md): GL about
#: 6 ms/frame at 4k triangles and ~30 ms at 322k, ray casting ~26-30 ms at any count.
AUTO_MAX_SOFTWARE_GL_TRIANGLES = 200_000


def choose_renderer(scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> str:
    """The backend ``auto`` uses for ``scene`` seen through ``intrinsics``.

    ``gl`` when an EGL context opens, on a GPU for any scene, on a software rasteriser for scenes of at
    most :data:`AUTO_MAX_SOFTWARE_GL_TRIANGLES` triangles and frames of at least :data:`AUTO_MIN_GL_PIXELS`
    pixels; ``raycast`` otherwise (no EGL, tiny frames, huge scenes on a CPU).
    """
    if intrinsics.width * intrinsics.height < AUTO_MIN_GL_PIXELS:
        return "raycast"
    try:
        egl_context(nthreads)
    except SynthcamError:
        return "raycast"
    software = "llvmpipe" in gl_renderer_string().lower() or "softpipe" in gl_renderer_string().lower()
    if software and scene.triangle_count > AUTO_MAX_SOFTWARE_GL_TRIANGLES:
        return "raycast"
    return "gl"


def auto_renderer(scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> Renderer:
    """The fastest available backend for ``scene`` and ``intrinsics`` (see :func:`choose_renderer`)."""
    return RENDERERS[choose_renderer(scene, intrinsics, nthreads)](scene, intrinsics, nthreads)


def gl_renderer(scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> Renderer:
    """:class:`synthcam.render_gl.GLRenderer` (imported on use)."""
    from synthcam.render_gl import GLRenderer

    return GLRenderer(scene, intrinsics, nthreads)


def pyrender_renderer(scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> Renderer:
    """:class:`synthcam.render_pyrender.PyrenderRenderer` (imported on use)."""
    from synthcam.render_pyrender import PyrenderRenderer

    return PyrenderRenderer(scene, intrinsics, nthreads)


#: Explicit registry of renderer backends by name: each builds ``(scene, intrinsics, nthreads) -> Renderer``.
RENDERERS: dict[str, Callable[[Scene, Intrinsics, int], Renderer]] = {
    "auto": auto_renderer,
    "raycast": RaycastRenderer,
    "gl": gl_renderer,
    "pyrender": pyrender_renderer,
}


def make_renderer(name: str, scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> Renderer:
    """Build the named backend; an unknown name lists the valid ones."""
    try:
        factory = RENDERERS[name]
    except KeyError:
        raise SynthcamError(f"unknown renderer {name!r}; valid renderers: {', '.join(RENDERERS)}") from None
    return factory(scene, intrinsics, nthreads)
