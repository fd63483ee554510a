"""Fast mesh primitives for the generators: boxes, surfaces of revolution, rods and their transforms.

Everything here is in metres and radians. The primitives build vertex and face arrays with numpy and
return them as a :class:`PrimitiveMesh` that :func:`scene_library.objects.shapes.part` joins into an
unprocessed :class:`trimesh.Trimesh` (no vertex merging), which is ~20x faster than ``trimesh.creation`` and
keeps every coordinate exactly where the arithmetic put it: a box from ``z0 = 0.0`` has its lowest vertices
at exactly 0.0. Faces are wound counter-clockwise seen from outside (outward normals) for every closed
primitive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeAlias

import numpy as np
import trimesh

#: A box given by its bounds (x0, x1, y0, y1, z0, z1), metres.
Bounds = Sequence[float]

# Corner i of a box has x = bit 0, y = bit 1, z = bit 2 of i (0 -> min, 1 -> max).
_BOX_FACES = np.array(
    [
        [0, 2, 1],
        [1, 2, 3],  # z min
        [4, 5, 6],
        [5, 7, 6],  # z max
        [0, 1, 4],
        [1, 5, 4],  # y min
        [2, 6, 3],
        [3, 6, 7],  # y max
        [0, 4, 2],
        [2, 4, 6],  # x min
        [1, 3, 5],
        [3, 7, 5],  # x max
    ],
    dtype=np.int64,
)
_CORNER_BITS = np.array([[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)], dtype=bool)
#: Column of (x0, x1, y0, y1, z0, z1) that each coordinate of each box corner takes: (8, 3) int.
_CORNER_COLUMNS = 2 * np.arange(3)[None, :] + _CORNER_BITS


# --- meshes ---------------------------------------------------------------------------------------


def mesh_of(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """An unprocessed mesh (no merging or reordering) from float vertices and int faces."""
    return trimesh.Trimesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64), process=False)


class PrimitiveMesh:
    """The vertex and face arrays of a primitive, made a :class:`trimesh.Trimesh` only when needed.

    A piece is built from hundreds of primitives that are only ever joined into parts, so the primitives
    skip the Trimesh construction (about a tenth of a room's build time). ``vertices`` (V, 3) float64 and
    ``faces`` (F, 3) int64 are plain arrays; any other Trimesh attribute (``bounds``, ``is_watertight``, ...)
    is answered by the equivalent unprocessed Trimesh, built on first use (:meth:`to_trimesh`).
    """

    __slots__ = ("vertices", "faces", "_mesh")

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        self.vertices, self.faces = vertices, faces
        self._mesh: trimesh.Trimesh | None = None

    def to_trimesh(self) -> trimesh.Trimesh:
        if self._mesh is None:
            self._mesh = mesh_of(self.vertices, self.faces)
        return self._mesh

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # private and special names (copy, pickle) are not delegated
            raise AttributeError(name)
        return getattr(self.to_trimesh(), name)


#: What the builders take and return: a primitive or an unprocessed Trimesh (both have ``vertices`` and ``faces``).
Mesh: TypeAlias = trimesh.Trimesh | PrimitiveMesh


def _primitive(vertices: np.ndarray, faces: np.ndarray) -> PrimitiveMesh:
    return PrimitiveMesh(np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64))


def as_trimesh(mesh: Mesh) -> trimesh.Trimesh:
    """``mesh`` as a :class:`trimesh.Trimesh` (primitives are converted, meshes returned as they are)."""
    return mesh.to_trimesh() if isinstance(mesh, PrimitiveMesh) else mesh


def join(meshes: Iterable[Mesh]) -> trimesh.Trimesh:
    """One mesh holding all the given meshes (no boolean union; they may touch or nest)."""
    meshes = list(meshes)
    if len(meshes) == 1:
        return as_trimesh(meshes[0])
    verts, faces, offset = [], [], 0
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + offset)
        offset += len(m.vertices)
    return mesh_of(np.concatenate(verts), np.concatenate(faces))


def boxes(bounds: Iterable[Bounds]) -> PrimitiveMesh:
    """Axis-aligned boxes, each given as (x0, x1, y0, y1, z0, z1) in metres, as one mesh."""
    b = np.asarray(list(bounds), dtype=np.float64).reshape(-1, 6)
    corners = b[:, _CORNER_COLUMNS]  # (N, 8, 3): corner i takes the min or max bound of each axis by its bits
    faces = _BOX_FACES[None, :, :] + 8 * np.arange(len(b))[:, None, None]
    return _primitive(corners.reshape(-1, 3), faces.reshape(-1, 3))


def bx(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> PrimitiveMesh:
    """One axis-aligned box from its bounds (metres)."""
    corners = np.array((x0, x1, y0, y1, z0, z1), dtype=np.float64)[_CORNER_COLUMNS]
    return _primitive(corners, _BOX_FACES.copy())


def centered_box(w: float, d: float, z0: float, z1: float, cx: float = 0.0, cy: float = 0.0) -> PrimitiveMesh:
    """A box of plan size ``w`` x ``d`` centred on (cx, cy), from height z0 to z1 (metres)."""
    return bx(cx - w / 2, cx + w / 2, cy - d / 2, cy + d / 2, z0, z1)


def rot_x(angle: float) -> np.ndarray:
    """3x3 rotation about +x by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(angle: float) -> np.ndarray:
    """3x3 rotation about +y by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(angle: float) -> np.ndarray:
    """3x3 rotation about +z by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def transformed(
    mesh: Mesh,
    rotation: np.ndarray,
    pivot: Sequence[float] = (0.0, 0.0, 0.0),
    translation: Sequence[float] = (0.0, 0.0, 0.0),
) -> PrimitiveMesh:
    """A copy of ``mesh`` rotated by ``rotation`` (3x3, proper) about ``pivot`` then translated (metres)."""
    p = np.asarray(pivot, dtype=np.float64)
    v = (mesh.vertices - p) @ np.asarray(rotation).T + p + np.asarray(translation, dtype=np.float64)
    return _primitive(v, mesh.faces)


def rotated_box(
    extents: Sequence[float], center: Sequence[float], yaw: float = 0.0, tilt: float = 0.0
) -> PrimitiveMesh:
    """A box of (x, y, z) ``extents`` turned by ``tilt`` about x, then by ``yaw`` about z, centred at ``center``."""
    ex, ey, ez = (e / 2 for e in extents)
    # The arithmetic of transformed(bx(-ex, ex, -ey, ey, -ez, ez), rot_z(yaw) @ rot_x(tilt), translation=center),
    # pivot at the origin included, without the intermediate mesh.
    v = np.array((-ex, ex, -ey, ey, -ez, ez), dtype=np.float64)[_CORNER_COLUMNS]
    p = np.zeros(3)
    v = (v - p) @ np.asarray(rot_z(yaw) @ rot_x(tilt)).T + p + np.asarray(center, dtype=np.float64)
    return _primitive(v, _BOX_FACES.copy())


def lathe(
    profile: Sequence[Sequence[float]],
    sections: int = 16,
    xy: Sequence[float] = (0.0, 0.0),
    ry_scale: float = 1.0,
    closed: bool = False,
) -> PrimitiveMesh:
    """Surface of revolution about the vertical axis through plan point ``xy`` (metres).

    ``profile`` is a list of (r, z) points walked counter-clockwise around the solid's cross-section
    (for a vase: from the bottom centre out, up the outside, in over the lip, down the inside). Points
    with r = 0 become single pole vertices. ``closed`` joins the last point to the first (a ring).
    ``ry_scale`` stretches the y radii (ellipses). Angle 0 points along +x, so with ``sections`` a multiple
    of 4 the extreme x and y coordinates are exactly the profile radii.
    """
    return _primitive(*_lathe_arrays(profile, sections, xy, ry_scale, closed))


def _lathe_arrays(
    profile: Sequence[Sequence[float]], sections: int, xy: Sequence[float], ry_scale: float, closed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float64 vertices and (F, 3) int64 faces of :func:`lathe` (no mesh object: the fast inner path)."""
    prof = [(float(r), float(z)) for r, z in profile]
    ca, sa = _ring_trig(sections)
    verts = np.empty((sum(1 if r == 0.0 else sections for r, _ in prof), 3))
    n = 0
    for r, z in prof:
        if r == 0.0:
            verts[n] = (xy[0], xy[1], z)
            n += 1
        else:
            ring = verts[n : n + sections]
            ring[:, 0] = xy[0] + r * ca
            ring[:, 1] = xy[1] + r * ry_scale * sa
            ring[:, 2] = z
            n += sections
    return verts, _lathe_faces(tuple(r == 0.0 for r, _ in prof), sections, closed).copy()


@lru_cache(maxsize=64)
def _ring_trig(sections: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) of the ``sections`` ring angles of :func:`lathe`, exact on the axes when ``sections % 4 == 0``."""
    ang = 2.0 * np.pi * np.arange(sections) / sections
    ca, sa = np.cos(ang), np.sin(ang)
    if sections % 4 == 0:  # exact axis points, so radii are exact extremes
        q = sections // 4
        ca[q], ca[3 * q], sa[0], sa[2 * q] = 0.0, 0.0, 0.0, 0.0
        ca[0], ca[2 * q], sa[q], sa[3 * q] = 1.0, -1.0, 1.0, -1.0
    ca.flags.writeable = sa.flags.writeable = False
    return ca, sa


@lru_cache(maxsize=256)
def _lathe_faces(poles: tuple[bool, ...], sections: int, closed: bool) -> np.ndarray:
    """(F, 3) int64 faces of a :func:`lathe` whose profile points are poles (r = 0) where ``poles`` is True."""
    rings, n = [], 0
    for pole in poles:
        rings.append(np.full(sections, n) if pole else np.arange(n, n + sections))
        n += 1 if pole else sections
    faces = []
    k = np.arange(sections)
    k1 = (k + 1) % sections
    pairs = list(zip(range(len(poles) - 1), range(1, len(poles))))
    if closed:
        pairs.append((len(poles) - 1, 0))
    for i, j in pairs:
        a, b = rings[i], rings[j]
        if poles[i] and poles[j]:
            continue
        if not poles[i]:
            faces.append(np.column_stack([a[k], a[k1], b[k1]]))
        if not poles[j]:
            faces.append(np.column_stack([a[k], b[k1], b[k]]))
    out = np.concatenate(faces)
    out.flags.writeable = False
    return out


def cyl(
    r: float, z0: float, z1: float, xy: Sequence[float] = (0.0, 0.0), sections: int = 12, ry: float | None = None
) -> PrimitiveMesh:
    """Closed vertical (elliptic if ``ry`` is given) cylinder from z0 to z1 around ``xy`` (metres)."""
    return _primitive(*_cyl_arrays(r, z0, z1, xy, sections, ry))


def _cyl_arrays(
    r: float, z0: float, z1: float, xy: Sequence[float] = (0.0, 0.0), sections: int = 12, ry: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of :func:`cyl`."""
    return _lathe_arrays([(0.0, z0), (r, z0), (r, z1), (0.0, z1)], sections, xy, 1.0 if ry is None else ry / r, False)


def frustum(
    r0: float,
    r1: float,
    z0: float,
    z1: float,
    xy: Sequence[float] = (0.0, 0.0),
    sections: int = 12,
    ry_scale: float = 1.0,
) -> PrimitiveMesh:
    """Closed truncated cone: radius r0 at z0, r1 at z1 (metres)."""
    return lathe([(0.0, z0), (r0, z0), (r1, z1), (0.0, z1)], sections, xy, ry_scale)


def vessel(
    r_bottom: float,
    r_top: float,
    z0: float,
    z1: float,
    wall: float,
    floor: float,
    xy: Sequence[float] = (0.0, 0.0),
    sections: int = 16,
    ry_scale: float = 1.0,
) -> PrimitiveMesh:
    """Open-topped hollow vessel (cup, bin, basin): outer radius r_bottom at z0 to r_top at z1, with
    walls ``wall`` thick and an inner floor ``floor`` above z0 (metres)."""
    inner_top = r_top - wall
    inner_bottom = max(r_bottom - wall, 0.3 * r_bottom)  # always inside the outer wall
    prof = [(0.0, z0), (r_bottom, z0), (r_top, z1), (inner_top, z1), (inner_bottom, z0 + floor), (0.0, z0 + floor)]
    return lathe(prof, sections, xy, ry_scale)


def ellipsoid(
    rx: float, ry: float, rz: float, center: Sequence[float], sections: int = 12, rings: int = 6
) -> PrimitiveMesh:
    """Closed ellipsoid with semi-axes rx, ry, rz (metres) around ``center``; its lowest point is the
    exact centre height minus rz."""
    t = np.linspace(-np.pi / 2, np.pi / 2, rings + 1)
    prof = (
        [(0.0, center[2] - rz)]
        + [(rx * math.cos(a), center[2] + rz * math.sin(a)) for a in t[1:-1]]
        + [(0.0, center[2] + rz)]
    )
    return lathe(prof, sections, center[:2], ry / rx)


def rod_x(r: float, x0: float, x1: float, y: float, z: float, sections: int = 8) -> PrimitiveMesh:
    """Closed cylinder of radius r along x from x0 to x1, axis at (y, z) (metres)."""
    v, f = _cyl_arrays(r, x0, x1, sections=sections)
    return _primitive(np.column_stack([v[:, 2], y + v[:, 1], z - v[:, 0]]), f)  # rotation +90 deg about y


def rod_y(r: float, y0: float, y1: float, x: float, z: float, sections: int = 8) -> PrimitiveMesh:
    """Closed cylinder of radius r along y from y0 to y1, axis at (x, z) (metres)."""
    v, f = _cyl_arrays(r, y0, y1, sections=sections)
    return _primitive(np.column_stack([x + v[:, 0], v[:, 2], z - v[:, 1]]), f)  # rotation -90 deg about x


def rod_between(p0: Sequence[float], p1: Sequence[float], r: float, sections: int = 6) -> PrimitiveMesh:
    """Closed cylinder of radius r from point p0 to point p1 (metres)."""
    a, b = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    axis = b - a
    length = float(np.linalg.norm(axis))
    v, f = _cyl_arrays(r, 0.0, length, sections=sections)
    z = axis / length
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return _primitive(v @ np.column_stack([x, y, z]).T + a, f)


def disc_y(
    r: float, y0: float, y1: float, x: float, z: float, sections: int = 16, rz: float | None = None
) -> PrimitiveMesh:
    """A flat (elliptic if ``rz``) disc facing -y, from y0 to y1, centred at (x, z): round mirrors, knobs."""
    v, f = _cyl_arrays(r, y0, y1, sections=sections, ry=rz)
    return _primitive(np.column_stack([x + v[:, 0], v[:, 2], z - v[:, 1]]), f)


def tapered_box(
    w0: float, d0: float, w1: float, d1: float, z0: float, z1: float, xy: Sequence[float] = (0.0, 0.0)
) -> PrimitiveMesh:
    """Closed box with a w0 x d0 bottom at z0 and a w1 x d1 top at z1, both centred on ``xy`` (metres)."""
    half = np.array([[w0 / 2, d0 / 2, z0], [w1 / 2, d1 / 2, z1]])
    sign = np.where(_CORNER_BITS[:, :2], 1.0, -1.0)
    level = _CORNER_BITS[:, 2].astype(int)
    v = np.column_stack([xy[0] + sign[:, 0] * half[level, 0], xy[1] + sign[:, 1] * half[level, 1], half[level, 2]])
    return _primitive(v, _BOX_FACES.copy())


def open_box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, wall: float) -> PrimitiveMesh:
    """An open-topped box (floor and four walls, ``wall`` thick) filling the given bounds (metres)."""
    return boxes(
        [
            (x0, x1, y0, y1, z0, z0 + wall),
            (x0, x1, y0, y0 + wall, z0 + wall, z1),
            (x0, x1, y1 - wall, y1, z0 + wall, z1),
            (x0, x0 + wall, y0 + wall, y1 - wall, z0 + wall, z1),
            (x1 - wall, x1, y0 + wall, y1 - wall, z0 + wall, z1),
        ]
    )


def clamp_to_floor(mesh: Mesh) -> PrimitiveMesh:
    """A copy with every vertex below z = 0 lifted to z = 0 (flattens slanted rod ends that dip into the floor)."""
    v = mesh.vertices.copy()
    v[:, 2] = np.maximum(v[:, 2], 0.0)
    return _primitive(v, mesh.faces)
