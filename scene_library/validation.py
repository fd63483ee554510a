"""Up-front checks of scene descriptions (format: :mod:`scene_library.description`).

:func:`check_description` runs before anything is built and refuses, with one
:class:`~scene_library.errors.SceneError` naming the field and what to do, every description that is not
well formed or breaks a limit of :mod:`scene_library.limits`:

* ``format`` / ``version``, and no keys besides the known ones at the top, in ``room`` and in each object;
* ``room``: ``type`` a short text; ``polygon`` 3..``MAX_POLYGON_VERTICES`` finite ``[x, y]`` vertices
  inside ``[0, MAX_ROOM_EXTENT]`` in both axes -- for a room with a generated shell also a simple
  (not self-intersecting) counter-clockwise outline of at least ``MIN_FLOOR_AREA``; ``height`` finite,
  at most ``MAX_ROOM_HEIGHT`` (and above 0 with a shell); ``skirting_gaps`` ``[wall, s0, s1]`` on existing
  walls; ``shell`` true or false;
* ``keep_clear``: at most ``MAX_ROOM_RECTS`` finite rectangles ``[x0, y0, x1, y1]`` near the room;
* ``objects``: at most ``MAX_OBJECTS``, each with a short text ``name``, a registered ``kind`` (or
  ``"imported"``), ``params`` the kind takes (:func:`scene_library.objects.params.check_params`; for an
  imported mesh existing ``path`` and ``label_map`` files, ``up`` ``"z"`` or ``"y"``, a finite ``scale``
  above 0) and a ``pose`` ``[x, y, z, yaw]`` of finite numbers within ``POSE_MARGIN`` of the room.

The checks cost well under a millisecond per object, little beside building the meshes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from scene_library.errors import SceneError
from scene_library.limits import (
    MAX_OBJECTS,
    MAX_POLYGON_VERTICES,
    MAX_ROOM_EXTENT,
    MAX_ROOM_HEIGHT,
    MAX_ROOM_RECTS,
    MAX_TEXT,
    MAX_YAW,
    MIN_FLOOR_AREA,
    POSE_MARGIN,
)
from scene_library.objects import get_spec
from scene_library.objects.params import check_params, listed_keys, short_value
from synthcam_core.errors import InputError

FORMAT, VERSION = "synthcam-scene", 1
TOP_KEYS = ("format", "version", "room", "keep_clear", "objects")
ROOM_KEYS = ("type", "polygon", "height", "skirting_gaps", "shell")
OBJECT_KEYS = ("name", "kind", "params", "pose")
IMPORTED_KEYS = ("path", "label_map", "up", "scale")
_EPS = 1e-6  # m: rounding slack on the room bounds
_HINT = "write one with 'synthcam scenes sample'"


def _fail(message: str) -> SceneError:
    return SceneError(f"invalid scene description: {message}")


def check_description(description: Any) -> None:
    """Raise SceneError (one line: the field, what is wrong, what to do) unless ``description`` is a
    well-formed scene description within the limits (see the module docstring)."""
    if (
        not isinstance(description, dict)
        or description.get("format") != FORMAT
        or description.get("version") != VERSION
    ):
        raise SceneError(f"not a {FORMAT} v{VERSION} description; {_HINT}")
    _known_keys(description, TOP_KEYS, "the top level")
    for key in ("room", "objects"):
        if key not in description:
            raise _fail(f"it has no {key!r}; {_HINT}")
    polygon, height = _check_room(description["room"])
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    _check_keep_clear(description.get("keep_clear", []))
    objects = description["objects"]
    if not isinstance(objects, list):
        raise _fail(f"'objects' must be a list of objects, not {_kind_of(objects)}")
    if len(objects) > MAX_OBJECTS:
        raise _fail(f"it has {len(objects)} objects, more than the limit of {MAX_OBJECTS}; split the scene")
    for index, obj in enumerate(objects):
        _check_object(index, obj, lo, hi, height)


# --- room -------------------------------------------------------------------------------------------


def _check_room(room: Any) -> tuple[np.ndarray, float]:
    """The checked room's (P, 2) float64 polygon and its height (m)."""
    if not isinstance(room, dict):
        raise _fail(f"'room' must be a mapping with 'type', 'polygon' and 'height', not {_kind_of(room)}")
    _known_keys(room, ROOM_KEYS, "'room'")
    for key in ("type", "polygon", "height"):
        if key not in room:
            raise _fail(f"'room' has no {key!r}; {_HINT}")
    if not isinstance(room["type"], str) or not 0 < len(room["type"]) <= MAX_TEXT:
        raise _fail(f"room 'type' must be a name such as 'bedroom' (a text of 1 to {MAX_TEXT} characters)")
    shell = room.get("shell", True)
    if not isinstance(shell, bool):
        raise _fail("room 'shell' must be true or false")
    polygon = _check_polygon(room["polygon"], shell)
    height = _number(room["height"], "room 'height'")
    if not (0 < height if shell else 0 <= height) or height > MAX_ROOM_HEIGHT:
        raise _fail(f"room 'height' is {height:g} m; use a ceiling height above 0 and at most {MAX_ROOM_HEIGHT:g} m")
    _check_gaps(room.get("skirting_gaps", []), len(polygon))
    return polygon, height


def _check_polygon(value: Any, shell: bool) -> np.ndarray:
    """The floor plan as a (P, 2) float64 array, after the checks of the module docstring."""
    where = "room 'polygon'"
    if not isinstance(value, (list, tuple)) or not 3 <= len(value) <= MAX_POLYGON_VERTICES:
        size = f"{len(value)} vertices" if isinstance(value, (list, tuple)) else _kind_of(value)
        raise _fail(f"{where} must list 3 to {MAX_POLYGON_VERTICES} [x, y] vertices, not {size}")
    points = np.array([_pair(v, f"{where} vertex {i}") for i, v in enumerate(value)], dtype=np.float64)
    if points.min() < -_EPS or points.max() > MAX_ROOM_EXTENT + _EPS:
        raise _fail(
            f"{where} spans x {points[:, 0].min():g}..{points[:, 0].max():g}, y {points[:, 1].min():g}.."
            f"{points[:, 1].max():g} m; the floor plan must lie within [0, {MAX_ROOM_EXTENT:g}] m in x and y "
            "(move its corner to the origin, or make the room smaller)"
        )
    if not shell:
        return points
    edges = np.roll(points, -1, axis=0) - points
    short = np.flatnonzero(np.hypot(edges[:, 0], edges[:, 1]) < 1e-6)
    if len(short):
        raise _fail(f"{where} repeats vertex {int(short[0])} at the next position; remove the duplicate")
    crossing = _self_intersection(points)
    if crossing is not None:
        raise _fail(
            f"{where} intersects itself (edges {crossing[0]} and {crossing[1]} meet); "
            "list the vertices of a simple outline in order around the room"
        )
    area = 0.5 * float(
        np.dot(points[:, 0], np.roll(points[:, 1], -1)) - np.dot(points[:, 1], np.roll(points[:, 0], -1))
    )
    if abs(area) < MIN_FLOOR_AREA:
        raise _fail(f"{where} encloses {abs(area):g} m^2; a room needs at least {MIN_FLOOR_AREA:g} m^2 of floor")
    if area < 0:
        raise _fail(f"{where} runs clockwise; list the vertices counter-clockwise (reverse their order)")
    return points


def _self_intersection(points: np.ndarray) -> tuple[int, int] | None:
    """The first pair of edges (i, j) of the closed outline (P, 2) that cross or touch without being
    neighbours, or two neighbouring edges that fold back onto each other; None for a simple outline."""
    n = len(points)
    a, b = points, np.roll(points, -1, axis=0)
    # Neighbours folding back: edge i and edge i+1 collinear and pointing opposite ways.
    e, f = b - a, np.roll(b - a, -1, axis=0)
    cross = e[:, 0] * f[:, 1] - e[:, 1] * f[:, 0]
    fold = np.flatnonzero((np.abs(cross) <= 1e-9 * np.hypot(*e.T) * np.hypot(*f.T)) & ((e * f).sum(axis=1) < 0))
    if len(fold):
        return int(fold[0]), int((fold[0] + 1) % n)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the last edge neighbours the first
    i, j = i[keep], j[keep]
    p1, p2, q1, q2 = a[i], b[i], a[j], b[j]
    d1, d2, d3, d4 = _orient(q1, q2, p1), _orient(q1, q2, p2), _orient(p1, p2, q1), _orient(p1, p2, q2)
    eps = 1e-9 * MAX_ROOM_EXTENT**2
    proper = (
        (d1 * d2 < 0)
        & (d3 * d4 < 0)
        & (np.abs(d1) > eps)
        & (np.abs(d2) > eps)
        & (np.abs(d3) > eps)
        & (np.abs(d4) > eps)
    )
    touch = (
        _on_segment(q1, q2, p1, d1, eps)
        | _on_segment(q1, q2, p2, d2, eps)
        | _on_segment(p1, p2, q1, d3, eps)
        | _on_segment(p1, p2, q2, d4, eps)
    )
    hit = np.flatnonzero(proper | touch)
    return None if not len(hit) else (int(i[hit[0]]), int(j[hit[0]]))


def _orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(N,) twice the signed area of the triangles (p, q, r), each (N, 2)."""
    return (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])


def _on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray, d: np.ndarray, eps: float) -> np.ndarray:
    """(N,) whether point r lies on segment pq, given d = _orient(p, q, r)."""
    inside_x = (np.minimum(p[:, 0], q[:, 0]) - 1e-9 <= r[:, 0]) & (r[:, 0] <= np.maximum(p[:, 0], q[:, 0]) + 1e-9)
    inside_y = (np.minimum(p[:, 1], q[:, 1]) - 1e-9 <= r[:, 1]) & (r[:, 1] <= np.maximum(p[:, 1], q[:, 1]) + 1e-9)
    return (np.abs(d) <= eps) & inside_x & inside_y


def _check_gaps(gaps: Any, n_walls: int) -> None:
    where = "room 'skirting_gaps'"
    if not isinstance(gaps, (list, tuple)) or len(gaps) > MAX_ROOM_RECTS:
        raise _fail(f"{where} must be a list of at most {MAX_ROOM_RECTS} [wall, s0, s1] spans")
    for k, gap in enumerate(gaps):
        if not isinstance(gap, (list, tuple)) or len(gap) != 3:
            raise _fail(f"{where} entry {k} must be [wall index, start, end] (metres along the wall)")
        wall = gap[0]
        if isinstance(wall, bool) or not isinstance(wall, int) or not 0 <= wall < n_walls:
            raise _fail(f"{where} entry {k} names wall {short_value(wall)}; use a wall index 0..{n_walls - 1}")
        s0, s1 = (_number(s, f"{where} entry {k}") for s in gap[1:])
        if not -MAX_ROOM_EXTENT <= s0 <= s1 <= 2 * MAX_ROOM_EXTENT:
            raise _fail(f"{where} entry {k} spans {s0:g}..{s1:g} m; give start <= end along the wall")


def _check_keep_clear(rects: Any) -> None:
    where = "'keep_clear'"
    if not isinstance(rects, (list, tuple)) or len(rects) > MAX_ROOM_RECTS:
        raise _fail(f"{where} must be a list of at most {MAX_ROOM_RECTS} [x0, y0, x1, y1] rectangles")
    lo, hi = -POSE_MARGIN, MAX_ROOM_EXTENT + POSE_MARGIN
    for k, rect in enumerate(rects):
        if not isinstance(rect, (list, tuple, np.ndarray)) or len(rect) != 4:
            raise _fail(f"{where} entry {k} must be [x0, y0, x1, y1] (metres)")
        x0, y0, x1, y1 = (_number(v, f"{where} entry {k}") for v in rect)
        if not (lo <= x0 <= x1 <= hi and lo <= y0 <= y1 <= hi):
            raise _fail(
                f"{where} entry {k} is [{x0:g}, {y0:g}, {x1:g}, {y1:g}]; give x0 <= x1 and y0 <= y1 "
                f"within {lo:g}..{hi:g} m"
            )


# --- objects ----------------------------------------------------------------------------------------


def _check_object(index: int, obj: Any, lo: np.ndarray, hi: np.ndarray, height: float) -> None:
    if not isinstance(obj, dict):
        raise _fail(f"object {index} must be a mapping with 'name', 'kind', 'params' and 'pose', not {_kind_of(obj)}")
    _known_keys(obj, OBJECT_KEYS, f"object {index}")
    for key in OBJECT_KEYS:
        if key not in obj:
            raise _fail(f"object {index} has no {key!r}; give each object {', '.join(map(repr, OBJECT_KEYS))}")
    name, kind = obj["name"], obj["kind"]
    if not isinstance(name, str) or len(name) > MAX_TEXT:
        raise _fail(f"object {index}: 'name' must be a text of at most {MAX_TEXT} characters, not {short_value(name)}")
    if not isinstance(kind, str) or len(kind) > MAX_TEXT:
        raise _fail(f"object {index} {name!r}: 'kind' must be an object kind such as 'bed', not {short_value(kind)}")
    where = f"object {index} {name!r} ({kind})"
    if kind == "imported":
        _check_imported(obj["params"], where)
    else:
        try:
            get_spec(kind)
        except InputError as exc:
            raise _fail(f"object {index} {name!r}: {exc}") from None
        try:
            check_params(kind, obj["params"], where)
        except InputError as exc:
            raise _fail(str(exc)) from None
    _check_pose(obj["pose"], where, lo, hi, height)


def _check_pose(pose: Any, where: str, lo: np.ndarray, hi: np.ndarray, height: float) -> None:
    if not isinstance(pose, (list, tuple)) or len(pose) != 4:
        raise _fail(f"{where}: 'pose' must be [x, y, z, yaw] (metres, radians), not {short_value(pose)}")
    x, y, z, yaw = (_number(v, f"{where}: 'pose'") for v in pose)
    m = POSE_MARGIN
    if not (lo[0] - m <= x <= hi[0] + m and lo[1] - m <= y <= hi[1] + m and -m <= z <= height + m):
        raise _fail(
            f"{where}: 'pose' places it at ({x:g}, {y:g}, {z:g}) m, outside the room "
            f"(x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}, z 0..{height:g} m, {m:g} m of margin); "
            "move it into the room"
        )
    if abs(yaw) > MAX_YAW:
        raise _fail(f"{where}: 'pose' yaw is {yaw:g} rad; use an angle within +-{MAX_YAW:g} rad")


def _check_imported(params: Any, where: str) -> None:
    """An imported mesh's params: existing mesh and label-map files, up axis, scale."""
    if not isinstance(params, dict):
        raise _fail(f"{where}: 'params' must be a mapping with 'path' and 'label_map', not {_kind_of(params)}")
    _known_keys(params, IMPORTED_KEYS, f"{where} 'params'")
    for key, what in (("path", "mesh file"), ("label_map", "label map")):
        value = params.get(key)
        if not isinstance(value, str) or not 0 < len(value) <= 4096:
            raise _fail(f"{where}: 'params' needs {key!r}, the path of its {what}")
        if not Path(value).is_file():
            raise _fail(f"{where}: the {what} {value} does not exist (or is not a file); fix the path in 'params'")
    if params.get("up", "z") not in ("z", "y"):
        raise _fail(f"{where}: 'up' must be 'z' or 'y' (the mesh file's up axis), not {short_value(params.get('up'))}")
    scale = _number(params.get("scale", 1.0), f"{where}: 'scale'")
    if scale <= 0:
        raise _fail(f"{where}: 'scale' is {scale:g}; use the metres per file unit, above 0 (e.g. 0.01 for cm)")


# --- values -----------------------------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    """``value`` as a finite float; SceneError naming ``where`` otherwise (text, flags, NaN, infinities,
    integers too large for a float)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _fail(f"{where} must hold numbers, not {short_value(value)}")
    if isinstance(value, (int, np.integer)) and abs(int(value)) > 1e300:
        raise _fail(f"{where} holds a number too large to use; give metres")
    value = float(value)
    if not math.isfinite(value):
        raise _fail(f"{where} holds {value}; give finite numbers")
    return value


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _fail(f"{where} must be [x, y] (metres), not {short_value(value)}")
    return _number(value[0], where), _number(value[1], where)


def _known_keys(mapping: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise _fail(f"{where} has unknown key(s) {listed_keys(unknown)}; the keys are {', '.join(map(repr, allowed))}")


def _kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
