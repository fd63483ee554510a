"""Procedural indoor scenes with NYUv2-40 labels, built from trimesh primitives.

Imports no renderer and no torch. Entry points: :func:`generate_room`, :class:`Scene`,
the label tables in :mod:`scene_library.labels`.
"""

from scene_library.errors import SceneError
from scene_library.rooms import ROOM_FURNITURE, generate_room
from scene_library.scene import Room, Scene, SceneObject

__all__ = ["ROOM_FURNITURE", "Room", "Scene", "SceneError", "SceneObject", "generate_room"]
