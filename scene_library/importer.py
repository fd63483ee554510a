"""Mesh import with label maps: bring user meshes (OBJ, PLY, glTF/GLB, STL, OFF, ...) into the project.

Two entry points share one loader:

* :func:`import_scene` turns a whole file into a labelled :class:`~scene_library.scene.Scene`
  (one :class:`~scene_library.scene.SceneObject` per mesh node, floor at z = 0);
* :func:`import_piece` turns a file into a :class:`~scene_library.objects.base.Piece` obeying the
  local-frame contract, so a user model can be placed in a procedural room.

Class labels come from a *label map* (:func:`load_label_map`, format and rules in
:mod:`scene_library.label_map`): exact mesh names, ``re:`` regular expressions matched within a time
limit, and a ``default`` class.

Which name is matched (the *mesh name*), per format, as read by trimesh 5.2:

* glTF/GLB: the node name. A node without a name (trimesh calls it by its index, ``"3"``) falls back
  to its mesh name (trimesh's placeholders ``"GLTF"``, ``"GLTF_1"``, ... when the mesh is unnamed
  too). A mesh with several primitives (one per material) is one object: trimesh gives each
  primitive a child frame with a *random* suffix, which is folded back into its node here, so names
  and instance ids stay deterministic.
* OBJ: the ``o`` object name; files without ``o`` lines use ``g`` group names. Faces of one object
  with several ``usemtl`` materials stay one object. (trimesh's default would merge every object of
  the file into one mesh.) trimesh's own OBJ export writes *geometry* names, not node names.
* PLY, OFF, binary STL, and OBJ without ``o``/``g``: one mesh per file (PLY has no object names; a
  scene exported to PLY is concatenated), named after the file stem (``chair.ply`` -> ``"chair"``).
  ASCII STL with several ``solid <name>`` blocks gives one object per solid, named after it.

Frames and units: the project world is right-handed, z up, metres, floor at z = 0. ``up="y"``
converts a y-up file (glTF is y-up by specification; so are many OBJ exports) by a +90 degree
rotation about x, ``(x, y, z) -> (x, -z, y)``; a glTF model's front (+z) then faces -y, the front
of the :class:`Piece` contract. ``scale`` multiplies coordinates after the rotation (0.01 for
centimetres, 0.0254 for inches). Each node's world transform is applied first.

Limits (:mod:`scene_library.limits`) are checked before and while loading (:mod:`scene_library.mesh_checks`):
file size, declared and loaded triangle and part counts, and the model's extent after ``up`` and ``scale``.
Archives (zip, tar) are not read: unpack them first.
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.label_map import LabelMap, listed_names, load_label_map
from scene_library.limits import MAX_MESH_PARTS, MAX_MESH_TRIANGLES
from scene_library.mesh_checks import check_extent, check_geometry, check_mesh_file, mesh_file_type, too_many
from scene_library.objects.base import Part, Piece
from scene_library.scene import Room, Scene, SceneObject
from synthcam_core.errors import InputError
from synthcam_core.labels import class40_names

__all__ = ["LabelMap", "UnlabelledMeshWarning", "import_piece", "import_scene", "load_label_map"]

PathLike = str | os.PathLike
UpAxis = Literal["z", "y"]


class UnlabelledMeshWarning(UserWarning):
    """Some mesh names matched no label rule and received the label map's default class."""


# --------------------------------------------------------------------------------------------------
# Loading meshes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """One object of a loaded file: matched name, source node key, mesh in the project frame (metres)."""

    name: str
    node: str
    mesh: trimesh.Trimesh


def import_scene(
    mesh_path: PathLike,
    label_map: LabelMap | PathLike,
    *,
    up: UpAxis = "z",
    scale: float = 1.0,
    room_type: str = "imported",
) -> tuple[Scene, list[str]]:
    """Load a mesh file as a labelled scene in the project frame.

    mesh_path : any format trimesh reads (OBJ, PLY, GLB/glTF, STL, OFF, ...).
    label_map : a :class:`LabelMap` or the path of a label-map file.
    up : the file's up axis, ``"z"`` (kept) or ``"y"`` (rotated to z up; use it for glTF/GLB).
    scale : metres per file unit (> 0).
    room_type : stored in the Room.

    Returns ``(scene, unmatched)``: one SceneObject per mesh node, named by its mesh name (see the
    module docstring), instance ids 1..N in natural order of (name, node) -- independent of loader
    internals; and the sorted distinct names that no rule matched (they got the default class and are
    also reported in one :class:`UnlabelledMeshWarning`).

    The whole model is translated so that its bounding-box minimum is the origin: the floor is
    z = 0 and the plan extent is ``[0, size_x] x [0, size_y]``. ``room.size`` is the bounding-box
    extent ``(size_x, size_y, height)`` of all meshes, metres; ``room.keep_clear`` is empty (0, 4)
    (nothing is known about walkways) and ``room.polygon`` is None (the full rectangle).
    """
    labels = _as_label_map(label_map)
    objects = _load_objects(mesh_path, up, scale)
    ids, unmatched = _classify(objects, labels, mesh_path)
    low = np.min([o.mesh.bounds[0] for o in objects], axis=0)
    scene_objects = []
    for i, (obj, cid) in enumerate(zip(objects, ids)):
        mesh = obj.mesh.copy()
        mesh.apply_translation(-low)
        scene_objects.append(SceneObject(mesh=mesh, class40=cid, instance_id=i + 1, name=obj.name))
    high = np.max([o.mesh.bounds[1] for o in scene_objects], axis=0)
    size = (float(high[0]), float(high[1]), float(high[2]))
    room = Room(room_type=room_type, size=size, keep_clear=np.zeros((0, 4)))
    return Scene(room=room, objects=tuple(scene_objects)), unmatched


def import_piece(
    mesh_path: PathLike, label_map: LabelMap | PathLike, *, kind: str = "imported", up: UpAxis = "z", scale: float = 1.0
) -> Piece:
    """Load a mesh file as a :class:`Piece` for placing in procedural rooms.

    Same loading, naming and labelling as :func:`import_scene` (one Part per mesh node, in the same
    order). The result obeys the local-frame contract of :mod:`scene_library.objects.base`: the
    footprint is centred at the origin, the lowest vertex is at z = 0, ``width``/``depth``/``height``
    (metres) are the bounding-box extents and every vertex lies inside
    ``[-w/2, w/2] x [-d/2, d/2] x [0, h]``. The front is assumed to face -y (true for glTF models
    imported with ``up="y"``). ``params`` is ``{"path", "up", "scale"}``; rebuilding also needs the
    same label map. No support surfaces are detected.
    """
    labels = _as_label_map(label_map)
    objects = _load_objects(mesh_path, up, scale)
    ids, _ = _classify(objects, labels, mesh_path)
    vertices = np.concatenate([o.mesh.vertices for o in objects])
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    shift = np.array([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, -low[2]])
    parts = []
    for obj, cid in zip(objects, ids):
        mesh = obj.mesh.copy()
        mesh.apply_translation(shift)
        parts.append(Part(name=obj.name, class40=cid, mesh=mesh))
    local = np.concatenate([p.mesh.vertices for p in parts])
    # Half-widths from the shifted vertices themselves, so rounding can never put a vertex outside.
    width, depth = (2 * float(np.abs(local[:, k]).max()) for k in (0, 1))
    params = {"path": str(Path(mesh_path)), "up": up, "scale": scale}
    return Piece(
        kind=kind, params=params, parts=tuple(parts), width=width, depth=depth, height=float(local[:, 2].max())
    )


def _as_label_map(label_map: LabelMap | PathLike) -> LabelMap:
    """The given LabelMap, or one loaded from a file path."""
    return label_map if isinstance(label_map, LabelMap) else load_label_map(label_map)


def _classify(objects: list[_Loaded], labels: LabelMap, mesh_path: PathLike) -> tuple[list[int], list[str]]:
    """Class ids per object and the unmatched names; warns once listing the unmatched names."""
    names = [o.name for o in objects]
    try:
        ids, unmatched = labels.classify(names)
    except InputError as e:
        raise SceneError(f"{mesh_path}: {e}") from None
    if unmatched:
        assert labels.default is not None, "classify raises on unmatched names when there is no default"
        default_name = class40_names()[labels.default]
        warnings.warn(
            f"{len(unmatched)} mesh name(s) in {mesh_path} match no rule in {labels.source} and were labelled "
            f"{default_name!r} (the default): {listed_names(unmatched)}",
            UnlabelledMeshWarning,
            stacklevel=3,
        )
    return ids, unmatched


def _load_objects(mesh_path: PathLike, up: str, scale: float) -> list[_Loaded]:
    """All triangle meshes of a file, in the project frame (not yet moved to the floor), sorted by (name, node)."""
    path = Path(mesh_path)
    frame = _frame_matrix(up, scale)
    scene = _read_trimesh_scene(path)
    grouped: dict[str, list[tuple[str, str, trimesh.Trimesh]]] = {}
    triangles = 0
    for node in scene.graph.nodes_geometry:
        world, geom_name = scene.graph[node]
        geometry = scene.geometry.get(geom_name)
        if not isinstance(geometry, trimesh.Trimesh) or not isinstance(geom_name, str) or len(geometry.faces) == 0:
            continue  # points, lines, empty meshes: nothing to render
        triangles += len(geometry.faces)  # counted per node: one geometry may be instanced by many nodes
        if triangles > MAX_MESH_TRIANGLES:
            raise too_many(path, f"more than {MAX_MESH_TRIANGLES:,} triangles")
        key, name = _node_name(scene.graph, node, geom_name, path)
        check_geometry(geometry, path, name)
        grouped.setdefault(key, []).append((name, geom_name, _transformed(geometry, frame @ world)))
        if len(grouped) > MAX_MESH_PARTS:
            raise too_many(path, f"more than {MAX_MESH_PARTS:,} named parts")
    if not grouped:
        raise SceneError(
            f"{path} contains no triangle faces (empty, only points or lines, or corrupt); "
            "export the model as a triangle mesh and try again."
        )
    objects = [_merge_node(key, members) for key, members in grouped.items()]
    check_extent([o.mesh for o in objects], path, up, scale)
    return sorted(objects, key=lambda o: (_natural_key(o.name), _natural_key(o.node)))


def _merge_node(key: str, members: list[tuple[str, str, trimesh.Trimesh]]) -> _Loaded:
    """One object from the (name, geometry name, mesh) primitives of one node, in a loader-independent order."""
    members = sorted(members, key=lambda m: (_natural_key(m[0]), _natural_key(m[1])))
    return _Loaded(name=members[0][0], node=key, mesh=_concatenate([m for _, _, m in members]))


def _frame_matrix(up: str, scale: float) -> np.ndarray:
    """(4, 4) float64 file-to-project transform: rotate the up axis to +z, then scale to metres."""
    if up not in ("z", "y"):
        raise SceneError(f"up must be 'z' or 'y' (the file's up axis), not {up!r}.")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float, np.floating))
        or not np.isfinite(scale)
        or scale <= 0
    ):
        raise SceneError(f"scale must be a positive number of metres per file unit (e.g. 0.01 for cm), not {scale!r}.")
    rotation = np.eye(4)
    if up == "y":  # (x, y, z) -> (x, -z, y): +90 degrees about x
        rotation = trimesh.transformations.rotation_matrix(np.pi / 2, (1.0, 0.0, 0.0))
        rotation[np.abs(rotation) < 1e-12] = 0.0  # exact zeros keep axis-aligned boxes exact
    return np.diag([scale, scale, scale, 1.0]) @ rotation


def _read_trimesh_scene(path: Path) -> trimesh.Scene:
    """The file as a trimesh.Scene; SceneError for a missing, unsupported or unreadable file."""
    if not path.is_file():
        raise SceneError(f"mesh file {path} does not exist; check the path.")
    file_type = mesh_file_type(path)
    check_mesh_file(path, file_type)
    try:
        loaded = trimesh.load(str(path), file_type=file_type, force="scene", **_loader_options(path, file_type))
        return cast(trimesh.Scene, loaded)  # force="scene" always gives a Scene
    except Exception as e:  # trimesh raises anything from ValueError to IndexError on bad input
        detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise SceneError(
            f"cannot read {path} as {file_type.upper()} ({detail}); the file is corrupt, truncated or not really "
            f"{file_type.upper()} -- re-export it from your modelling tool."
        ) from None


def _loader_options(path: Path, file_type: str) -> dict[str, Any]:
    """Extra trimesh loader options: split OBJ files by object (or group) name, never by material."""
    if file_type != "obj":
        return {}
    has_objects = has_groups = False
    with path.open("rb") as f:
        for line in f:
            has_objects = has_objects or line.startswith((b"o ", b"o\t"))
            has_groups = has_groups or line.startswith((b"g ", b"g\t"))
            if has_objects:
                break
    return {"split_objects": has_objects, "split_groups": has_groups and not has_objects, "group_material": False}


def _node_name(graph: Any, node: str, geom_name: str, path: Path) -> tuple[str, str]:
    """(grouping key, mesh name) of a geometry node of a trimesh scene graph.

    Folds glTF multi-primitive frames (``<node>_<6 random hex>`` under ``<node>``, identity transform)
    into their node, falls back to the geometry name for unnamed glTF nodes (index names), and renames
    the file-name default that single-mesh formats get to the file stem.
    """
    key = _primitive_owner(graph, node) or node
    name = geom_name if re.fullmatch(r"\d+", key) else key
    if name == path.name:
        name = path.stem
    return key, name


def _primitive_owner(graph: Any, node: str) -> str | None:
    """The glTF node that owns ``node`` when ``node`` is a synthetic per-primitive frame, else None."""
    parent = graph.transforms.parents.get(node)
    if parent is None or parent == graph.base_frame:
        return None
    suffix = node[len(parent) + 1 :] if node.startswith(parent + "_") else ""
    if len(suffix) != 6 or not all(c in "0123456789abcdef" for c in suffix):  # no regex built from a file's names
        return None
    matrix, _ = graph.get(frame_to=node, frame_from=parent)
    return parent if np.allclose(matrix, np.eye(4)) else None


def _transformed(mesh: trimesh.Trimesh, matrix: np.ndarray) -> trimesh.Trimesh:
    """A plain (N, 3) float64 / (F, 3) int64 copy of ``mesh`` under the (4, 4) ``matrix``; winding kept outward."""
    vertices = trimesh.transformations.transform_points(np.asarray(mesh.vertices, dtype=np.float64), matrix)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if np.linalg.det(matrix[:3, :3]) < 0:  # a mirroring transform flips the winding
        faces = faces[:, ::-1]
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _concatenate(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """One mesh from the primitives of one node (no vertex merging)."""
    if len(meshes) == 1:
        return meshes[0]
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    vertices = np.concatenate([m.vertices for m in meshes])
    faces = np.concatenate([m.faces + off for m, off in zip(meshes, offsets)])
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


def _natural_key(text: str) -> tuple:
    """Sort key ordering digit runs numerically: ``chair_2`` before ``chair_10``.

    A run of decimal digits (any script) sorts by its value: its digits as ASCII without leading zeros,
    compared by length, then text -- the order of ``int``, without its limit on long runs.
    """
    runs = (t for t in re.split(r"(\d+)", text) if t)
    return tuple((0, len(v), v) if (v := _digit_value(t)) is not None else (1, 0, t) for t in runs)


def _digit_value(run: str) -> str | None:
    """The ASCII digits of a run of decimal digits, without leading zeros; None when ``run`` is not one."""
    if not run.isdecimal():  # superscripts and other digit-like signs are text
        return None
    return "".join(str(unicodedata.decimal(c)) for c in run).lstrip("0")
