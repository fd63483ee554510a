"""Furniture units of each room type: the roles the recipes ask for, the anchor groups (a bed with night
stands and lamps, a sofa facing a TV, a desk with a chair, a dining table with chairs, a kitchen counter
run), and the optional pieces that line the walls (:data:`WALL_FILLERS`) and clutter the middle
(:data:`FREE_FILLERS`). :func:`scene_library.layout.solve` places them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scene_library.geometry2d import Box3, boxes_overlap
from scene_library.layout import Member, Unit, make_unit
from scene_library.objects import OBJECTS, get_spec, sample_piece
from scene_library.objects.base import Piece

#: Roles used by the room recipes, each resolved to the first registered object kind in its list.
ROLES: dict[str, tuple[str, ...]] = {
    "bed": ("bed",),
    "night_stand": ("night_stand",),
    "table_lamp": ("table_lamp", "lamp"),
    "floor_lamp": ("floor_lamp", "lamp"),
    "wardrobe": ("wardrobe", "cabinet"),
    "dresser": ("dresser",),
    "bookshelf": ("bookshelf",),
    "cabinet": ("cabinet", "storage_cabinet"),
    "desk": ("desk",),
    "chair": ("chair", "dining_chair"),
    "office_chair": ("office_chair", "chair"),
    "armchair": ("armchair", "chair"),
    "sofa": ("sofa",),
    "coffee_table": ("coffee_table", "table"),
    "side_table": ("side_table", "table"),
    "tv_stand": ("tv_stand", "television_stand"),
    "dining_table": ("dining_table", "table"),
    "counter": ("counter_run", "counter", "kitchen_counter"),
    "refrigerator": ("refrigerator", "fridge"),
    "wall_cabinet": ("wall_cabinet",),
    "toilet": ("toilet",),
    "vanity": ("vanity", "sink"),
    "bathtub": ("bathtub",),
    "mirror": ("mirror",),
    "towel": ("towel", "towel_bar"),
    "floor_mat": ("floor_mat", "rug"),
    "whiteboard": ("whiteboard",),
    "picture": ("picture",),
    "shelves": ("shelves", "wall_shelf"),
    "monitor": ("monitor", "computer_monitor"),
    "wall_tv": ("wall_television", "wall_tv", "television"),
    "tall_cabinet": ("tall_cabinet", "cabinet"),
    "low_bookshelf": ("low_bookshelf", "bookshelf"),
    "mini_fridge": ("mini_fridge",),
    "ottoman": ("ottoman",),
    "rug": ("rug", "floor_mat"),
    "floor_plant": ("floor_plant",),
}


def kind_for(role: str) -> str | None:
    """The registered object kind that plays ``role`` (None if the library has none)."""
    return next((k for k in ROLES.get(role, (role,)) if k in OBJECTS), None)


def _piece(role: str, rng: np.random.Generator) -> Piece | None:
    kind = kind_for(role)
    return None if kind is None else sample_piece(kind, rng)


def _anchor_kind(role: str) -> str:
    """The kind that plays ``role``, for the roles the anchor groups build on (the library registers them all)."""
    kind = kind_for(role)
    assert kind is not None, f"no registered object kind plays the role {role!r}"
    return kind


def _anchor_piece(role: str, rng: np.random.Generator) -> Piece:
    """A piece drawn for ``role``, one the anchor groups build on (see :func:`_anchor_kind`)."""
    return sample_piece(_anchor_kind(role), rng)


# --- furniture groups (units) ----------------------------------------------------------------------


def on_top(host: Piece, item: Piece, at: tuple[float, float] | None = None) -> tuple[float, float, float] | None:
    """Local (x, y, z) that rests ``item`` on the highest support of ``host`` (centred, or as close to
    ``at`` as fits), or None when it does not fit there."""
    if not host.supports:
        return None
    sup = max(host.supports, key=lambda s: s.z)
    if item.width > sup.x1 - sup.x0 or item.depth > sup.y1 - sup.y0 or item.height > sup.clearance:
        return None
    ax, ay = at if at is not None else ((sup.x0 + sup.x1) / 2, (sup.y0 + sup.y1) / 2)
    x = min(max(ax, sup.x0 + item.width / 2), sup.x1 - item.width / 2)
    y = min(max(ay, sup.y0 + item.depth / 2), sup.y1 - item.depth / 2)
    return x, y, sup.z


def add_if_free(members: list[Member], member: Member, gap: float = 0.02) -> bool:
    """Append ``member`` unless its box meets one of ``members`` (plan gap ``gap`` m, z ranges overlapping)."""

    def box(m: Member) -> Box3:
        return Box3(m.x, m.y, m.yaw, m.piece.width, m.piece.depth, m.z, m.z + m.piece.height)

    new = box(member).grown(gap / 2)
    if any(boxes_overlap(new, box(m).grown(gap / 2)) for m in members):
        return False
    members.append(member)
    return True


def bed_group(rng: np.random.Generator) -> Unit:
    bed = _anchor_piece("bed", rng)
    members = [Member("bed", bed)]
    for side in (-1, 1):
        if rng.random() < 0.7:
            ns = _anchor_piece("night_stand", rng)
            x = side * (bed.width / 2 + 0.03 + ns.width / 2)
            members.append(Member(f"night_stand_{side + 1}", ns, x, bed.depth / 2 - ns.depth / 2))
            lamp = _piece("table_lamp", rng)
            spot = on_top(ns, lamp) if lamp is not None and rng.random() < 0.6 else None
            if lamp is not None and spot is not None:
                members.append(
                    Member(f"lamp_{side + 1}", lamp, x + spot[0], bed.depth / 2 - ns.depth / 2 + spot[1], spot[2])
                )
    return make_unit("bed", members, "wall", front_clearance=0.6, role="bed")


def sofa_group(rng: np.random.Generator) -> Unit:
    sofa = _anchor_piece("sofa", rng)
    members = [Member("sofa", sofa)]
    if rng.random() < 0.8:
        table = _anchor_piece("coffee_table", rng)
        gap = float(rng.uniform(0.45, 0.6))
        members.append(Member("coffee_table", table, 0.0, -(sofa.depth / 2 + gap + table.depth / 2)))
    for side in (-1, 1):
        if rng.random() < 0.35:
            st = _anchor_piece("side_table", rng)
            members.append(
                Member(
                    f"side_table_{side + 1}",
                    st,
                    side * (sofa.width / 2 + 0.05 + st.width / 2),
                    sofa.depth / 2 - st.depth / 2,
                )
            )
    return make_unit("sofa", members, "wall", front_clearance=0.3, role="sofa")


def desk_group(rng: np.random.Generator, name: str = "desk") -> Unit:
    desk = _anchor_piece("desk", rng)
    members = [Member("desk", desk)]
    chair = _anchor_piece("office_chair", rng)
    back = float(rng.uniform(0.1, 0.4))
    members.append(
        Member(
            "chair",
            chair,
            float(rng.uniform(-0.15, 0.15)) * desk.width,
            -(desk.depth / 2 + back + chair.depth / 2),
            0.0,
            np.pi + float(rng.normal(0, np.radians(12))),
        )
    )
    monitor = _piece("monitor", rng)
    spot = on_top(desk, monitor, at=(0.0, desk.depth / 2)) if monitor is not None else None
    if monitor is not None and spot is not None:
        members.append(Member("monitor", monitor, *spot))
    return make_unit(name, members, "wall", front_clearance=0.0, role=name)


def dining_group(rng: np.random.Generator, n_chairs: tuple[int, int] = (4, 6)) -> Unit:
    """A table with a matching set of chairs along its long sides (and at its ends for larger sets)."""
    table = _anchor_piece("dining_table", rng)
    members = [Member("table", table)]
    kind = _anchor_kind("chair")
    chair_params = get_spec(kind).sample(rng)  # one model for the whole set
    chair = get_spec(kind).build(chair_params)
    n = int(rng.integers(n_chairs[0], n_chairs[1] + 1))
    per_side = max(1, min(n // 2, int(table.width // (chair.width + 0.08))))
    k = 0
    for side in (-1, 1):
        for i in range(per_side):
            x = (i - (per_side - 1) / 2) * (table.width / per_side)
            y = side * (table.depth / 2 + float(rng.uniform(0.02, 0.15)) + chair.depth / 2)
            yaw = (0.0 if side > 0 else np.pi) + float(rng.normal(0, np.radians(6)))
            k += add_if_free(members, Member(f"chair_{k}", chair, x, y, 0.0, yaw))
    if n > 2 * per_side:
        for side in (-1, 1):
            x = side * (table.width / 2 + 0.05 + chair.depth / 2)
            k += add_if_free(members, Member(f"chair_{k}", chair, x, 0.0, 0.0, -side * np.pi / 2))
    return make_unit("dining", members, "free", role="dining")


def counter_run(rng: np.random.Generator, name: str, optional: bool = False) -> Unit | None:
    counter = _piece("counter", rng)
    return (
        None
        if counter is None
        else make_unit(name, [Member("counter", counter)], "wall", front_clearance=0.9, role=name, optional=optional)
    )


def single(
    role: str,
    rng: np.random.Generator,
    placement: str | None = None,
    optional: bool = False,
    front: float | None = None,
) -> Unit | None:
    kind = kind_for(role)
    if kind is None:
        return None
    spec = get_spec(kind)
    piece = spec.build(spec.sample(rng))
    where = placement or (spec.placement if spec.placement in ("wall", "corner", "free") else "wall")
    return make_unit(
        role,
        [Member(role, piece)],
        where,
        spec.front_clearance if front is None else front,
        role=role,
        optional=optional,
    )


def room_units(room_type: str, rng: np.random.Generator) -> tuple[list[Unit], list[tuple[str, str, float, float]]]:
    """The furniture units of a room type (anchor units first) and its pairwise relations."""
    p = rng.random
    units: list[Unit | None] = []
    relations: list[tuple[str, str, float, float]] = []
    if room_type == "bedroom":
        units.append(bed_group(rng))
        for role in rng.permutation(["wardrobe", "dresser", "bookshelf", "cabinet"])[: int(rng.integers(2, 5))]:
            units.append(single(str(role), rng, optional=True))
        if p() < 0.5:
            units.append(desk_group(rng))
        if p() < 0.4:
            units.append(single("armchair", rng, "free", optional=True))
    elif room_type == "living_room":
        units.append(sofa_group(rng))
        if p() < 0.7:
            units.append(single("tv_stand", rng, "wall"))
            relations.append(("sofa", "tv_stand", 2.0, 3.3))
        for _ in range(int(rng.integers(0, 3))):
            units.append(single("armchair", rng, "free", optional=True))
        if p() < 0.4:
            units.append(single("floor_lamp", rng, "corner", optional=True))
        for role in rng.permutation(["bookshelf", "cabinet", "bookshelf"])[: int(rng.integers(1, 4))]:
            units.append(single(str(role), rng, optional=True))
    elif room_type == "kitchen":
        units.append(counter_run(rng, "counter"))
        units.append(single("refrigerator", rng, "corner"))
        if p() < 0.6:
            units.append(counter_run(rng, "counter_2", optional=True))
        if p() < 0.75:
            units.append(replace(dining_group(rng, (2, 4)), optional=True))
        if p() < 0.3:
            units.append(single("cabinet", rng, optional=True))
    elif room_type == "bathroom":
        units.append(single("toilet", rng, "wall"))
        units.append(single("vanity", rng, "wall"))
        if p() < 0.8:
            units.append(single("bathtub", rng, "corner", optional=True))
        if p() < 0.4:
            units.append(single("cabinet", rng, optional=True))
    elif room_type == "office":
        for i in range(int(rng.integers(1, 3))):
            units.append(desk_group(rng, f"desk_{i}"))
        for role in rng.permutation(["bookshelf", "cabinet", "bookshelf", "cabinet"])[: int(rng.integers(2, 5))]:
            units.append(single(str(role), rng, optional=True))
        if p() < 0.4:
            units.append(single("chair", rng, "free", optional=True))
    elif room_type == "dining_room":
        units.append(dining_group(rng))
        for role in rng.permutation(["cabinet", "dresser", "bookshelf"])[: int(rng.integers(1, 4))]:
            units.append(single(str(role), rng, optional=True))
        if p() < 0.3:
            units.append(single("floor_lamp", rng, "corner", optional=True))
    return [u for u in units if u is not None], relations


#: Pieces that line the walls once a room's anchor groups stand, per room type: (role, weight). A room
#: draws from its table until the pieces' widths add up to its wall fullness (see :func:`wall_fillers`);
#: ``"desk_group"`` is a desk with its chair and monitor. NYUv2 rooms are small and crowded with storage:
#: furniture (cabinets, shelves, counters, dressers) is 17 % of their labelled pixels, wall only 31 %.
WALL_FILLERS: dict[str, tuple[tuple[str, float], ...]] = {
    "bedroom": (
        ("wardrobe", 2.0),
        ("dresser", 2.0),
        ("bookshelf", 1.5),
        ("tall_cabinet", 0.7),
        ("cabinet", 1.0),
        ("low_bookshelf", 1.0),
        ("desk_group", 2.0),
        ("sofa", 1.0),
        ("floor_lamp", 0.7),
        ("floor_plant", 0.5),
    ),
    "living_room": (
        ("bookshelf", 2.0),
        ("cabinet", 1.5),
        ("low_bookshelf", 2.0),
        ("tall_cabinet", 0.7),
        ("sofa", 3.0),
        ("floor_lamp", 1.0),
        ("floor_plant", 1.0),
    ),
    "kitchen": (("tall_cabinet", 2.0), ("counter", 2.0), ("cabinet", 1.0), ("bookshelf", 0.3), ("floor_plant", 0.3)),
    "bathroom": (("cabinet", 2.0), ("tall_cabinet", 1.0)),
    "office": (
        ("bookshelf", 3.0),
        ("tall_cabinet", 2.0),
        ("cabinet", 2.0),
        ("low_bookshelf", 1.0),
        ("desk_group", 2.0),
        ("mini_fridge", 0.2),
        ("sofa", 1.0),
        ("floor_plant", 0.8),
        ("floor_lamp", 0.4),
    ),
    "dining_room": (
        ("cabinet", 3.0),
        ("bookshelf", 2.0),
        ("tall_cabinet", 2.0),
        ("dresser", 1.0),
        ("low_bookshelf", 1.0),
        ("sofa", 1.0),
        ("floor_plant", 1.0),
        ("floor_lamp", 0.5),
    ),
}
#: Free-standing pieces that clutter the middle of a room, per room type: (role, weight). NYUv2 rooms have
#: chairs, side, coffee and meeting tables and ottomans standing about; they also give frames near foreground objects.
FREE_FILLERS: dict[str, tuple[tuple[str, float], ...]] = {
    "bedroom": (("chair", 1.0), ("armchair", 0.7), ("side_table", 2.0), ("ottoman", 0.5)),
    "living_room": (("armchair", 1.5), ("ottoman", 1.0), ("side_table", 2.0), ("coffee_table", 1.5), ("chair", 0.5)),
    "kitchen": (("chair", 1.0), ("side_table", 1.0), ("dining_table", 1.0)),
    "office": (("chair", 1.0), ("office_chair", 1.0), ("side_table", 1.5), ("dining_table", 1.0), ("armchair", 0.5)),
    "dining_room": (("chair", 1.0), ("side_table", 1.5), ("coffee_table", 0.5), ("armchair", 0.5)),
}
#: Free-standing pieces per square metre of floor.
FREE_DENSITY = (0.06, 0.16)
#: Range of a room's wall fullness: the share of its free wall length (doors aside) that furniture should line.
WALL_FULLNESS = (0.5, 0.85)


def wall_fillers(room_type: str, rng: np.random.Generator, wall_length: float, units: list[Unit]) -> list[Unit]:
    """Optional wall units drawn from :data:`WALL_FILLERS` until the widths of all wall and corner units
    (``units`` included) reach a fullness drawn from :data:`WALL_FULLNESS` times ``wall_length`` (m).

    The layout solver drops those that find no room, so drawing a few too many is harmless.
    """
    table = WALL_FILLERS.get(room_type, ())
    if not table:
        return []
    roles = [r for r, _ in table]
    weights = np.array([w for _, w in table])
    target = float(rng.uniform(*WALL_FULLNESS)) * wall_length
    lined = sum(u.width for u in units if u.placement in ("wall", "corner"))
    out: list[Unit] = []
    unit: Unit | None
    while lined < target and len(out) < 12:
        role = str(rng.choice(roles, p=weights / weights.sum()))
        name = f"fill_{len(out)}"
        if role == "desk_group":
            unit = replace(desk_group(rng, name), optional=True)
        elif role == "counter":
            unit = counter_run(rng, name, optional=True)
        else:
            unit = single(role, rng, "wall", optional=True)
            unit = None if unit is None else replace(unit, name=name)
        if unit is None:
            continue
        out.append(unit)
        lined += unit.width
    return out


def free_fillers(room_type: str, rng: np.random.Generator, area: float) -> list[Unit]:
    """Optional free-standing units drawn from :data:`FREE_FILLERS`, ``area`` (m^2) times a density drawn
    from :data:`FREE_DENSITY` of them."""
    table = FREE_FILLERS.get(room_type, ())
    if not table:
        return []
    roles = [r for r, _ in table]
    weights = np.array([w for _, w in table])
    out = []
    for i in range(int(round(area * rng.uniform(*FREE_DENSITY)))):
        unit = single(str(rng.choice(roles, p=weights / weights.sum())), rng, "free", optional=True)
        if unit is not None:
            out.append(replace(unit, name=f"free_{i}"))
    return out
