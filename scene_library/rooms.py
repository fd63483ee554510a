"""Rectangular rooms: shell (floor, walls, ceiling), one door, one window, a picture, and furniture.

The shell is built from boxes that lie *outside* the interior box ``[0,sx] x [0,sy] x [0,h]``, so the
interior faces are exactly the room surfaces. Openings are thin boxes that stand 2 cm proud of the wall;
furniture keeps 5 cm from the walls and 5 cm from each other, so nothing interpenetrates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.furniture import Piece, box, make_piece
from scene_library.labels import class40_id
from scene_library.scene import Room, Scene, SceneObject

#: Furniture kinds per room type, the first ones being the room's anchor pieces.
ROOM_FURNITURE: dict[str, tuple[str, ...]] = {
    "bedroom": ("bed", "night_stand", "dresser", "lamp", "chair", "bookshelf", "cabinet", "desk"),
    "living_room": ("sofa", "tv_stand", "table", "lamp", "bookshelf", "chair", "cabinet"),
    "office": ("desk", "chair", "bookshelf", "cabinet", "lamp", "table", "sofa"),
    "kitchen": ("refrigerator", "cabinet", "table", "chair", "dresser", "lamp"),
}

WALL_GAP = 0.05  #: distance kept between furniture and walls, metres
PIECE_GAP = 0.05  #: distance kept between pieces of furniture, metres
SHELL_T = 0.1  #: thickness of the floor, ceiling and wall boxes, metres
PROUD = 0.02  #: how far doors, windows and pictures stand out of their wall, metres


@dataclass(frozen=True)
class _Wall:
    """A wall: ``axis`` 0 runs along x (y fixed), 1 along y; ``inward`` is the interior normal."""

    index: int
    axis: int
    coord: float
    inward: np.ndarray
    length: float
    yaw: float  # yaw that turns a piece's front (-y local) towards ``inward``

    def point(self, s: float, offset: float) -> np.ndarray:
        """Plan point at distance ``s`` along the wall and ``offset`` into the room."""
        base = np.array([s, self.coord]) if self.axis == 0 else np.array([self.coord, s])
        return base + offset * self.inward


def _walls(sx: float, sy: float) -> list[_Wall]:
    return [
        _Wall(0, 0, 0.0, np.array([0.0, 1.0]), sx, np.pi),
        _Wall(1, 1, sx, np.array([-1.0, 0.0]), sy, -np.pi / 2),
        _Wall(2, 0, sy, np.array([0.0, -1.0]), sx, 0.0),
        _Wall(3, 1, 0.0, np.array([1.0, 0.0]), sy, np.pi / 2),
    ]


def _wall_panel(wall: _Wall, s0: float, s1: float, z0: float, z1: float, proud: float) -> trimesh.Trimesh:
    """A box covering wall span [s0, s1] x [z0, z1], standing ``proud`` metres into the room."""
    mid = wall.point((s0 + s1) / 2, proud / 2)
    extents = (s1 - s0, proud, z1 - z0) if wall.axis == 0 else (proud, s1 - s0, z1 - z0)
    return box(extents, (mid[0], mid[1], (z0 + z1) / 2))


def _shell(sx: float, sy: float, h: float) -> list[tuple[str, int, trimesh.Trimesh]]:
    t = SHELL_T
    return [
        ("floor", class40_id("floor"), box((sx + 2 * t, sy + 2 * t, t), (sx / 2, sy / 2, -t / 2))),
        ("ceiling", class40_id("ceiling"), box((sx + 2 * t, sy + 2 * t, t), (sx / 2, sy / 2, h + t / 2))),
        ("wall_0", class40_id("wall"), box((sx + 2 * t, t, h), (sx / 2, -t / 2, h / 2))),
        ("wall_1", class40_id("wall"), box((t, sy + 2 * t, h), (sx + t / 2, sy / 2, h / 2))),
        ("wall_2", class40_id("wall"), box((sx + 2 * t, t, h), (sx / 2, sy + t / 2, h / 2))),
        ("wall_3", class40_id("wall"), box((t, sy + 2 * t, h), (-t / 2, sy / 2, h / 2))),
    ]


def _place(piece: Piece, yaw: float, center_xy: np.ndarray) -> tuple[list[trimesh.Trimesh], np.ndarray]:
    """Transform a piece's parts to the world; returns the meshes and their plan AABB (x0, y0, x1, y1)."""
    transform = trimesh.transformations.rotation_matrix(yaw, (0, 0, 1))
    transform[:2, 3] = center_xy
    meshes = [p.mesh.copy().apply_transform(transform) for p in piece.parts]
    lo = np.min([m.bounds[0] for m in meshes], axis=0)
    hi = np.max([m.bounds[1] for m in meshes], axis=0)
    return meshes, np.array([lo[0], lo[1], hi[0], hi[1]])


def _overlaps(a: np.ndarray, b: np.ndarray, gap: float) -> bool:
    return bool(a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap)


def generate_room(rng: np.random.Generator, room_type: str | None = None, min_pieces: int = 5) -> Scene:
    """Sample a furnished rectangular room.

    rng : the only source of randomness.
    room_type : one of :data:`ROOM_FURNITURE` (random when ``None``).
    min_pieces : least number of furniture pieces of distinct kinds (each a different NYU40 class).
    Raises :class:`SceneError` for an unknown room type or when the pieces cannot be placed.
    """
    if room_type is None:
        room_type = str(rng.choice(list(ROOM_FURNITURE)))
    if room_type not in ROOM_FURNITURE:
        raise SceneError(f"unknown room type {room_type!r}; valid types: {', '.join(ROOM_FURNITURE)}")
    for _attempt in range(20):
        scene = _try_room(rng, room_type, min_pieces)
        if scene is not None:
            return scene
    raise SceneError(f"could not place {min_pieces} pieces in a {room_type}; lower the piece count")


def _try_room(rng: np.random.Generator, room_type: str, min_pieces: int) -> Scene | None:
    sx, sy, h = rng.uniform(3.4, 5.8), rng.uniform(3.2, 5.0), rng.uniform(2.4, 2.9)
    walls = _walls(sx, sy)
    named: list[tuple[str, int, trimesh.Trimesh]] = _shell(sx, sy, h)

    # Door: 0.8-0.9 m wide, on a random wall; its swing zone (door width square) is kept clear.
    door_wall = walls[int(rng.integers(4))]
    door_w = rng.uniform(0.8, 0.9)
    s0 = rng.uniform(0.2, door_wall.length - door_w - 0.2)
    named.append(("door", class40_id("door"), _wall_panel(door_wall, s0, s0 + door_w, 0.0, 2.05, PROUD)))
    a, b = door_wall.point(s0, 0.0), door_wall.point(s0 + door_w, door_w)
    keep_clear = [np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])])]

    # Window on another wall; a picture on a third.
    others = [w for w in walls if w.index != door_wall.index]
    order = rng.permutation(len(others))
    win_wall, pic_wall = others[order[0]], others[order[1]]
    win_w = min(rng.uniform(1.0, 1.8), win_wall.length - 0.6)
    s0 = rng.uniform(0.3, win_wall.length - win_w - 0.3)
    sill = rng.uniform(0.8, 1.0)
    named.append(("window", class40_id("window"), _wall_panel(win_wall, s0, s0 + win_w, sill, min(sill + 1.3, h - 0.2), PROUD)))
    pic_w, pic_h = rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.7)
    s0 = rng.uniform(0.3, pic_wall.length - pic_w - 0.3)
    z0 = rng.uniform(1.3, 1.6)
    named.append(("picture", class40_id("picture"), _wall_panel(pic_wall, s0, s0 + pic_w, z0, z0 + pic_h, PROUD)))

    # Furniture: the room's anchor kinds first, then the others in random order.
    kinds = list(ROOM_FURNITURE[room_type])
    anchors, rest = kinds[:2], kinds[2:]
    rest = [rest[i] for i in rng.permutation(len(rest))]
    footprints: list[np.ndarray] = []
    placed = 0
    for kind in anchors + rest:
        piece = make_piece(kind, rng)
        result = _find_spot(piece, walls, sx, sy, keep_clear + footprints, rng)
        if result is None:
            continue
        meshes, aabb = result
        footprints.append(aabb)
        placed += 1
        for part, mesh in zip(piece.parts, meshes):
            named.append((f"{kind}_{placed}/{part.name}", part.class40, mesh))
    if placed < min_pieces:
        return None
    objects = tuple(SceneObject(mesh=m, class40=c, instance_id=i + 1, name=n) for i, (n, c, m) in enumerate(named))
    return Scene(room=Room(room_type, (float(sx), float(sy), float(h)), np.array(keep_clear)), objects=objects)


def _find_spot(piece: Piece, walls: list[_Wall], sx: float, sy: float, taken: list[np.ndarray],
               rng: np.random.Generator, tries: int = 40) -> tuple[list[trimesh.Trimesh], np.ndarray] | None:
    """Sample a collision-free pose for ``piece``: against a wall, or free-standing with a random yaw."""
    for _ in range(tries):
        if piece.placement == "wall":
            wall = walls[int(rng.integers(4))]
            half = piece.width / 2 + WALL_GAP
            if wall.length < 2 * half:
                continue
            center = wall.point(rng.uniform(half, wall.length - half), WALL_GAP + piece.depth / 2)
            yaw = wall.yaw
        else:
            center = np.array([rng.uniform(0.6, sx - 0.6), rng.uniform(0.6, sy - 0.6)])
            yaw = rng.uniform(-np.pi, np.pi)
        meshes, aabb = _place(piece, yaw, center)
        inside = aabb[0] >= WALL_GAP - 1e-9 and aabb[1] >= WALL_GAP - 1e-9 and aabb[2] <= sx - WALL_GAP + 1e-9 and aabb[3] <= sy - WALL_GAP + 1e-9
        if inside and not any(_overlaps(aabb, t, PIECE_GAP) for t in taken):
            return meshes, aabb
    return None
