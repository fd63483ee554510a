"""Plain scene values: labelled meshes in a room, in world coordinates.

World frame: right-handed, z up, metres; the floor is z = 0 and a rectangular room spans
``[0, size_x] x [0, size_y]`` in plan. Every object is one trimesh mesh with one NYUv2-40 class and
one instance id (1-based; 0 is reserved for "no object").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from synthcam_core.labels import class40_names


@dataclass(frozen=True)
class SceneObject:
    """One labelled mesh.

    mesh : trimesh.Trimesh in world coordinates (metres).
    class40 : NYUv2-40 class id, 1..40.
    instance_id : unique within its scene, >= 1.
    name : readable path such as ``"bed_3/pillow_1"``; the part before ``/`` names the piece.
    """

    mesh: trimesh.Trimesh
    class40: int
    instance_id: int
    name: str

    @property
    def piece(self) -> str:
        """Name of the furniture piece (or shell element) this object belongs to."""
        return self.name.split("/", 1)[0]


@dataclass(frozen=True)
class Room:
    """Room metadata.

    room_type : e.g. ``"bedroom"``.
    size : (size_x, size_y, height) in metres; the room lies inside the box [0,sx] x [0,sy] x [0,h].
    keep_clear : (K, 4) float64 plan rectangles ``(x0, y0, x1, y1)`` that must stay free of furniture
        (door swing zones, walkways).
    polygon : (P, 2) float64 floor outline, counter-clockwise, metres (rectangle or L-shape); None means
        the full ``[0,sx] x [0,sy]`` rectangle.
    """

    room_type: str
    size: tuple[float, float, float]
    keep_clear: np.ndarray
    polygon: np.ndarray | None = None

    @property
    def footprint(self) -> np.ndarray:
        """(P, 2) float64 floor polygon, counter-clockwise, metres."""
        if self.polygon is not None:
            return self.polygon
        sx, sy, _ = self.size
        return np.array([[0.0, 0.0], [sx, 0.0], [sx, sy], [0.0, sy]])

    @property
    def area(self) -> float:
        """Floor area in square metres (shoelace formula over :attr:`footprint`)."""
        p = self.footprint
        return 0.5 * abs(float(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))))

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: which of the (N, 2) plan points lie inside the floor polygon, at least ``margin`` m from
        its edges."""
        return points_in_polygon(np.atleast_2d(xy), self.footprint, margin)


def points_in_polygon(points: np.ndarray, polygon: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(N,) bool: points (N, 2) strictly inside the simple polygon (P, 2) and at least ``margin`` from its edges."""
    x, y = points[:, 0:1], points[:, 1:2]
    edges = _polygon_edges(polygon)
    dy = y - edges[1]
    inside = _crossing_inside(x, y, dy, edges)
    if margin > 0:
        inside &= _edge_distance(x, y, dy, edges) >= margin
    return inside


def all_points_in_polygon(points: np.ndarray, polygon: np.ndarray, margin: float = 0.0) -> bool:
    """``points_in_polygon(points, polygon, margin).all()``, skipping the margin test when a point is outside."""
    x, y = points[:, 0:1], points[:, 1:2]
    edges = _polygon_edges(polygon)
    dy = y - edges[1]
    if not _crossing_inside(x, y, dy, edges).all():
        return False
    return margin <= 0 or bool((_edge_distance(x, y, dy, edges) >= margin).all())


def _crossing_inside(x: np.ndarray, y: np.ndarray, dy: np.ndarray, edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """(N,) bool even-odd test of the points (x, y: (N, 1); dy = y - edge start y) against the polygon edges."""
    a0, a1, b1, ab0, _, run, _ = edges
    crosses = ((a1 > y) != (b1 > y)) & (x < ab0 * dy / run + a0)
    return np.count_nonzero(crosses, axis=1) % 2 == 1


def _edge_distance(x: np.ndarray, y: np.ndarray, dy: np.ndarray, edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """(N,) distance (m) from the points to the nearest polygon edge (arguments as :func:`_crossing_inside`)."""
    a0, a1, _, ab0, ab1, _, ab2 = edges
    # np.minimum(np.maximum()) rather than np.clip (slow on tiny arrays): they differ only in the sign of a
    # zero t, which cannot change the distance.
    t = np.minimum(np.maximum(((x - a0) * ab0 + dy * ab1) / ab2, 0), 1)
    return np.hypot(a0 + t * ab0 - x, a1 + t * ab1 - y).min(axis=1)


_EDGE_CACHE: dict[bytes, tuple[np.ndarray, ...]] = {}


def _polygon_edges(polygon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-edge arrays of a polygon (P, 2) used by :func:`points_in_polygon`, memoised by value (the layout
    solver and the trajectory sampler test thousands of points against the same room polygon).

    Returns (P,) float64 start x and y, end y, edge x and y, ``end y - start y + 1e-300`` and the clamped
    squared edge length.
    """
    polygon = np.asarray(polygon, dtype=np.float64)
    key = polygon.tobytes() + str(polygon.shape).encode()
    edges = _EDGE_CACHE.get(key)
    if edges is None:
        a = polygon
        b = np.concatenate((polygon[1:], polygon[:1]))  # the next vertex
        ab = b - a
        edges = (
            a[:, 0].copy(),
            a[:, 1].copy(),
            b[:, 1].copy(),
            ab[:, 0].copy(),
            ab[:, 1].copy(),
            b[:, 1] - a[:, 1] + 1e-300,
            np.maximum((ab**2).sum(axis=1), 1e-300),
        )
        if len(_EDGE_CACHE) >= 256:
            _EDGE_CACHE.clear()
        _EDGE_CACHE[key] = edges
    return edges


@dataclass(frozen=True)
class Scene:
    """A room with its labelled objects (shell elements first, then furniture and props)."""

    room: Room
    objects: tuple[SceneObject, ...]
    description: dict | None = None  #: the recipe it was built from (see scene_library.description)

    @property
    def triangle_count(self) -> int:
        return int(sum(len(o.mesh.faces) for o in self.objects))

    def instance_table(self) -> list[dict]:
        """One JSON-friendly row per object: instance id, class id, class name, object name."""
        names = class40_names()
        return [
            {"instance_id": o.instance_id, "class40": o.class40, "class_name": names[o.class40], "name": o.name}
            for o in self.objects
        ]

    def describe(self) -> dict:
        """A JSON-friendly summary of the room and its objects (no geometry)."""
        sx, sy, h = self.room.size
        return {
            "room_type": self.room.room_type,
            "size_m": [round(sx, 4), round(sy, 4), round(h, 4)],
            "triangles": self.triangle_count,
            "objects": self.instance_table(),
        }

    def to_trimesh(self) -> trimesh.Scene:
        """A trimesh scene with one named node per object (for GLB export and viewing)."""
        out = trimesh.Scene()
        for o in self.objects:
            out.add_geometry(o.mesh, node_name=f"{o.instance_id:04d}:{o.name}", geom_name=o.name)
        return out
