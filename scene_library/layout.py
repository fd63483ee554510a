"""Furniture layout: constructive placement against walls and corners, then simulated annealing.

A :class:`Unit` is a rigid group of pieces (a bed with its night stands, a sofa with its coffee
table, a dining table with its chairs) with a local frame like a piece's: bounding box centred in
plan, back at ``+depth/2``. Hard constraints (rejected outright): inside the floor polygon, no overlap
between units, door swing zones free, and, checked on the final layout, a walkway: free floor eroded by
0.25 m connects every door with the front of every unit. Soft terms (annealed): free space in front
of each unit, spacing between units, and pairwise relations such as a TV facing the sofa.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from scene_library.geometry2d import Box3, boxes_overlap, free_floor_connected
from scene_library.objects.base import Piece
from scene_library.scene import all_points_in_polygon, points_in_polygon
from scene_library.shell import Wall

WALL_GAP = 0.03  #: gap between a wall unit's back and the wall (m); clears skirting and openings (> WALL_CLEAR)
UNIT_GAP = 0.05  #: least gap between units (m)
WALKWAY_RADIUS = 0.25  #: half-width of the walkway that must connect doors and unit fronts (m)


@dataclass(frozen=True)
class Member:
    """A piece inside a unit, at (x, y, z, yaw) in the unit's frame."""

    name: str
    piece: Piece
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    yaw: float = 0.0


@dataclass(frozen=True)
class Unit:
    """A rigid group of pieces placed as one.

    placement : "wall", "corner" or "free". width, depth, height : local bounding box (m).
    front_clearance : free floor wanted in front (m). role : e.g. "sofa", "tv" (for relation terms).
    """

    name: str
    members: tuple[Member, ...]
    width: float
    depth: float
    height: float
    placement: str
    front_clearance: float = 0.0
    role: str = ""
    optional: bool = False


def make_unit(
    name: str,
    members: list[Member],
    placement: str,
    front_clearance: float = 0.0,
    role: str = "",
    optional: bool = False,
) -> Unit:
    """A unit whose bounding box encloses its members, re-centred so the box is centred with back at +depth/2."""
    corners = []
    for m in members:
        c, s = np.cos(m.yaw), np.sin(m.yaw)
        local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (m.piece.width / 2, m.piece.depth / 2)
        corners.append(local @ np.array([[c, s], [-s, c]]) + (m.x, m.y))
    pts = np.concatenate(corners)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    mid = (lo + hi) / 2
    shifted = tuple(replace(m, x=round(m.x - mid[0], 6), y=round(m.y - mid[1], 6)) for m in members)
    height = max(m.z + m.piece.height for m in members)
    return Unit(
        name,
        shifted,
        float(hi[0] - lo[0]),
        float(hi[1] - lo[1]),
        float(height),
        placement,
        front_clearance,
        role,
        optional,
    )


@dataclass
class Pose:
    """Where a unit stands: plan centre, yaw, and (for wall/corner units) the wall it backs onto."""

    x: float
    y: float
    yaw: float
    wall: int | None = None
    s: float | None = None


@dataclass
class Layout:
    """The state the solver works on."""

    polygon: np.ndarray
    walls: list[Wall]
    keep_clear: list[np.ndarray]  # plan rectangles (x0, y0, x1, y1)
    doors: list[np.ndarray]  # plan points in front of each door
    fixed: list[Box3] = field(default_factory=list)  # boxes of openings etc. that units must not cut
    units: list[Unit] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)


def unit_box(unit: Unit, pose: Pose) -> Box3:
    return Box3(pose.x, pose.y, pose.yaw, unit.width, unit.depth, 0.0, unit.height)


def front_box(unit: Unit, pose: Pose) -> Box3 | None:
    """The strip of floor in front of a unit that should stay free (None if no clearance wanted)."""
    if unit.front_clearance <= 0:
        return None
    fwd = np.array([np.sin(pose.yaw), -np.cos(pose.yaw)])
    c = np.array([pose.x, pose.y]) + fwd * (unit.depth / 2 + unit.front_clearance / 2)
    return Box3(float(c[0]), float(c[1]), pose.yaw, unit.width, unit.front_clearance, 0.0, 2.0)


WALL_CLEAR = 0.02  #: least distance from any unit corner to the walls (clears the 12 mm skirting)


def box_inside(poly: np.ndarray, corners: np.ndarray, margin: float = WALL_CLEAR) -> bool:
    """Whether a convex plan box (corners (4, 2)) lies inside the floor polygon, ``margin`` m from its walls."""
    if not all_points_in_polygon(corners, poly, margin):
        return False
    # No polygon vertex (e.g. the inner corner of an L) may poke into the box.
    return not _points_in_convex(poly, corners).any()


def _points_in_convex(points: np.ndarray, convex: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    edges = np.concatenate((convex[1:], convex[:1])) - convex
    rel = points[:, None, :] - convex[None, :, :]
    cross = edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0]
    return np.all(cross > eps, axis=1)


def hard_ok(layout: Layout, i: int, pose: Pose) -> bool:
    """Whether unit ``i`` may stand at ``pose`` given the other placed units (not the walkway)."""
    unit = layout.units[i]
    b = unit_box(unit, pose)
    grown = b.grown(UNIT_GAP / 2)
    for j, other in enumerate(layout.poses):
        if j != i and other is not None and boxes_overlap(grown, _spaced_box(layout.units[j], other)):
            return False
    for fixed in layout.fixed:
        if boxes_overlap(b, fixed):
            return False
    for rect in layout.keep_clear:
        zone = Box3(
            (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2, 0.0, rect[2] - rect[0], rect[3] - rect[1], -1.0, 10.0
        )
        if boxes_overlap(b, zone):
            return False
    return box_inside(layout.polygon, b.corners())  # the costliest test last


_SPACED: dict[tuple[float, ...], Box3] = {}


def _spaced_box(unit: Unit, pose: Pose) -> Box3:
    """``unit_box(unit, pose).grown(UNIT_GAP / 2)``, memoised by the values that determine it (the solver
    tests each placed unit against every candidate pose of the others)."""
    key = (unit.width, unit.depth, unit.height, pose.x, pose.y, pose.yaw)
    box = _SPACED.get(key)
    if box is None:
        if len(_SPACED) >= 4096:
            _SPACED.clear()
        box = _SPACED[key] = unit_box(unit, pose).grown(UNIT_GAP / 2)
    return box


def walkway_ok(layout: Layout) -> bool:
    """Doors and the front of every placed unit are connected by free floor at least 0.5 m wide."""
    placed = [(u, p) for u, p in zip(layout.units, layout.poses) if p is not None]
    obstacles = [unit_box(u, p).corners() for u, p in placed]
    reach = list(layout.doors)
    for u, p in placed:
        fwd = np.array([np.sin(p.yaw), -np.cos(p.yaw)])
        reach.append(np.array([p.x, p.y]) + fwd * (u.depth / 2 + WALKWAY_RADIUS + 0.05))
    return free_floor_connected(layout.polygon, obstacles, WALKWAY_RADIUS, reach)


def propose(layout: Layout, i: int, rng: np.random.Generator) -> Pose | None:
    """A fresh random pose for unit ``i`` following its placement rule."""
    unit = layout.units[i]
    if unit.placement in ("wall", "corner"):
        wall = layout.walls[int(rng.integers(len(layout.walls)))]
        half = unit.width / 2 + WALL_GAP
        if wall.length < 2 * half:
            return None
        if unit.placement == "corner":
            s = half if rng.random() < 0.5 else wall.length - half
        else:
            s = float(rng.uniform(half, wall.length - half))
        c = wall.point(s, WALL_GAP + unit.depth / 2)
        return Pose(float(c[0]), float(c[1]), wall.yaw, wall.index, s)
    lo, hi = layout.polygon.min(axis=0), layout.polygon.max(axis=0)
    yaw = float(rng.integers(4)) * np.pi / 2 + float(rng.normal(0.0, np.radians(10)))
    # Half extents of the turned box: centres that would put it through the bounding walls are not drawn.
    cos, sin = abs(np.cos(yaw)), abs(np.sin(yaw))
    extent = np.array([unit.width * cos + unit.depth * sin, unit.width * sin + unit.depth * cos]) / 2 + WALL_CLEAR
    lo, hi = lo + np.maximum(extent, 0.3), hi - np.maximum(extent, 0.3)
    if np.any(hi < lo):
        return None
    centre = rng.uniform(lo, hi)
    return Pose(float(centre[0]), float(centre[1]), yaw)


def perturb(layout: Layout, i: int, rng: np.random.Generator, scale: float) -> Pose | None:
    """A nearby pose: slide along the wall, or shift and turn a free unit; sometimes a fresh pose."""
    pose, unit = layout.poses[i], layout.units[i]
    if rng.random() < 0.1:
        return propose(layout, i, rng)
    if pose.wall is not None:
        wall = layout.walls[pose.wall]
        half = unit.width / 2 + WALL_GAP
        if unit.placement == "corner":
            return propose(layout, i, rng)
        assert pose.s is not None, "a pose against a wall has its position along the wall"
        s = float(np.clip(pose.s + rng.normal(0.0, 0.3 * scale), half, wall.length - half))
        c = wall.point(s, WALL_GAP + unit.depth / 2)
        return Pose(float(c[0]), float(c[1]), pose.yaw, pose.wall, s)
    d = rng.normal(0.0, 0.25 * scale, 2)
    return Pose(pose.x + float(d[0]), pose.y + float(d[1]), pose.yaw + float(rng.normal(0.0, np.radians(8) * scale)))


def soft_energy(layout: Layout, relations: list[tuple[str, str, float, float]], cache: dict | None = None) -> float:
    """Soft cost of the current layout (lower is better).

    cache : optional dict reused across calls on the same layout; it memoises each unit's front strip
        and whether that strip leaves the room, keyed by the unit and its pose, and the pairwise terms
        (strip blocked by a box, spacing of two boxes), keyed by the two poses.
    """
    placed = [(u, p) for u, p in zip(layout.units, layout.poses) if p is not None]
    cache = {} if cache is None else cache
    # Every (unit, pose) box and front strip gets a small id, so the pairwise terms below, which depend on
    # two of them only, are computed once per pair of poses (the annealer moves one unit at a time).
    ids, overlaps, gaps = cache.setdefault("_ids", {}), cache.setdefault("_overlaps", {}), cache.setdefault("_gaps", {})
    boxes, box_ids = [], []
    for u, p in placed:
        box_key = (id(u), p.x, p.y, p.yaw)
        bid = ids.get(box_key)
        if bid is None:
            bid = ids[box_key] = (len(ids), unit_box(u, p))
        box_ids.append(bid[0])
        boxes.append(bid[1])
    energy = 0.0
    n = len(placed)
    for k, (u, p) in enumerate(placed):
        key = (u.name, p.x, p.y, p.yaw)
        if key not in cache:
            fb = front_box(u, p)
            cache[key] = (fb, fb is not None and not points_in_polygon(fb.corners(), layout.polygon).all())
        fb, outside = cache[key]
        if fb is not None:
            fid = ids.get(key)
            if fid is None:
                fid = ids[key] = (len(ids), None)
            row = fid[0] << 32
            blocked = False
            for j in range(n):
                if j != k:
                    pair = row | box_ids[j]
                    hit = overlaps.get(pair)
                    if hit is None:
                        hit = overlaps[pair] = boxes_overlap(fb, boxes[j])
                    if hit:
                        blocked = True
                        break
            energy += 5.0 * (blocked + 0.5 * outside)
    for a in range(n):
        row = box_ids[a] << 32
        for b in range(a + 1, n):
            pair = row | box_ids[b]
            term = gaps.get(pair)
            if term is None:
                gap = (
                    np.hypot(boxes[a].cx - boxes[b].cx, boxes[a].cy - boxes[b].cy)
                    - (max(boxes[a].w, boxes[a].d) + max(boxes[b].w, boxes[b].d)) / 2
                )
                term = gaps[pair] = max(0.0, 0.6 - gap)
            energy += term
    by_role = {u.role: p for u, p in placed if u.role}
    for role_a, role_b, lo, hi in relations:
        if role_a in by_role and role_b in by_role:
            pa, pb = by_role[role_a], by_role[role_b]
            dist = np.hypot(pa.x - pb.x, pa.y - pb.y)
            energy += 5.0 * (max(0.0, lo - dist) + max(0.0, dist - hi))
            facing = np.cos(pa.yaw - pb.yaw)  # -1 when they face each other
            energy += 2.0 * (facing + 1.0)
    return energy


def solve(
    layout: Layout,
    units: list[Unit],
    rng: np.random.Generator,
    relations: list[tuple[str, str, float, float]],
    steps: int = 150,
    tries: int = 60,
) -> Layout:
    """Place ``units`` (in order) constructively, drop optional ones that do not fit, then anneal.

    Returns the layout with ``units``/``poses`` of the units that were placed.
    """
    layout.units, layout.poses = [], []
    for unit in units:
        layout.units.append(unit)  # its pose is appended once one is found
        i = len(layout.units) - 1
        placed: Pose | None = None
        for _ in range(tries):
            pose = propose(layout, i, rng)
            if pose is not None and hard_ok(layout, i, pose):
                placed = pose
                break
        if placed is not None:
            layout.poses.append(placed)
            if walkway_ok(layout):
                continue
            layout.poses.pop()
        layout.units.pop()
    start = [replace(p) for p in layout.poses]
    cache: dict = {}
    energy = soft_energy(layout, relations, cache)
    best, best_energy = [replace(p) for p in layout.poses], energy
    temps = np.geomspace(3.0, 0.01, steps)
    for t in temps:
        if not layout.units:
            break
        i = int(rng.integers(len(layout.units)))
        candidate = perturb(layout, i, rng, scale=min(1.0, t))
        if candidate is None or not hard_ok(layout, i, candidate):
            continue
        old = layout.poses[i]
        layout.poses[i] = candidate
        new_energy = soft_energy(layout, relations, cache)
        if new_energy <= energy or rng.random() < np.exp((energy - new_energy) / t):
            energy = new_energy
            if energy < best_energy:
                best, best_energy = [replace(p) for p in layout.poses], energy
        else:
            layout.poses[i] = old
    layout.poses = best
    if not walkway_ok(layout):
        layout.poses = start  # the constructive layout passed the walkway check
    return layout
