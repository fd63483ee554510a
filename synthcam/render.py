"""Renderer backends behind one interface: a scene and a camera in, :class:`Frame` out.

- ``raycast`` uses Open3D's ``RaycastingScene`` (Embree on the CPU, no GL). Rays go through pixel
  centres (u + 0.5, v + 0.5) and have camera-frame z = 1, so the hit distance *is* the z-depth.
- ``gl`` rasterises with OpenGL over headless EGL (own shaders, one draw call; NVIDIA EGL on a GPU,
  Mesa llvmpipe on a CPU), see :mod:`synthcam.render_gl`.
- ``pyrender`` uses pyrender's flat SEG pass over EGL (normals derived from depth), see :mod:`synthcam.render_gl`.
- ``auto`` picks the fastest available for the scene and camera at hand (:func:`choose_renderer`).

Every backend also answers ``distance(points)`` (Open3D's distance query; GL has none).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from noise_models.view import incidence_from_normals
from scene_library import Scene
from synthcam_core.camera import Intrinsics, pixel_rays
from synthcam_core.errors import SynthcamError
from synthcam_core.frame import Frame
from synthcam.open3d_import import import_open3d
from synthcam.render_gl import GLRenderer, PyrenderRenderer, egl_context, gl_renderer_string


class Renderer(Protocol):
    """What every backend offers."""

    name: str

    def render(self, pose: np.ndarray, normals: bool = True, incidence: bool = False) -> Frame:
        """Depth and labels for a (4, 4) camera-to-world ``pose``; per-pixel normals when ``normals``, the
        incidence cosine (``Frame.incidence``) when ``incidence``."""
        ...

    def distance(self, points: np.ndarray) -> np.ndarray: ...


class RaycastRenderer:
    """Open3D ray casting of a labelled scene.

    scene : the scene; each object becomes one geometry whose id indexes the label tables.
    intrinsics : camera used for every frame.
    nthreads : ray-casting threads (0 = all cores).
    """

    name = "raycast"

    def __init__(self, scene: Scene, intrinsics: Intrinsics, nthreads: int = 0):
        o3d = import_open3d()
        self._o3d = o3d
        self.intrinsics = intrinsics
        self.nthreads = int(nthreads)
        self._scene = o3d.t.geometry.RaycastingScene()
        for obj in scene.objects:
            self._scene.add_triangles(
                o3d.core.Tensor.from_numpy(np.ascontiguousarray(obj.mesh.vertices, dtype=np.float32)),
                o3d.core.Tensor.from_numpy(np.ascontiguousarray(obj.mesh.faces, dtype=np.uint32)),
            )
        n = len(scene.objects)
        # Geometry ids are 0..n-1 in insertion order; index n stands for "missed everything".
        self._class_lut = np.zeros(n + 1, dtype=np.uint8)
        self._instance_lut = np.zeros(n + 1, dtype=np.uint16)
        for gid, obj in enumerate(scene.objects):
            self._class_lut[gid], self._instance_lut[gid] = obj.class40, obj.instance_id
        self._k = o3d.core.Tensor(intrinsics.matrix)

    def render(self, pose: np.ndarray, normals: bool = True, incidence: bool = False) -> Frame:
        """Render depth, labels and (optionally) normals and the incidence cosine for a (4, 4)
        camera-to-world ``pose``."""
        import cv2

        o3d = self._o3d
        # create_rays_pinhole samples pixel (u, v) at (u + 0.5, v + 0.5) with camera-frame z = 1: our convention.
        rays = self._scene.create_rays_pinhole(self._k, o3d.core.Tensor(np.linalg.inv(pose)),
                                               self.intrinsics.width, self.intrinsics.height)
        hit = self._scene.cast_rays(rays, nthreads=self.nthreads)
        t_hit = hit["t_hit"].numpy()
        gid = hit["geometry_ids"].numpy()  # INVALID_ID (2**32 - 1) clips to the last, "void" entry
        depth = np.where(np.isfinite(t_hit), t_hit, np.float32(0.0))
        cam_normals = cos = None
        if normals or incidence:
            rot_t = np.ascontiguousarray(pose[:3, :3].T, dtype=np.float32)
            cam_normals = cv2.transform(hit["primitive_normals"].numpy(), rot_t)  # n_cam = R^T n_world
            ray = pixel_rays(self.intrinsics)
            away = cam_normals[..., 0] * ray[..., 0] + cam_normals[..., 1] * ray[..., 1] + cam_normals[..., 2] > 0
            cam_normals[away] *= -1.0  # face the camera
            cos = incidence_from_normals(cam_normals, self.intrinsics) if incidence else None
        return Frame(depth=depth, class40=np.take(self._class_lut, gid, mode="clip"),
                     instance=np.take(self._instance_lut, gid, mode="clip"),
                     normals=cam_normals if normals else None, pose=np.array(pose, dtype=np.float64),
                     intrinsics=self.intrinsics, incidence=cos)

    def instances(self, pose: np.ndarray) -> np.ndarray:
        """(H, W) uint16 instance ids only (0 = none) for a (4, 4) camera-to-world ``pose``: what the
        trajectory sampler's low-resolution probe views need, without depth, classes or normals."""
        o3d = self._o3d
        rays = self._scene.create_rays_pinhole(self._k, o3d.core.Tensor(np.linalg.inv(pose)),
                                               self.intrinsics.width, self.intrinsics.height)
        gid = self._scene.cast_rays(rays, nthreads=self.nthreads)["geometry_ids"].numpy()
        return np.take(self._instance_lut, gid, mode="clip")

    def distance(self, points: np.ndarray) -> np.ndarray:
        """(N,) float64 distance in metres from each of the (N, 3) world points to the nearest surface."""
        query = self._o3d.core.Tensor.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
        return self._scene.compute_distance(query, nthreads=self.nthreads).numpy().astype(np.float64)


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


#: Explicit registry of renderer backends by name: each builds ``(scene, intrinsics, nthreads) -> Renderer``.
RENDERERS = {"auto": auto_renderer, "raycast": RaycastRenderer, "gl": GLRenderer, "pyrender": PyrenderRenderer}


def make_renderer(name: str, scene: Scene, intrinsics: Intrinsics, nthreads: int = 0) -> Renderer:
    """Build the named backend; an unknown name lists the valid ones."""
    try:
        factory = RENDERERS[name]
    except KeyError:
        raise SynthcamError(f"unknown renderer {name!r}; valid renderers: {', '.join(RENDERERS)}") from None
    return factory(scene, intrinsics, nthreads)
