"""The ``raycast`` renderer backend: Open3D's ``RaycastingScene`` (Embree on the CPU, no GL).

Rays go through pixel centres (u + 0.5, v + 0.5) and have camera-frame z = 1, so the hit distance *is*
the z-depth. Also home of what every backend shares with it: the object label tables
(:class:`LabelTables`), the Open3D scene of a :class:`Scene` (:func:`raycasting_scene`) and the distance
query (:class:`SurfaceDistance`) that the GL backends answer ``distance`` with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scene_library import Scene
from synthcam.open3d_import import import_open3d
from synthcam_core.camera import Intrinsics
from synthcam_core.frame import Frame
from synthcam_core.geometry.rays import pixel_rays
from synthcam_core.geometry.surface import incidence_from_normals


@dataclass(frozen=True)
class LabelTables:
    """Object index -> labels; index ``n`` (one past the last object) is "missed everything"."""

    class40: np.ndarray  #: (n + 1,) uint8
    instance: np.ndarray  #: (n + 1,) uint16

    @classmethod
    def of(cls, scene: Scene) -> LabelTables:
        n = len(scene.objects)
        class40, instance = np.zeros(n + 1, dtype=np.uint8), np.zeros(n + 1, dtype=np.uint16)
        for i, obj in enumerate(scene.objects):
            class40[i], instance[i] = obj.class40, obj.instance_id
        return cls(class40, instance)


def raycasting_scene(scene: Scene):
    """An Open3D ``RaycastingScene`` of ``scene``: object ``i`` becomes geometry id ``i`` (the index of
    :class:`LabelTables`); misses report ``INVALID_ID``, which clips to the tables' last, "missed" entry."""
    o3d = import_open3d()
    raycast = o3d.t.geometry.RaycastingScene()
    for obj in scene.objects:
        raycast.add_triangles(
            o3d.core.Tensor.from_numpy(np.ascontiguousarray(obj.mesh.vertices, dtype=np.float32)),
            o3d.core.Tensor.from_numpy(np.ascontiguousarray(obj.mesh.faces, dtype=np.uint32)),
        )
    return raycast


def surface_distance(raycast, points: np.ndarray, nthreads: int = 0) -> np.ndarray:
    """(N,) float64 metres from each of the (N, 3) world ``points`` to the nearest surface of ``raycast``
    (a :func:`raycasting_scene`)."""
    o3d = import_open3d()
    query = o3d.core.Tensor.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    return raycast.compute_distance(query, nthreads=nthreads).numpy().astype(np.float64)


class SurfaceDistance:
    """Distance from world points to the nearest surface of a scene (Open3D, built on first use).

    GL has no distance query; the GL backends answer ``distance`` with this, as ray casting does.
    """

    def __init__(self, scene: Scene, nthreads: int = 0):
        self._scene, self._nthreads, self._raycast = scene, nthreads, None

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """(N,) float64 metres from each of the (N, 3) world points to the nearest surface."""
        if self._raycast is None:
            self._raycast = raycasting_scene(self._scene)
        return surface_distance(self._raycast, points, self._nthreads)


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
        self._scene = raycasting_scene(scene)
        self._labels = LabelTables.of(scene)
        self._k = o3d.core.Tensor(intrinsics.matrix)

    def _cast(self, pose: np.ndarray) -> dict:
        # create_rays_pinhole samples pixel (u, v) at (u + 0.5, v + 0.5) with camera-frame z = 1: our convention.
        o3d = self._o3d
        rays = self._scene.create_rays_pinhole(
            self._k, o3d.core.Tensor(np.linalg.inv(pose)), self.intrinsics.width, self.intrinsics.height
        )
        return self._scene.cast_rays(rays, nthreads=self.nthreads)

    def render(self, pose: np.ndarray, normals: bool = True, incidence: bool = False) -> Frame:
        """Render depth, labels and (optionally) normals and the incidence cosine for a (4, 4)
        camera-to-world ``pose``."""
        import cv2

        hit = self._cast(pose)
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
        return Frame(
            depth=depth,
            class40=np.take(self._labels.class40, gid, mode="clip"),
            instance=np.take(self._labels.instance, gid, mode="clip"),
            normals=cam_normals if normals else None,
            pose=np.array(pose, dtype=np.float64),
            intrinsics=self.intrinsics,
            incidence=cos,
        )

    def instances(self, pose: np.ndarray) -> np.ndarray:
        """(H, W) uint16 instance ids only (0 = none) for a (4, 4) camera-to-world ``pose``: what the
        trajectory sampler's low-resolution probe views need, without depth, classes or normals."""
        return np.take(self._labels.instance, self._cast(pose)["geometry_ids"].numpy(), mode="clip")

    def distance(self, points: np.ndarray) -> np.ndarray:
        """(N,) float64 distance in metres from each of the (N, 3) world points to the nearest surface."""
        return surface_distance(self._scene, points, self.nthreads)
