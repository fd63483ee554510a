"""Scene descriptions: the JSON-friendly recipe a scene is built from, and the builder.

A description is ``{"format": "synthcam-scene", "version": 1, "room": {"type", "polygon", "height"},
"keep_clear": [[x0, y0, x1, y1], ...], "objects": [{"name", "kind", "params", "pose": [x, y, z, yaw]}, ...]}``.
Building is deterministic: the same description always gives the same meshes, so a scene saved as
JSON reloads exactly. A description is checked before anything is built
(:func:`scene_library.validation.check_description`, limits in :mod:`scene_library.limits`).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.limits import MAX_DESCRIPTION_BYTES, MAX_SCENE_PARTS, MAX_SCENE_TRIANGLES, MIB
from scene_library.objects.base import Piece
from scene_library.scene import Room, Scene, SceneObject
from scene_library.shell import shell_parts
from scene_library.validation import FORMAT, VERSION, check_description
from synthcam_core.errors import InputError

if TYPE_CHECKING:
    from scene_library.importer import UpAxis

#: Errors that building a checked description can still meet on odd but in-range params.
_BUILD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)


def pose_matrix(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    """(4, 4) float64 transform: rotate by ``yaw`` about z, then translate to (x, y, z)."""
    m = trimesh.transformations.rotation_matrix(yaw, (0, 0, 1))
    m[:3, 3] = (x, y, z)
    return m


def build_piece(kind: str, params: dict) -> Piece:
    """Build a piece of any kind: an imported mesh or a registered object."""
    if kind == "imported":
        return imported_piece(params["path"], params["label_map"], params.get("up", "z"), params.get("scale", 1.0))
    from scene_library.objects import build_piece as build_registered

    return build_registered(kind, params)


def imported_piece(path: str | Path, label_map: str | Path, up: UpAxis = "z", scale: float = 1.0) -> Piece:
    """A user mesh file as a placeable piece, labelled by the label-map file; its params (absolute paths,
    up axis, scale) rebuild it."""
    from dataclasses import replace

    from scene_library.importer import import_piece, load_label_map

    piece = import_piece(path, load_label_map(label_map), up=up, scale=scale)
    params = {"path": str(Path(path).resolve()), "label_map": str(Path(label_map).resolve()), "up": up, "scale": scale}
    return replace(piece, params=params)


def imported_scene_description(path: str | Path, label_map: str | Path, up: UpAxis = "z", scale: float = 1.0) -> dict:
    """The description of a whole scene imported from a user mesh: no generated shell, one object per
    labelled part, the model's bounding box moved to start at the origin (floor at z = 0)."""
    piece = imported_piece(path, label_map, up, scale)
    w, d, h = piece.width, piece.depth, piece.height
    return {
        "format": FORMAT,
        "version": VERSION,
        "room": {"type": "imported", "polygon": [[0, 0], [w, 0], [w, d], [0, d]], "height": h, "shell": False},
        "keep_clear": [],
        "objects": [{"name": "", "kind": "imported", "params": piece.params, "pose": [w / 2, d / 2, 0.0, 0.0]}],
    }


def build_scene(description: dict, pieces: list[Piece] | None = None) -> Scene:
    """The scene a description stands for (see the module docstring).

    pieces : optionally, the pieces of the description's objects, in order, already built (the room
        generator has built them to place them); they must be what ``build_piece(kind, params)`` gives for
        each object, and save rebuilding them. Imported pieces are always rebuilt from their files.

    The description is checked first (:func:`scene_library.validation.check_description`: structure, finite
    values, the limits of :mod:`scene_library.limits`); a bad one raises SceneError naming the field. While
    the pieces are built, the scene is kept within ``MAX_SCENE_TRIANGLES`` triangles and ``MAX_SCENE_PARTS``
    labelled parts.
    """
    check_description(description)
    try:
        return _build(description, pieces)
    except InputError:
        raise
    except _BUILD_ERRORS as exc:
        raise SceneError(
            f"invalid {FORMAT} description ({type(exc).__name__}: {exc}); write one with 'synthcam scenes sample'"
        ) from None


def _build(description: dict, pieces: list[Piece] | None = None) -> Scene:
    room = description["room"]
    polygon = np.asarray(room["polygon"], dtype=np.float64)
    height = float(room["height"])
    gaps = [tuple(g) for g in room.get("skirting_gaps", [])]
    shell = shell_parts(polygon, height, gaps) if room.get("shell", True) else []
    named = [(p.name, p.class40, p.mesh) for p in shell]
    triangles = sum(len(p.mesh.faces) for p in shell)
    if pieces is not None and len(pieces) != len(description["objects"]):
        raise ValueError(f"{len(pieces)} pieces for {len(description['objects'])} objects")
    for k, obj in enumerate(description["objects"]):
        if pieces is not None and obj["kind"] != "imported" and pieces[k].kind == obj["kind"]:
            piece = pieces[k]
        else:
            piece = _build_object(k, obj)
        triangles += sum(len(part.mesh.faces) for part in piece.parts)
        if triangles > MAX_SCENE_TRIANGLES or len(named) + len(piece.parts) > MAX_SCENE_PARTS:
            what = (
                f"{MAX_SCENE_TRIANGLES:,} triangles"
                if triangles > MAX_SCENE_TRIANGLES
                else f"{MAX_SCENE_PARTS:,} labelled parts (instance ids are 16-bit)"
            )
            raise SceneError(
                f"invalid scene description: the scene has more than {what} (reached at object {k} "
                f"{obj['name']!r}); use fewer or simpler objects"
            )
        transform = pose_matrix(*obj["pose"])
        for part in piece.parts:
            name = f"{obj['name']}/{part.name}" if obj["name"] else part.name  # "" = an imported scene's parts
            named.append((name, part.class40, _placed(part.mesh, transform)))
    objects = tuple(SceneObject(mesh=m, class40=c, instance_id=i + 1, name=n) for i, (n, c, m) in enumerate(named))
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    keep = np.asarray(description.get("keep_clear", []), dtype=np.float64).reshape(-1, 4)
    return Scene(
        room=Room(room["type"], (float(hi[0] - lo[0]), float(hi[1] - lo[1]), height), keep, polygon),
        objects=objects,
        description=description,
    )


def _build_object(index: int, obj: dict) -> Piece:
    """The piece of a checked description's object; SceneError naming the object when its params cannot
    be built (a missing key, values that contradict each other)."""
    where = f"invalid scene description: object {index} {obj['name']!r} ({obj['kind']})"
    try:
        with np.errstate(all="ignore"):  # a zero size may divide by zero: the result is checked below
            piece = build_piece(obj["kind"], obj["params"])
    except InputError as exc:
        if obj["kind"] == "imported":
            raise
        raise SceneError(f"{where}: {exc}") from None
    except _BUILD_ERRORS as exc:
        raise SceneError(
            f"{where} cannot be built from its params ({type(exc).__name__}: {exc}); "
            "draw them with 'synthcam scenes sample'"
        ) from None
    if not all(np.isfinite(part.mesh.vertices).all() for part in piece.parts):
        raise SceneError(
            f"{where}: its params give non-finite vertices (a size of 0?); draw them with 'synthcam scenes sample'"
        )
    return piece


def _placed(mesh: trimesh.Trimesh, transform: np.ndarray) -> trimesh.Trimesh:
    """A copy of ``mesh`` moved by the rigid ``transform`` (4, 4); the same vertices as
    ``mesh.copy().apply_transform(transform)`` for a yaw-and-translate pose, without copying caches and visuals
    of plain meshes (the generators' parts carry none)."""
    visual = mesh.visual
    if mesh.metadata or mesh.vertex_attributes or mesh.face_attributes or (visual is not None and visual.defined):
        return mesh.copy().apply_transform(transform)
    vertices = trimesh.transformations.transform_points(mesh.vertices, transform)
    return trimesh.Trimesh(vertices, np.array(mesh.faces, dtype=np.int64), process=False)


def save_description(description: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(description, indent=1, sort_keys=True) + "\n")


def load_description(path: Path) -> dict:
    """The parsed JSON of a scene description file (checked when built, see :func:`build_scene`).

    Raises SceneError for a missing or unreadable file, anything but a regular file, a file larger than
    ``MAX_DESCRIPTION_BYTES``, and text that is not JSON (nesting too deep to parse included).
    """
    path = Path(path)
    try:
        info = path.stat()  # before opening: opening a pipe would wait for a writer
        if not stat.S_ISREG(info.st_mode):
            raise SceneError(
                f"{path} is not a regular file; pass a scene description written by 'synthcam scenes sample'"
            )
        if info.st_size > MAX_DESCRIPTION_BYTES:
            raise SceneError(
                f"{path} is {info.st_size / MIB:.1f} MiB, larger than the limit of "
                f"{MAX_DESCRIPTION_BYTES // MIB} MiB for a scene description; split the scene"
            )
        with path.open("rb") as f:
            data = f.read(MAX_DESCRIPTION_BYTES + 1)
    except FileNotFoundError:
        raise SceneError(
            f"{path} does not exist; pass a scene description written by 'synthcam scenes sample'"
        ) from None
    except OSError as exc:
        raise SceneError(f"cannot read {path} ({exc.strerror}); check the path and its permissions") from None
    if len(data) > MAX_DESCRIPTION_BYTES:
        raise SceneError(
            f"{path} grew past the limit of {MAX_DESCRIPTION_BYTES // MIB} MiB while being read; "
            "pass a finished scene description"
        )
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise SceneError(
            f"{path} nests lists or mappings too deeply to read; pass a scene description written by "
            "'synthcam scenes sample'"
        ) from None
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, and integers too long to convert
        raise SceneError(f"{path} is not JSON; pass a scene description written by 'synthcam scenes sample'") from None
