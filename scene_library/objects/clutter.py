"""Boxes, bags and clothes, on support surfaces (``surface``) and on the floor (``floor_clutter``), and
folded towels. Registered in :mod:`scene_library.objects.small_objects`."""

from __future__ import annotations

import math

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.primitives import Mesh, bx, ellipsoid, open_box, rod_x, rotated_box, tapered_box
from scene_library.objects.shapes import assemble, chance, choice, part, randint


def _sample_box(
    rng: np.random.Generator, lo: tuple[float, float, float], hi: tuple[float, float, float], variants: list[str]
) -> dict:
    w = uniform(rng, lo[0], hi[0])
    return {
        "variant": choice(rng, variants),
        "width": w,
        "depth": uniform(rng, lo[1], min(hi[1], w)),
        "height": uniform(rng, lo[2], hi[2]),
        "lid": uniform(rng, 0.02, 0.05),
        "top_width": uniform(rng, 0.6, 0.9),
        "top_depth": uniform(rng, 0.5, 0.9),
        "top_height": uniform(rng, 0.4, 0.8),
    }


def sample_box(rng: np.random.Generator) -> dict:
    """Small box on a surface (metres)."""
    return _sample_box(rng, (0.1, 0.08, 0.05), (0.4, 0.3, 0.25), ["closed", "open", "lidded"])


def sample_floor_box(rng: np.random.Generator) -> dict:
    """Cardboard / storage box on the floor (metres)."""
    return _sample_box(rng, (0.2, 0.15, 0.1), (0.7, 0.5, 0.6), ["closed", "open", "lidded", "stacked"])


def _box(kind: str, p: dict) -> Piece:
    w, d, h, v = p["width"], p["depth"], p["height"], p["variant"]
    if v == "open":
        meshes = [open_box(-w / 2, w / 2, -d / 2, d / 2, 0.0, h, 0.006)]
    elif v == "lidded":
        lid = min(p["lid"], h / 3)
        meshes = [
            bx(-w / 2 + 0.005, w / 2 - 0.005, -d / 2 + 0.005, d / 2 - 0.005, 0.0, h - lid + 0.005),
            bx(-w / 2, w / 2, -d / 2, d / 2, h - lid, h),
        ]
    elif v == "stacked":
        h0 = h * 0.55
        tw, td = w * p["top_width"], d * p["top_depth"]
        meshes = [
            bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, h0),
            bx(-w / 2, -w / 2 + tw, d / 2 - td, d / 2, h0, h0 + (h - h0)),
        ]
    else:
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, h)]
    return assemble(kind, p, [part("box", "box", meshes)], size=(w, d, h))


def build_box(p: dict) -> Piece:
    """Box (class box): closed, open-topped or lidded."""
    return _box("box", p)


def build_floor_box(p: dict) -> Piece:
    """Floor box (class box): closed, open, lidded, or a smaller box stacked on a bigger one."""
    return _box("floor_box", p)


def _sample_bag(rng: np.random.Generator, floor: bool) -> dict:
    variant = choice(rng, ["tote", "backpack", "duffel"] if floor else ["tote", "handbag", "backpack"])
    big = 1.0 if floor else 0.8
    return {
        "variant": variant,
        "width": uniform(rng, 0.3, 0.55) * big,
        "depth": uniform(rng, 0.15, 0.3) * big,
        "height": uniform(rng, 0.25, 0.5) * big,
        "handle": uniform(rng, 0.08, 0.18),
        "radius": uniform(rng, 0.12, 0.17),
        "length": uniform(rng, 0.45, 0.65),
    }


def sample_bag(rng: np.random.Generator) -> dict:
    """Bag on a surface (bed, chair, table): tote, handbag or backpack (metres)."""
    return _sample_bag(rng, floor=False)


def sample_floor_bag(rng: np.random.Generator) -> dict:
    """Bag on the floor: tote, backpack or duffel (metres)."""
    return _sample_bag(rng, floor=True)


def _straps(w: float, z: float, rise: float, ys: tuple[float, ...]) -> list[Mesh]:
    """Inverted-U carry handles above height z, in the x-z plane at each y in ``ys``."""
    a = 0.3 * w
    out: list[Mesh] = []
    for y in ys:
        out += [
            bx(-a / 2 - 0.015, -a / 2, y - 0.003, y + 0.003, z, z + rise),
            bx(a / 2, a / 2 + 0.015, y - 0.003, y + 0.003, z, z + rise),
            bx(-a / 2 - 0.015, a / 2 + 0.015, y - 0.003, y + 0.003, z + rise - 0.015, z + rise),
        ]
    return out


def _bag(kind: str, p: dict) -> Piece:
    w, d, h, v = p["width"], p["depth"], p["height"], p["variant"]
    if v == "duffel":
        r, length = p["radius"], p["length"]
        meshes = [rod_x(r, -length / 2, length / 2, 0.0, r, 16)] + _straps(length, 2 * r - 0.01, p["handle"], (0.0,))
    elif v == "backpack":
        w, d = min(w, 0.36), min(d, 0.22)
        body = h - d / 2
        meshes = [
            bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, body),
            ellipsoid(w / 2, d / 2, d / 2, (0.0, 0.0, body), 12, 4),
            bx(-w / 2 + 0.04, w / 2 - 0.04, -d / 2 - 0.05, -d / 2, 0.03, body * 0.55),
            bx(-w / 2 + 0.05, -w / 2 + 0.09, d / 2, d / 2 + 0.02, 0.05, body),
            bx(w / 2 - 0.09, w / 2 - 0.05, d / 2, d / 2 + 0.02, 0.05, body),
        ]
    elif v == "handbag":
        meshes = [
            tapered_box(w, d, w * 0.8, d * 0.6, 0.0, h * 0.7),
            *_straps(w * 0.8, h * 0.7 - 0.01, p["handle"], (0.0,)),
        ]
    else:
        meshes = [tapered_box(w, d, w, d * 0.7, 0.0, h), *_straps(w, h - 0.01, p["handle"], (-d * 0.3, d * 0.3))]
    return assemble(kind, p, [part("bag", "bag", meshes)])


def build_bag(p: dict) -> Piece:
    """Bag (class bag): tote with two handles, handbag, or backpack (body, rounded top, pocket, straps)."""
    return _bag("bag", p)


def build_floor_bag(p: dict) -> Piece:
    """Floor bag (class bag): tote, backpack or duffel (a horizontal cylinder with a strap)."""
    return _bag("floor_bag", p)


def _sample_clothes(rng: np.random.Generator, scale: float) -> dict:
    if chance(rng, 0.35):
        items = [
            [
                uniform(rng, 0.25, 0.35),
                uniform(rng, 0.2, 0.3),
                uniform(rng, 0.03, 0.06),
                uniform(rng, -0.02, 0.02),
                uniform(rng, -0.02, 0.02),
                uniform(rng, -0.05, 0.05),
            ]
            for _ in range(randint(rng, 2, 5))
        ]
        return {"variant": "folded", "items": items}
    items = [
        [
            uniform(rng, 0.25, 0.5) * scale,
            uniform(rng, 0.2, 0.4) * scale,
            uniform(rng, 0.02, 0.05),
            uniform(rng, -0.1, 0.1) * scale,
            uniform(rng, -0.08, 0.08) * scale,
            uniform(rng, -math.pi, math.pi),
        ]
        for _ in range(randint(rng, 2, 5))
    ]
    return {"variant": "pile", "items": items}


def sample_clothes(rng: np.random.Generator) -> dict:
    """Clothes on a bed, chair or dresser: a loose pile or a folded stack (metres, radians)."""
    return _sample_clothes(rng, 1.0)


def sample_floor_clothes(rng: np.random.Generator) -> dict:
    """Clothes dropped on the floor (metres, radians)."""
    return _sample_clothes(rng, 1.3)


def _clothes(kind: str, p: dict) -> Piece:
    z, meshes = 0.0, []
    sag = 0.6 if p["variant"] == "pile" else 1.0
    for w, d, t, dx, dy, yaw in p["items"]:
        meshes.append(rotated_box((w, d, t), (dx, dy, z + t / 2), yaw=yaw))
        z += t * sag
    return assemble(kind, p, [part("clothes", "clothes", meshes)])


def build_clothes(p: dict) -> Piece:
    """Clothes (class clothes): garments [w, d, t, dx, dy, yaw] as a loose pile or a folded stack."""
    return _clothes("clothes", p)


def build_floor_clothes(p: dict) -> Piece:
    """Floor clothes (class clothes), as :func:`build_clothes`."""
    return _clothes("floor_clothes", p)


def sample_folded_towel(rng: np.random.Generator) -> dict:
    """Folded towels (metres)."""
    w, d = uniform(rng, 0.25, 0.4), uniform(rng, 0.2, 0.3)
    return {
        "width": w,
        "depth": d,
        "items": [[uniform(rng, 0.03, 0.06), uniform(rng, -0.015, 0.015)] for _ in range(randint(rng, 1, 3))],
    }


def build_folded_towel(p: dict) -> Piece:
    """Folded towels (class towel) stacked: each item [thickness, dx]."""
    w, d, z, meshes = p["width"], p["depth"], 0.0, []
    for t, dx in p["items"]:
        meshes.append(bx(dx - w / 2, dx + w / 2, -d / 2, d / 2, z, z + t))
        z += t
    return assemble("folded_towel", p, [part("towel", "towel", meshes)])
