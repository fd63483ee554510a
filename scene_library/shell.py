"""Room shells: footprint (rectangle or L), floor, ceiling, walls, skirting, doors and windows.

The shell boxes lie *outside* the floor polygon, so the interior faces are exactly the room surfaces.
Doors, windows, curtains and blinds are registered objects (:mod:`scene_library.objects.wall_items`)
mounted on a wall with sizes fitted to it; the room code keeps the area a door sweeps clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import trimesh

from scene_library.objects import build_piece, get_spec
from scene_library.objects.base import Part, box, merge, uniform
from synthcam_core.labels import class40_id

SHELL_T = 0.15  #: thickness of floor, ceiling and wall boxes (m)
SKIRTING_H, SKIRTING_D = 0.08, 0.012  #: skirting board height and depth (m)

#: Floor area range (m^2) and aspect-ratio range per room type. The rooms are somewhat larger and longer
#: than the research notes' first proposal (bedroom 9-18 m^2, aspect 1.0-1.8): NYUv2 depth has a mean of
#: 2.84 m and a standard deviation of 1.42 m, and only long sight lines across a room give frames that span
#: near furniture and far walls (measured with ``synthcam scenes stats``; see BENCHMARKS.md).
ROOM_AREAS: dict[str, tuple[float, float]] = {
    "bedroom": (13.0, 32.0),
    "living_room": (20.0, 48.0),
    "kitchen": (11.0, 26.0),
    "bathroom": (5.5, 12.0),
    "office": (13.0, 40.0),
    "dining_room": (14.0, 30.0),
}

#: Range of a footprint's aspect ratio (long side over short side).
ASPECT_RANGE = (1.2, 2.4)


@dataclass(frozen=True)
class Wall:
    """A straight wall segment of the footprint, seen from inside the room."""

    index: int
    start: tuple[float, float]
    end: tuple[float, float]

    # The derived values are memoised on the instance (cached_property writes the instance dict, which a
    # frozen dataclass allows); the layout solver asks for them tens of thousands of times per room.

    @cached_property
    def length(self) -> float:
        return float(np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]))

    @cached_property
    def direction(self) -> np.ndarray:
        d = np.subtract(self.end, self.start)
        return _read_only(d / np.linalg.norm(d))

    @cached_property
    def inward(self) -> np.ndarray:
        """Unit normal pointing into the room (the footprint is counter-clockwise)."""
        d = self.direction
        return _read_only(np.array([-d[1], d[0]]))

    @cached_property
    def yaw(self) -> float:
        """Yaw that turns a piece's front (local -y) towards the room."""
        n = self.inward
        return float(np.arctan2(n[0], -n[1]))

    @cached_property
    def _origin(self) -> np.ndarray:
        return _read_only(np.array(self.start))

    def point(self, s: float, offset: float = 0.0) -> np.ndarray:
        """Plan point ``s`` m along the wall from its start, ``offset`` m into the room."""
        return self._origin + s * self.direction + offset * self.inward


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def sample_footprint(rng: np.random.Generator, room_type: str, l_shape_p: float = 0.2) -> np.ndarray:
    """(P, 2) counter-clockwise floor polygon with its bounding box at the origin: a rectangle, or an L."""
    lo, hi = ROOM_AREAS[room_type]
    area, aspect = rng.uniform(lo, hi), rng.uniform(*ASPECT_RANGE)
    sx, sy = np.sqrt(area * aspect), np.sqrt(area / aspect)
    if rng.random() < 0.5:
        sx, sy = sy, sx
    sx, sy = round(float(sx), 3), round(float(sy), 3)
    if room_type != "bathroom" and rng.random() < l_shape_p:
        # Cut one corner: a notch of 25-45 % of each side, so both arms stay at least 55 % wide.
        grow = 1.0 / np.sqrt(1.0 - 0.35 * 0.35)  # keep roughly the sampled area
        sx, sy = round(sx * grow, 3), round(sy * grow, 3)
        cx, cy = round(float(sx * rng.uniform(0.25, 0.45)), 3), round(float(sy * rng.uniform(0.25, 0.45)), 3)
        poly = np.array([[0, 0], [sx, 0], [sx, sy - cy], [sx - cx, sy - cy], [sx - cx, sy], [0, sy]], dtype=np.float64)
        k = int(rng.integers(4))  # which corner is cut: rotate the L by k quarter turns inside its box
        for _ in range(k):
            w = poly[:, 0].max()
            poly = np.column_stack([poly[:, 1], w - poly[:, 0]])  # 90 deg turn, stays CCW
        return _canonical(poly)
    return np.array([[0, 0], [sx, 0], [sx, sy], [0, sy]], dtype=np.float64)


def _canonical(poly: np.ndarray) -> np.ndarray:
    """Start the polygon at its lowest-then-leftmost vertex (keeps orientation)."""
    poly = poly - poly.min(axis=0)
    start = int(np.lexsort((poly[:, 0], poly[:, 1]))[0])
    return np.roll(poly, -start, axis=0).round(6)


def walls_of(polygon: np.ndarray) -> list[Wall]:
    n = len(polygon)
    return [Wall(i, tuple(polygon[i]), tuple(polygon[(i + 1) % n])) for i in range(n)]


def convex_vertices(polygon: np.ndarray) -> np.ndarray:
    """(P,) bool: vertices where the counter-clockwise outline turns left (interior angle < 180 deg)."""
    prev, nxt = np.roll(polygon, 1, axis=0), np.roll(polygon, -1, axis=0)
    a, b = polygon - prev, nxt - polygon
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] > 0


def _wall_box(wall: Wall, s0: float, s1: float, z0: float, z1: float, o0: float, o1: float) -> trimesh.Trimesh:
    """Box spanning wall coordinates s in [s0, s1], height [z0, z1], offset into the room [o0, o1]."""
    mesh = box((s1 - s0, o1 - o0, z1 - z0), ((s0 + s1) / 2, (o0 + o1) / 2, (z0 + z1) / 2))
    d, n, p = wall.direction, wall.inward, np.asarray(wall.start)
    transform = np.eye(4)
    transform[:2, 0], transform[:2, 1], transform[:2, 3] = d, n, p
    return mesh.apply_transform(transform)


def shell_parts(
    polygon: np.ndarray, height: float, skirting_gaps: Sequence[tuple[int, float, float]] = ()
) -> list[Part]:
    """Floor, ceiling, one wall per footprint edge, and skirting boards, in world coordinates.

    skirting_gaps : ``(wall index, s0, s1)`` spans (m along the wall) without skirting, e.g. doorways.
    """
    lo, hi = polygon.min(axis=0) - SHELL_T, polygon.max(axis=0) + SHELL_T
    size, centre = hi - lo, (hi + lo) / 2
    parts = [
        Part("floor", class40_id("floor"), box((size[0], size[1], SHELL_T), (centre[0], centre[1], -SHELL_T / 2))),
        Part(
            "ceiling",
            class40_id("ceiling"),
            box((size[0], size[1], SHELL_T), (centre[0], centre[1], height + SHELL_T / 2)),
        ),
    ]
    convex = convex_vertices(polygon)
    walls = walls_of(polygon)
    skirting = []
    for wall in walls:
        n = len(walls)
        ext0 = SHELL_T if convex[wall.index] else 0.0
        ext1 = SHELL_T if convex[(wall.index + 1) % n] else 0.0
        parts.append(
            Part(
                f"wall_{wall.index}",
                class40_id("wall"),
                _wall_box(wall, -ext0, wall.length + ext1, 0.0, height, -SHELL_T, 0.0),
            )
        )
        trim0 = SKIRTING_D if convex[wall.index] else 0.0
        trim1 = SKIRTING_D if convex[(wall.index + 1) % n] else 0.0
        cuts = sorted((a, b) for w, a, b in skirting_gaps if w == wall.index)
        start = trim0
        for a, b in cuts + [(wall.length - trim1, wall.length)]:
            if a - start > 1e-3:
                skirting.append(_wall_box(wall, start, a, 0.0, SKIRTING_H, 0.0, SKIRTING_D))
            start = max(start, b)
    parts.append(Part("skirting", class40_id("wall"), merge(skirting)))
    return parts


# --- openings, sized to their wall ---------------------------------------------------------------


def _opening_params(kind: str, rng: np.random.Generator, **fit) -> dict:
    """Params of a registered door, window, curtain or blinds, with the sizes the wall dictates."""
    return {**get_spec(kind).sample(rng), **fit}


def sample_openings(rng: np.random.Generator, polygon: np.ndarray, height: float, room_type: str) -> list[dict]:
    """Doors and windows (with curtains or blinds) for the footprint; each entry is a placement dict
    ``{"kind", "params", "wall", "s", "z"}`` where ``s`` is the centre along the wall (m)."""
    walls = walls_of(polygon)
    out: list[dict] = []
    used: dict[int, list[tuple[float, float]]] = {}

    def free_span(wall: Wall, width: float, margin: float = 0.25) -> float | None:
        for _ in range(30):
            if wall.length < width + 2 * margin:
                return None
            s = float(rng.uniform(margin + width / 2, wall.length - margin - width / 2))
            if all(s + width / 2 + 0.1 < a or s - width / 2 - 0.1 > b for a, b in used.get(wall.index, [])):
                used.setdefault(wall.index, []).append((s - width / 2, s + width / 2))
                return round(s, 4)
        return None

    n_doors = 1 + int(rng.random() < 0.15)
    door_walls: set[int] = set()
    for wall in (walls[i] for i in rng.permutation(len(walls))):
        if len(door_walls) == n_doors:
            break
        width = uniform(rng, 0.75, 0.9)
        s = free_span(wall, width)
        if s is not None:
            door_walls.add(wall.index)
            params = _opening_params("door", rng, width=width, height=uniform(rng, 2.0, 2.1))
            out.append({"kind": "door", "params": params, "wall": wall.index, "s": s, "z": 0.0})
    # Every room gets a window where a wall allows one (ProcTHOR's 0/1/2 mix without the empty case);
    # bathrooms get a single one.
    n_windows = 1 if room_type == "bathroom" else int(rng.choice([1, 2], p=[0.45, 0.55]))
    small = room_type == "bathroom"  # small windows, no room for curtains beside them
    candidates = [w for w in walls if w.index not in door_walls and w.length > (1.2 if small else 1.8)]
    for wall in (candidates[i] for i in rng.permutation(len(candidates))[:n_windows]):
        width = (
            uniform(rng, 0.4, min(0.8, wall.length - 0.8)) if small else uniform(rng, 0.6, min(2.0, wall.length - 0.9))
        )
        sill = uniform(rng, 0.8, 1.0)
        win_h = round(min(uniform(rng, 0.8, 1.5), height - sill - 0.25), 4)
        s = free_span(wall, width + (0.1 if small else 0.5))  # room for curtain panels beside the window
        if s is None:
            continue
        window = _opening_params("window", rng, width=width, height=win_h)
        out.append({"kind": "window", "params": window, "wall": wall.index, "s": s, "z": sill})
        proud = build_piece("window", window).depth  # blinds hang on the frame; curtain panels clear it
        dressing = rng.random() * (0.8 if small else 1.0) + (0.5 if small else 0.0)  # bathrooms: blinds or bare
        if dressing < 0.5:
            top = round(height - 0.08, 4)
            hem = round(float(rng.choice([0.02, sill - 0.1])), 4)
            params = _opening_params("curtain", rng, width=round(width + 0.5, 4), height=round(top - hem, 4))
            params["rod_standoff"] = round(proud + params["fold_depth"] / 2 + params["rod_radius"] + 0.02, 4)
            out.append({"kind": "curtain", "params": params, "wall": wall.index, "s": s, "z": hem})
        elif dressing < 0.8:
            params = _opening_params("blinds", rng, width=round(width - 0.02, 4), height=round(win_h - 0.02, 4))
            out.append(
                {
                    "kind": "blinds",
                    "params": params,
                    "wall": wall.index,
                    "s": s,
                    "z": round(sill + 0.01, 4),
                    "offset": proud,
                }
            )
    return out
