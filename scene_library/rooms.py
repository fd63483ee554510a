"""Furnished rooms of six types: shell, openings, furniture groups, wall items, small objects, clutter.

``generate_room(rng, room_type)`` samples a scene *description* (see :mod:`scene_library.description`)
and builds it. Furniture comes in groups (a bed with night stands and lamps, a sofa with a coffee table
facing a TV, a desk with a chair and a monitor, a dining table with chairs, a kitchen counter run with a
fridge, a bathroom's toilet, vanity, mirror and bath) placed by :func:`scene_library.layout.solve`.
After the anchor groups, optional pieces line the walls up to a drawn wall fullness
(:data:`scene_library.room_units.WALL_FILLERS`) and free-standing pieces clutter the middle
(:data:`~scene_library.room_units.FREE_FILLERS`), as in NYUv2's small, crowded rooms; then wall items, small
objects on every support surface, and floor clutter.
"""

from __future__ import annotations

import numpy as np

from scene_library.description import FORMAT, VERSION, build_scene, pose_matrix
from scene_library.errors import SceneError
from scene_library.geometry2d import Box3, boxes_overlap, plan_overlap, rect_polygon
from scene_library.layout import Layout, Member, Unit, box_inside, make_unit, solve
from scene_library.objects import OBJECTS, build_piece, get_spec, sample_piece
from scene_library.objects.base import Piece
from scene_library.room_units import free_fillers, kind_for, room_units, wall_fillers
from scene_library.scene import Room, Scene
from scene_library.shell import sample_footprint, sample_openings, walls_of

#: Room types and their NYUv2-like sampling weights.
ROOM_WEIGHTS: dict[str, float] = {
    "bedroom": 0.30,
    "kitchen": 0.18,
    "living_room": 0.18,
    "bathroom": 0.10,
    "dining_room": 0.10,
    "office": 0.14,
}
ROOM_TYPES = tuple(ROOM_WEIGHTS)


# --- the room recipe ---------------------------------------------------------------------------------

PICTURE_COUNTS = ([1, 2, 3, 4, 5, 6], [0.05, 0.15, 0.3, 0.25, 0.15, 0.1])
#: Support surfaces get 6-14 small objects per square metre; the floor 0.5-1.2 pieces of clutter per m^2.
SURFACE_DENSITY, CLUTTER_DENSITY = (6.0, 14.0), (0.5, 1.2)


class _Placer:
    """Collects placed pieces as description entries and world boxes for collision checks."""

    def __init__(self, height: float):
        self.height = height
        self.objects: list[dict] = []
        self.boxes: list[tuple[str, Box3]] = []
        self.pieces: list[tuple[str, Piece, np.ndarray]] = []
        self.counts: dict[str, int] = {}

    def name(self, base: str) -> str:
        self.counts[base] = self.counts.get(base, 0) + 1
        return f"{base}_{self.counts[base]}"

    @staticmethod
    def box_of(piece: Piece, x: float, y: float, z: float, yaw: float) -> Box3:
        return Box3(x, y, yaw, piece.width, piece.depth, z, z + piece.height)

    def collides(self, b: Box3, ignore: str | None = None, gap: float = 0.0) -> bool:
        grown = b.grown(gap) if gap else b
        return any(name != ignore and boxes_overlap(grown, other) for name, other in self.boxes)

    def add(self, name: str, kind: str, piece: Piece, x: float, y: float, z: float, yaw: float) -> None:
        pose = [round(float(x), 6), round(float(y), 6), round(float(z), 6), round(float(yaw), 6)]
        self.objects.append({"name": name, "kind": kind, "params": piece.params, "pose": pose})
        self.boxes.append((name, self.box_of(piece, *pose)))
        self.pieces.append((name, piece, pose_matrix(*pose)))


def pick_room_type(rng: np.random.Generator) -> str:
    """A room type drawn with the NYUv2-like :data:`ROOM_WEIGHTS`."""
    weights = np.array([ROOM_WEIGHTS[t] for t in ROOM_TYPES])
    return str(rng.choice(ROOM_TYPES, p=weights / weights.sum()))


def generate_description(
    rng: np.random.Generator, room_type: str | None = None, extra: tuple[Piece, ...] = ()
) -> dict | None:
    """Sample the description of a furnished room (see :mod:`scene_library.description`); None when the
    sampled footprint cannot hold the room's anchor furniture (draw again).

    extra : pieces to place as well (e.g. imported user meshes), free-standing on the floor.
    """
    drawn = _draw_room(rng, room_type, extra)
    return None if drawn is None else drawn[0]


def _draw_room(
    rng: np.random.Generator, room_type: str | None, extra: tuple[Piece, ...]
) -> tuple[dict, list[Piece]] | None:
    """:func:`generate_description`'s description together with the pieces of its objects, in order."""
    if room_type is None:
        room_type = pick_room_type(rng)
    if room_type not in ROOM_WEIGHTS:
        raise SceneError(f"unknown room type {room_type!r}; valid types: {', '.join(ROOM_TYPES)}")
    polygon = sample_footprint(rng, room_type)
    height = round(float(rng.uniform(2.4, 2.9)), 4)
    walls = walls_of(polygon)
    placer = _Placer(height)
    keep_clear, doors, gaps = [], [], []
    for opening in sample_openings(rng, polygon, height, room_type):
        wall = walls[opening["wall"]]
        piece = build_piece(opening["kind"], opening["params"])
        c = wall.point(opening["s"], opening.get("offset", 0.0) + piece.depth / 2)
        placer.add(placer.name(opening["kind"]), opening["kind"], piece, c[0], c[1], opening["z"], wall.yaw)
        if opening["kind"] == "door":
            w, reach = piece.width + 0.1, piece.width + float(rng.uniform(0.35, 0.6))
            a, b = wall.point(opening["s"] - w / 2, 0.0), wall.point(opening["s"] + w / 2, reach)
            keep_clear.append(np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])]))
            doors.append(wall.point(opening["s"], 0.4))
            gaps.append(
                [wall.index, round(opening["s"] - piece.width / 2, 6), round(opening["s"] + piece.width / 2, 6)]
            )
    layout = Layout(polygon, walls, keep_clear, doors, fixed=[b for _, b in placer.boxes])
    units, relations = room_units(room_type, rng)
    door_width = sum(g[2] - g[1] for g in gaps)
    units += wall_fillers(room_type, rng, sum(w.length for w in walls) - door_width, units)
    units += free_fillers(room_type, rng, Room(room_type, (0.0, 0.0, 0.0), np.zeros((0, 4)), polygon).area)
    units += [make_unit(f"{p.kind}_{i}", [Member(p.kind, p)], "free", front_clearance=0.3) for i, p in enumerate(extra)]
    layout = solve(layout, units, rng, relations)
    placed = {u.name for u in layout.units}
    if any(not u.optional and u.name not in placed for u in units):
        return None  # an anchor group did not fit this footprint: the caller draws a new room
    for unit, pose in zip(layout.units, layout.poses):
        _add_unit(placer, unit, pose)
    _add_wall_items(placer, rng, room_type, walls)
    _add_small_objects(placer, rng, room_type)
    _add_floor_clutter(placer, rng, polygon, keep_clear, room_type)
    return {
        "format": FORMAT,
        "version": VERSION,
        "room": {"type": room_type, "polygon": polygon.tolist(), "height": height, "skirting_gaps": gaps},
        "keep_clear": [r.round(6).tolist() for r in keep_clear],
        "objects": placer.objects,
    }, [piece for _, piece, _ in placer.pieces]


MIN_CLASSES = 5  #: least number of distinct NYU40 classes among a room's objects (openings not counted)


def generate_room(
    rng: np.random.Generator,
    room_type: str | None = None,
    min_classes: int = MIN_CLASSES,
    extra: tuple[Piece, ...] = (),
) -> Scene:
    """Sample and build a furnished room: its anchor furniture always, and objects of at least
    ``min_classes`` distinct NYU40 classes besides doors and windows.

    rng : the only source of randomness. room_type : one of :data:`ROOM_TYPES` (weighted random if None).
    extra : pieces that must be placed too (imported meshes, see :func:`scene_library.description.imported_piece`).
    """
    room_type = pick_room_type(rng) if room_type is None else room_type
    for _attempt in range(50):
        drawn = _draw_room(rng, room_type, extra)
        if drawn is not None and object_classes(drawn[0]) >= min_classes:
            return build_scene(*drawn)  # the pieces placed are the pieces built: no rebuilding
    raise SceneError(f"could not furnish a {room_type} with objects of {min_classes} classes in 50 attempts")


def object_classes(description: dict) -> int:
    """Distinct NYU40 classes of the objects in a description, doors, windows, curtains and blinds aside."""
    kinds = {o["kind"] for o in description["objects"]} - {"door", "window", "curtain", "blinds"}
    return len({get_spec(k).class40 for k in kinds if k in OBJECTS})


def _add_unit(placer: _Placer, unit: Unit, pose) -> None:
    c, s = np.cos(pose.yaw), np.sin(pose.yaw)
    for m in unit.members:
        x = pose.x + c * m.x - s * m.y
        y = pose.y + s * m.x + c * m.y
        placer.add(placer.name(m.piece.kind), m.piece.kind, m.piece, x, y, m.z, pose.yaw + m.yaw)


def _wall_item_roles(room_type: str, rng: np.random.Generator) -> list[str]:
    roles = ["picture"] * int(rng.choice(PICTURE_COUNTS[0], p=PICTURE_COUNTS[1]))
    extra = {
        "bathroom": [("mirror", 0.9), ("towel", 0.8), ("towel", 0.4)],
        "office": [("whiteboard", 0.6), ("shelves", 0.3)],
        "kitchen": [("wall_cabinet", 0.8), ("wall_cabinet", 0.6), ("shelves", 0.3)],
        "bedroom": [("mirror", 0.4), ("shelves", 0.2)],
        "living_room": [("shelves", 0.3), ("mirror", 0.3)],
        "dining_room": [("mirror", 0.3)],
    }
    if room_type == "bathroom":
        roles = roles[:1]
    return roles + [role for role, prob in extra.get(room_type, []) if rng.random() < prob]


def _add_wall_items(placer: _Placer, rng: np.random.Generator, room_type: str, walls) -> None:
    for role in _wall_item_roles(room_type, rng):
        kind = kind_for(role)
        if kind is None:
            continue
        spec = get_spec(kind)
        piece = spec.build(spec.sample(rng))
        lo, hi = spec.mount_height or (1.1, 1.5)
        for _ in range(30):
            wall = walls[int(rng.integers(len(walls)))]
            if wall.length < piece.width + 0.2:
                continue
            s = float(rng.uniform(piece.width / 2 + 0.1, wall.length - piece.width / 2 - 0.1))
            z = float(rng.uniform(lo, hi))
            if z + piece.height > placer.height - 0.05:
                continue
            c = wall.point(s, piece.depth / 2)
            b = placer.box_of(piece, c[0], c[1], z, wall.yaw)
            if not placer.collides(b, gap=0.02):
                placer.add(placer.name(kind), kind, piece, c[0], c[1], z, wall.yaw)
                break


def _kinds_for_room(placement: str, room_type: str) -> list[str]:
    """Kinds of a placement that suit a room: generic ones (no room tag) once, the room's own twice."""
    kinds = [k for k, s in OBJECTS.items() if s.placement == placement]
    generic = [k for k in kinds if not set(get_spec(k).tags) & set(ROOM_TYPES)]
    own = [k for k in kinds if room_type in get_spec(k).tags]
    return generic + own + own


def _add_small_objects(placer: _Placer, rng: np.random.Generator, room_type: str) -> None:
    kinds = _kinds_for_room("surface", room_type)
    if not kinds:
        return
    for host, piece, transform in list(placer.pieces):
        host_yaw = float(np.arctan2(transform[1, 0], transform[0, 0]))
        for support in piece.supports:
            w, d = support.x1 - support.x0, support.y1 - support.y0
            n = int(round(w * d * rng.uniform(*SURFACE_DENSITY)))
            for _ in range(n):
                kind = str(rng.choice(kinds))
                small = sample_piece(kind, rng)
                if small.height > support.clearance - 0.01 or small.width > w - 0.02 or small.depth > d - 0.02:
                    continue
                for _try in range(8):
                    yaw = float(rng.uniform(-np.pi, np.pi))
                    lx = float(rng.uniform(support.x0, support.x1))
                    ly = float(rng.uniform(support.y0, support.y1))
                    local = Box3(lx, ly, yaw, small.width, small.depth, 0, 1)
                    xs, ys = local.corners().T.tolist()
                    if min(xs) < support.x0 or max(xs) > support.x1 or min(ys) < support.y0 or max(ys) > support.y1:
                        continue
                    world = transform @ np.array([lx, ly, support.z, 1.0])
                    b = placer.box_of(small, world[0], world[1], world[2], host_yaw + yaw)
                    if not placer.collides(b, ignore=host, gap=0.005):
                        placer.add(placer.name(kind), kind, small, world[0], world[1], world[2], host_yaw + yaw)
                        break


def _add_floor_clutter(
    placer: _Placer, rng: np.random.Generator, polygon: np.ndarray, keep_clear: list, room_type: str
) -> None:
    kinds = _kinds_for_room("floor_clutter", room_type)
    if not kinds:
        return
    area = Room(room_type, (0.0, 0.0, 0.0), np.zeros((0, 4)), polygon).area
    lo, hi = polygon.min(axis=0), polygon.max(axis=0)
    for _ in range(int(round(area * rng.uniform(*CLUTTER_DENSITY)))):
        kind = str(rng.choice(kinds))
        piece = sample_piece(kind, rng)
        for _try in range(10):
            c = rng.uniform(lo, hi)
            b = placer.box_of(piece, float(c[0]), float(c[1]), 0.0, float(rng.uniform(-np.pi, np.pi)))
            corners = b.grown(0.05).corners()
            if not box_inside(polygon, corners) or any(plan_overlap(corners, rect_polygon(*r)) for r in keep_clear):
                continue
            if not placer.collides(b, gap=0.05):
                placer.add(placer.name(kind), kind, piece, b.cx, b.cy, 0.0, b.yaw)
                break
