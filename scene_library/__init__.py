"""Procedural indoor scenes with NYUv2-40 labels, built from parametric primitives.

Imports no renderer and no torch. Entry points: :func:`generate_room` (a furnished room of one of
:data:`ROOM_TYPES`), :func:`build_scene` (a scene from its JSON description), :class:`Scene`, the object
registry in :mod:`scene_library.objects`, mesh import in :mod:`scene_library.importer` (label maps in
:mod:`scene_library.label_map`, checks of mesh files in :mod:`scene_library.mesh_checks`), label tables in
:mod:`scene_library.labels` and validity checks in :mod:`scene_library.checks`. Scene input (descriptions,
label maps, user meshes) is checked up front (:mod:`scene_library.validation`) within the documented limits
of :mod:`scene_library.limits`.
"""

from scene_library.description import build_scene, load_description, save_description
from scene_library.errors import SceneError
from scene_library.rooms import ROOM_TYPES, ROOM_WEIGHTS, generate_description, generate_room
from scene_library.scene import Room, Scene, SceneObject

__all__ = ["ROOM_TYPES", "ROOM_WEIGHTS", "Room", "Scene", "SceneError", "SceneObject", "build_scene",
           "generate_description", "generate_room", "load_description", "save_description"]
