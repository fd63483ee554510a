"""Procedural indoor scenes with NYUv2-40 labels, built from parametric primitives.

Imports no renderer and no torch. Entry points: :func:`generate_room` (a furnished room of one of
:data:`ROOM_TYPES`), :func:`build_scene` (a scene from its JSON description), :class:`Scene`, the object
registry in :mod:`scene_library.objects`, mesh import in :mod:`scene_library.importer` (label maps in
:mod:`scene_library.label_map`, checks of mesh files in :mod:`scene_library.mesh_checks`), label tables in
:mod:`synthcam_core.labels` and validity checks in :mod:`scene_library.checks`. Scene input (descriptions,
label maps, user meshes) is checked up front (:mod:`scene_library.validation`) within the documented limits
of :mod:`scene_library.limits`.
"""

from importlib import import_module

from scene_library.errors import SceneError

#: Where each public name lives; imported on first use (PEP 562), so importing ``scene_library.errors``
#: or ``scene_library.limits`` does not load trimesh and SciPy (half a second).
_LAZY = {
    "build_scene": "scene_library.description",
    "load_description": "scene_library.description",
    "save_description": "scene_library.description",
    "ROOM_TYPES": "scene_library.rooms",
    "ROOM_WEIGHTS": "scene_library.rooms",
    "generate_description": "scene_library.rooms",
    "generate_room": "scene_library.rooms",
    "Room": "scene_library.scene",
    "Scene": "scene_library.scene",
    "SceneObject": "scene_library.scene",
}

__all__ = [
    "ROOM_TYPES",
    "ROOM_WEIGHTS",
    "Room",
    "Scene",
    "SceneError",
    "SceneObject",
    "build_scene",
    "generate_description",
    "generate_room",
    "load_description",
    "save_description",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scene_library' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
