"""The true class of any point near a generated room's surfaces: the yardstick of a fused 3D map.

A shard stores its room's full description (``scene_description``), from which
:func:`scene_library.build_scene` rebuilds the exact meshes; each query point takes the NYUv2-40 class of
the nearest triangle (Open3D's closest-point query on the same labelled scene the ray-casting renderer
uses) and its distance to it, so a fused point farther than a voxel or two from every surface can be
told apart from a mislabelled one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scene_library import Scene, build_scene
from synthcam.open3d_import import import_open3d
from synthcam.render_raycast import LabelTables, raycasting_scene
from synthcam_core.errors import InputError


@dataclass(frozen=True)
class SurfaceTruth:
    """Per query point: ``class40`` (N,) uint8 class of the nearest surface (0 where the scene has none) and
    ``distance`` (N,) float32 metres to it."""

    class40: np.ndarray
    distance: np.ndarray


def shard_scene(path: Path) -> Scene:
    """The scene of the room a shard was rendered from, rebuilt from its ``scene_description``.

    Raises :class:`InputError` (one line) for a shard whose description is empty (a shard written by hand)."""
    from synthcam_shards.shard_file import ShardFile

    with ShardFile(path) as shard:
        text = shard.attrs.get("scene_description")
    description = json.loads(text) if isinstance(text, str) else text
    if not description:
        raise InputError(f"{Path(path).name} holds no scene description; 3D truth needs a generated room's shard")
    return build_scene(description)


def surface_truth(scene: Scene, points: np.ndarray, nthreads: int = 0) -> SurfaceTruth:
    """The class of the nearest surface of ``scene`` and the distance to it for (N, 3) world ``points`` (m)."""
    o3d = import_open3d()
    raycast = raycasting_scene(scene)
    query = o3d.core.Tensor.from_numpy(np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3))
    closest = raycast.compute_closest_points(query, nthreads=nthreads)
    geometry = closest["geometry_ids"].numpy().astype(np.int64)
    labels = LabelTables.of(scene).class40
    hits = np.clip(geometry, 0, len(labels) - 1)  # INVALID_ID (an empty scene) -> the "missed" entry, 0
    distance = np.linalg.norm(closest["points"].numpy() - query.numpy(), axis=1).astype(np.float32)
    return SurfaceTruth(labels[hits], distance)
