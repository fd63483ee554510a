"""Parametric furniture built from trimesh primitives, with sampled realistic dimensions.

Every generator takes a ``numpy.random.Generator`` and returns a :class:`Piece` in its *local*
frame: the footprint is centred on the origin, the piece stands on z = 0, its back is at
``+depth/2`` (the side that goes against a wall) and its front faces ``-y``. Parts carry their own
NYUv2-40 class where NYU40 has one (pillows on a bed are ``pillow``, books on a shelf ``books``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh

from scene_library.errors import SceneError
from scene_library.labels import class40_id


@dataclass(frozen=True)
class Part:
    """One labelled mesh of a piece, in the piece's local frame (metres)."""

    name: str
    class40: int
    mesh: trimesh.Trimesh


@dataclass(frozen=True)
class Piece:
    """A piece of furniture: its parts and its plan size.

    kind : generator name, e.g. ``"bed"``.
    width, depth, height : extents along local x, y, z in metres.
    placement : ``"wall"`` (back against a wall) or ``"free"`` (anywhere on the floor).
    """

    kind: str
    parts: tuple[Part, ...]
    width: float
    depth: float
    height: float
    placement: str


def box(extents: tuple[float, float, float], center: tuple[float, float, float]) -> trimesh.Trimesh:
    """Axis-aligned box with the given (x, y, z) extents and centre, metres."""
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(center))


def cylinder(radius: float, z0: float, z1: float, xy: tuple[float, float] = (0.0, 0.0), sections: int = 16) -> trimesh.Trimesh:
    """Vertical cylinder from height z0 to z1 around plan point ``xy``, metres."""
    mesh = trimesh.creation.cylinder(radius=radius, height=z1 - z0, sections=sections)
    mesh.apply_translation((xy[0], xy[1], (z0 + z1) / 2))
    return mesh


def _merge(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    return trimesh.util.concatenate(meshes)


def _legs(w: float, d: float, z1: float, r: float, inset: float) -> list[trimesh.Trimesh]:
    """Four cylindrical legs under a w x d top, from the floor to z1."""
    xs, ys = w / 2 - inset - r, d / 2 - inset - r
    return [cylinder(r, 0.0, z1, (sx * xs, sy * ys), sections=10) for sx in (-1, 1) for sy in (-1, 1)]


def make_bed(rng: np.random.Generator) -> Piece:
    w = rng.choice([0.95, 1.4, 1.6, 1.8]) + rng.uniform(-0.03, 0.03)
    d = rng.uniform(1.95, 2.15)
    frame_h, mattress_h = rng.uniform(0.25, 0.35), rng.uniform(0.18, 0.25)
    head_h = rng.uniform(0.85, 1.15)
    top = frame_h + mattress_h
    bed = _merge([
        box((w, d - 0.06, frame_h), (0, -0.03, frame_h / 2)),
        box((w - 0.04, d - 0.1, mattress_h), (0, -0.05, frame_h + mattress_h / 2)),
        box((w, 0.06, head_h), (0, d / 2 - 0.03, head_h / 2)),
    ])
    parts = [Part("frame", class40_id("bed"), bed)]
    n_pillows = 1 if w < 1.2 else 2
    pw = min(0.65, (w - 0.1) / n_pillows - 0.04)
    for i in range(n_pillows):
        x = (i - (n_pillows - 1) / 2) * (pw + 0.04)
        parts.append(Part(f"pillow_{i}", class40_id("pillow"), box((pw, 0.38, 0.12), (x, d / 2 - 0.06 - 0.2, top + 0.06))))
    return Piece("bed", tuple(parts), float(w), float(d), float(head_h), "wall")


def make_night_stand(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), rng.uniform(0.5, 0.65)
    body = _merge([box((w, d, h - 0.03), (0, 0, (h - 0.03) / 2)), box((w + 0.02, d + 0.01, 0.03), (0, 0, h - 0.015))])
    return Piece("night_stand", (Part("body", class40_id("night stand"), body),), w, d + 0.01, h, "wall")


def make_chair(rng: np.random.Generator) -> Piece:
    w, d = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.52)
    seat_h, back_h = rng.uniform(0.42, 0.48), rng.uniform(0.8, 0.95)
    parts = _legs(w, d, seat_h - 0.04, 0.018, 0.01)
    parts += [box((w, d, 0.04), (0, 0, seat_h - 0.02)), box((w, 0.04, back_h - seat_h), (0, d / 2 - 0.02, (seat_h + back_h) / 2))]
    return Piece("chair", (Part("chair", class40_id("chair"), _merge(parts)),), w, d, back_h, "free")


def make_sofa(rng: np.random.Generator) -> Piece:
    w, d = rng.uniform(1.6, 2.3), rng.uniform(0.85, 0.98)
    seat_h, back_h, arm_h, arm_w = rng.uniform(0.4, 0.46), rng.uniform(0.75, 0.9), rng.uniform(0.55, 0.65), rng.uniform(0.12, 0.2)
    base = box((w - 2 * arm_w, d - 0.2, seat_h), (0, -0.1, seat_h / 2))
    back = box((w, 0.2, back_h), (0, d / 2 - 0.1, back_h / 2))
    arms = [box((arm_w, d - 0.2, arm_h), (s * (w - arm_w) / 2, -0.1, arm_h / 2)) for s in (-1, 1)]
    parts = [Part("sofa", class40_id("sofa"), _merge([base, back, *arms]))]
    cushion_w = min(0.5, (w - 2 * arm_w) / 2 - 0.05)
    for i, s in enumerate((-1, 1)):
        parts.append(Part(f"pillow_{i}", class40_id("pillow"), box((cushion_w, 0.14, 0.4), (s * (cushion_w / 2 + 0.05), d / 2 - 0.28, seat_h + 0.21))))
    return Piece("sofa", tuple(parts), w, d, back_h, "wall")


def make_table(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.9, 1.8), rng.uniform(0.7, 1.0), rng.uniform(0.72, 0.77)
    mesh = _merge([box((w, d, 0.04), (0, 0, h - 0.02)), *_legs(w, d, h - 0.04, 0.025, 0.04)])
    return Piece("table", (Part("table", class40_id("table"), mesh),), w, d, h, "free")


def make_desk(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(1.0, 1.6), rng.uniform(0.55, 0.75), rng.uniform(0.72, 0.76)
    sides = [box((0.03, d, h - 0.03), (s * (w / 2 - 0.015), 0, (h - 0.03) / 2)) for s in (-1, 1)]
    drawers = box((0.4, d - 0.02, h - 0.15), (w / 2 - 0.03 - 0.2, 0, (h - 0.15) / 2 + 0.1))
    mesh = _merge([box((w, d, 0.03), (0, 0, h - 0.015)), *sides, drawers])
    return Piece("desk", (Part("desk", class40_id("desk"), mesh),), w, d, h, "wall")


def make_bookshelf(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.28, 0.38), rng.uniform(1.5, 2.0)
    t = 0.02
    n_shelves = int(h // 0.35)
    gap = (h - t) / n_shelves
    frame = [box((t, d, h), (s * (w - t) / 2, 0, h / 2)) for s in (-1, 1)] + [box((w, t, h), (0, d / 2 - t / 2, h / 2))]
    frame += [box((w - 2 * t, d - t, t), (0, -t / 2, i * gap + t / 2)) for i in range(n_shelves + 1)]
    parts = [Part("frame", class40_id("bookshelf"), _merge(frame))]
    inner_w = w - 2 * t
    for i in range(n_shelves):
        fill = rng.uniform(0.4, 0.95)
        bw, bh, bd = inner_w * fill, rng.uniform(0.17, min(0.3, gap - t - 0.02)), d - t - rng.uniform(0.05, 0.1)
        x = -inner_w / 2 + bw / 2 + rng.uniform(0, inner_w - bw)
        z0 = i * gap + t
        parts.append(Part(f"books_{i}", class40_id("books"), box((bw, bd, bh), (x, d / 2 - t - bd / 2, z0 + bh / 2))))
    return Piece("bookshelf", tuple(parts), w, d, h, "wall")


def make_cabinet(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.4, 0.6), rng.uniform(0.8, 2.0)
    body = _merge([box((w, d - 0.02, h), (0, 0.01, h / 2)), box((w / 2 - 0.01, 0.02, h - 0.06), (-w / 4, -d / 2 + 0.01, h / 2)),
                   box((w / 2 - 0.01, 0.02, h - 0.06), (w / 4, -d / 2 + 0.01, h / 2))])
    return Piece("cabinet", (Part("cabinet", class40_id("cabinet"), body),), w, d, h, "wall")


def make_dresser(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.8, 1.5), rng.uniform(0.42, 0.55), rng.uniform(0.75, 1.0)
    n = int(rng.integers(3, 5))
    dh = (h - 0.1) / n
    fronts = [box((w - 0.06, 0.02, dh - 0.02), (0, -d / 2 + 0.01, 0.08 + i * dh + dh / 2)) for i in range(n)]
    body = _merge([box((w, d - 0.02, h), (0, 0.01, h / 2)), *fronts])
    return Piece("dresser", (Part("dresser", class40_id("dresser"), body),), w, d, h, "wall")


def make_lamp(rng: np.random.Generator) -> Piece:
    h, r = rng.uniform(1.4, 1.75), rng.uniform(0.18, 0.25)
    shade = trimesh.creation.cone(radius=r, height=0.3, sections=20)  # base at z = 0, apex up
    shade.apply_translation((0, 0, h - 0.3))
    mesh = _merge([cylinder(0.15, 0.0, 0.03, sections=20), cylinder(0.015, 0.03, h - 0.25, sections=8), shade])
    return Piece("lamp", (Part("lamp", class40_id("lamp"), mesh),), 2 * r, 2 * r, h, "free")


def make_refrigerator(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(0.6, 0.8), rng.uniform(0.62, 0.72), rng.uniform(1.7, 1.9)
    split = h * rng.uniform(0.55, 0.7)
    body = _merge([box((w, d - 0.03, h), (0, 0.015, h / 2)), box((w - 0.01, 0.03, split - 0.02), (0, -d / 2 + 0.015, split / 2)),
                   box((w - 0.01, 0.03, h - split - 0.02), (0, -d / 2 + 0.015, (split + h) / 2))])
    return Piece("refrigerator", (Part("refrigerator", class40_id("refridgerator"), body),), w, d, h, "wall")


def make_tv_stand(rng: np.random.Generator) -> Piece:
    w, d, h = rng.uniform(1.0, 1.6), rng.uniform(0.35, 0.45), rng.uniform(0.4, 0.55)
    tv_w = min(w - 0.1, rng.uniform(0.9, 1.4))
    tv_h = tv_w * 9 / 16
    stand = box((w, d, h), (0, 0, h / 2))
    tv = _merge([box((0.25, 0.2, 0.05), (0, 0.05, h + 0.025)), box((0.06, 0.04, 0.1), (0, 0.05, h + 0.1)),
                 box((tv_w, 0.05, tv_h), (0, 0.05, h + 0.15 + tv_h / 2))])
    parts = (Part("stand", class40_id("cabinet"), stand), Part("television", class40_id("television"), tv))
    return Piece("tv_stand", parts, w, d, h + 0.15 + tv_h, "wall")


#: Explicit registry of furniture generators by name.
FURNITURE: dict[str, Callable[[np.random.Generator], Piece]] = {
    "bed": make_bed,
    "night_stand": make_night_stand,
    "chair": make_chair,
    "sofa": make_sofa,
    "table": make_table,
    "desk": make_desk,
    "bookshelf": make_bookshelf,
    "cabinet": make_cabinet,
    "dresser": make_dresser,
    "lamp": make_lamp,
    "refrigerator": make_refrigerator,
    "tv_stand": make_tv_stand,
}


def make_piece(kind: str, rng: np.random.Generator) -> Piece:
    """Build one piece of the given kind; an unknown kind lists the valid ones."""
    try:
        factory = FURNITURE[kind]
    except KeyError:
        raise SceneError(f"unknown furniture kind {kind!r}; valid kinds: {', '.join(FURNITURE)}") from None
    return factory(rng)
