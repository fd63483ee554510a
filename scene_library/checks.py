"""Physical validity checks of built scenes, at mesh level.

Pieces are made of convex primitives (boxes, prisms, cones), so interpenetration is measured exactly:
each piece is split into its convex components and, for every pair of components of *different* pieces
whose bounding boxes meet, the separating-axis theorem over face normals and edge-pair cross products
gives the penetration depth (the smallest overlap over all axes; 0 when they only touch or are apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scene_library.errors import SceneError
from scene_library.scene import Scene, points_in_polygon

SHELL = ("floor", "ceiling", "skirting")


def piece_of(name: str) -> str:
    """The piece an object belongs to: the shell as one piece, otherwise the name before ``/``."""
    top = name.split("/", 1)[0]
    return "shell" if top in SHELL or top.startswith("wall_") else top


@dataclass
class Convex:
    """A convex component: its vertices (V, 3), face normals (F, 3) and edge directions (E, 3)."""

    vertices: np.ndarray
    normals: np.ndarray
    edges: np.ndarray

    @cached_property
    def lo(self) -> np.ndarray:
        return self.vertices.min(axis=0)

    @cached_property
    def hi(self) -> np.ndarray:
        return self.vertices.max(axis=0)


def _unique_directions(v: np.ndarray) -> np.ndarray:
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sign = np.where(
        (v[:, 0] < -1e-9)
        | ((np.abs(v[:, 0]) <= 1e-9) & (v[:, 1] < -1e-9))
        | ((np.abs(v[:, 0]) <= 1e-9) & (np.abs(v[:, 1]) <= 1e-9) & (v[:, 2] < 0)),
        -1.0,
        1.0,
    )
    return np.unique(np.round(v * sign[:, None], 6), axis=0)


def vertex_components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(V,) component label of each vertex, two vertices being joined when a face uses both."""
    parent = np.arange(n_vertices)
    changed = True
    while changed:  # min-label propagation over face corners until stable
        face_min = parent[faces].min(axis=1)
        new = parent.copy()
        for k in range(faces.shape[1]):
            np.minimum.at(new, faces[:, k], face_min)
        new = new[new]
        changed = not np.array_equal(new, parent)
        parent = new
    return parent


def convex_components(mesh) -> list[Convex]:
    """Split a mesh into face-connected components, each treated as its convex hull."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces)
    labels = vertex_components(faces, len(vertices))
    face_labels = labels[faces[:, 0]]
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = []
    for label in np.unique(face_labels):
        sel = face_labels == label
        verts = vertices[labels == label]
        t = tri[sel]
        edges = np.concatenate([t[:, 1] - t[:, 0], t[:, 2] - t[:, 1], t[:, 0] - t[:, 2]])
        good = np.linalg.norm(face_normals[sel], axis=1) > 1e-12
        out.append(Convex(verts, _unique_directions(face_normals[sel][good]), _unique_directions(edges)))
    return out


def penetration(a: Convex, b: Convex) -> float:
    """Penetration depth (m) of two convex components: 0 if they are separated or only touch."""
    axes = [a.normals, b.normals]
    cross = np.cross(a.edges[:, None, :], b.edges[None, :, :]).reshape(-1, 3)
    norm = np.linalg.norm(cross, axis=1)
    axes.append(cross[norm > 1e-6] / norm[norm > 1e-6, None])
    all_axes = np.concatenate(axes)
    pa, pb = a.vertices @ all_axes.T, b.vertices @ all_axes.T
    overlap = np.minimum(pa.max(axis=0), pb.max(axis=0)) - np.maximum(pa.min(axis=0), pb.min(axis=0))
    return float(max(overlap.min(), 0.0))


def max_interpenetration(scene: Scene) -> tuple[float, tuple[str, str] | None]:
    """The deepest penetration (m) between components of different pieces, and that pair of pieces."""
    comps: list[tuple[str, Convex]] = []
    for obj in scene.objects:
        comps += [(piece_of(obj.name), c) for c in convex_components(obj.mesh)]
    lo = np.array([c.lo for _, c in comps])
    hi = np.array([c.hi for _, c in comps])
    worst, pair = 0.0, None
    for i, (pi, ci) in enumerate(comps):
        cand = (
            np.nonzero(np.all(lo[i + 1 :] < hi[i] - 1e-4, axis=1) & np.all(hi[i + 1 :] > lo[i] + 1e-4, axis=1))[0]
            + i
            + 1
        )
        for j in cand:
            pj, cj = comps[j]
            if pj == pi:
                continue
            depth = penetration(ci, cj)
            if depth > worst:
                worst, pair = depth, (pi, pj)
    return worst, pair


def outside_room(scene: Scene, tol: float = 1e-3) -> list[str]:
    """Pieces with a vertex outside the floor polygon or above the ceiling / below the floor."""
    poly = scene.room.footprint
    grown = poly  # points on the boundary count as inside within ``tol`` via a small inward shift below
    bad = set()
    centre = poly.mean(axis=0)
    for obj in scene.objects:
        piece = piece_of(obj.name)
        if piece == "shell":
            continue
        v = obj.mesh.vertices
        xy = v[:, :2] + tol * np.sign(centre - v[:, :2])  # forgive boundary contact
        if not points_in_polygon(xy, grown).all() or v[:, 2].min() < -tol or v[:, 2].max() > scene.room.size[2] + tol:
            bad.add(piece)
    return sorted(bad)


def unsupported(scene: Scene, tol: float = 1e-3) -> list[str]:
    """Objects of the scene description that neither stand on the floor, nor hang on a wall, nor rest
    on a support surface of another object (within ``tol`` m)."""
    from scene_library.description import build_piece, pose_matrix
    from scene_library.geometry2d import Box3
    from scene_library.shell import walls_of

    desc = scene.description
    if desc is None:
        raise SceneError("unsupported() checks a scene built from a description; this scene has none")
    objects = desc["objects"]
    pieces = [build_piece(o["kind"], o["params"]) for o in objects]
    walls = walls_of(np.asarray(desc["room"]["polygon"]))
    surfaces = []  # (owner, z, (4, 2) world corners of the support rectangle)
    for o, p in zip(objects, pieces):
        m = pose_matrix(*o["pose"])
        for s in p.supports:
            corners = np.array([[s.x0, s.y0], [s.x1, s.y0], [s.x1, s.y1], [s.x0, s.y1]])
            world = corners @ m[:2, :2].T + m[:2, 3]
            surfaces.append((o["name"], m[2, 3] + s.z, world))
    fronts = []  # front edges of openings (blinds hang on window frames)
    for o, p in zip(objects, pieces):
        if _is_wall_mounted(o["kind"]):
            corners = Box3(o["pose"][0], o["pose"][1], o["pose"][3], p.width, p.depth, 0, 0).corners()
            fronts.append((corners[0], corners[1]))
    bad = []
    for o, p in zip(objects, pieces):
        x, y, z, yaw = o["pose"]
        if abs(z) <= tol:
            continue
        if _is_wall_mounted(o["kind"]):
            back = np.array([x, y]) + np.array([-np.sin(yaw), np.cos(yaw)]) * p.depth / 2
            faces = [(np.asarray(w.start), np.asarray(w.end)) for w in walls] + fronts
            if min(_distance_to_segment(back, a, b) for a, b in faces) <= tol:
                continue  # hangs on a wall, or on the front of a window frame
        foot = Box3(x, y, yaw, p.width, p.depth, 0, 0).corners()
        if not any(
            owner != o["name"] and abs(sz - z) <= tol and _convex_contains(rect, foot, tol)
            for owner, sz, rect in surfaces
        ):
            bad.append(o["name"])
    return bad


def _is_wall_mounted(kind: str) -> bool:
    from scene_library.objects import OBJECTS

    return kind in OBJECTS and OBJECTS[kind].placement in ("wall_mounted", "opening")


def _distance_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    t = np.clip(np.dot(p - a, b - a) / max(np.dot(b - a, b - a), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(a + t * (b - a) - p))


def _convex_contains(poly: np.ndarray, points: np.ndarray, tol: float) -> bool:
    edges = np.roll(poly, -1, axis=0) - poly
    lengths = np.linalg.norm(edges, axis=1)
    rel = points[:, None, :] - poly[None, :, :]
    cross = (edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]) / lengths
    return bool(np.all(cross >= -tol))


def door_swing_blocked(scene: Scene) -> list[str]:
    """Floor-standing pieces whose footprint enters a keep-clear (door swing) rectangle."""
    from scene_library.geometry2d import plan_overlap, rect_polygon

    bad = set()
    for obj in scene.objects:
        piece = piece_of(obj.name)
        if piece == "shell" or piece.startswith("door") or obj.mesh.bounds[0, 2] > 0.05:
            continue
        hull = obj.mesh.vertices[:, :2]
        lo, hi = hull.min(axis=0), hull.max(axis=0)
        for rect in scene.room.keep_clear:
            if lo[0] < rect[2] and rect[0] < hi[0] and lo[1] < rect[3] and rect[1] < hi[1]:
                # bounding boxes meet: test the object's plan outline exactly (convex hull of its vertices)
                if plan_overlap(_hull2d(hull), rect_polygon(*rect)):
                    bad.add(piece)
    return sorted(bad)


def _cross2(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _hull2d(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of (N, 2) points (monotone chain)."""
    pts = np.unique(np.round(points, 9), axis=0)
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and _cross2(out[-1] - out[-2], p - out[-2]) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])
