"""Small objects for support surfaces and floor clutter, plus rugs, floor lamps and floor plants.

Placement ``surface`` (rests on a :class:`~scene_library.objects.base.Support`): books, paper, box, bag,
clothes, table lamp, bottle, cup, bowl, vase, plant, laptop, microwave, photo frame, folded towel.
Placement ``floor_clutter``: floor box, floor bag, bin, floor clothes. Rugs (``free``, tag ``flat``: other
furniture may stand on them), floor lamps and floor plants (``corner``).

Sizes (research/scene_generation.md §3.3-3.5, metres): book 0.15-0.30 x 0.10-0.22 x 0.02-0.06; paper
0.21 x 0.297 sheets; box 0.2-0.7 x 0.15-0.5 x 0.1-0.6 on the floor (0.1-0.4 on surfaces); bag 0.3-0.55 x
0.15-0.35 x 0.25-0.5; table lamp 0.35-0.70 high, floor lamp 1.3-1.8, shade 0.2-0.5 across; bottle 0.18-0.35
high; cup 0.10-0.15; rug 0.6-3.0 x 0.4-2.0, 0.5-1.5 cm thick.

Labels: books, paper, box, bag, clothes, lamp, towel, picture (photo frame) and floor mat (rug) have NYU40
classes; everything else takes the class the NYUv2 894-name table gives its raw name ("bottle", "cup",
"bowl", "vase", "plant", "laptop", "microwave", "bin" -> otherprop).
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

from scene_library.objects.base import Piece, uniform
from scene_library.objects.shapes import (assemble, boxes, bx, chance, choice, clamp_to_floor, cyl, ellipsoid, frustum, lathe, open_box,
                                          part, randint, raw_class, rod_between, rod_x, rotated_box, spec, tapered_box, vessel)

# --- books and paper --------------------------------------------------------------------------------


def sample_books(rng: np.random.Generator) -> dict:
    """A stack of lying books, or a row of upright books between bookends (metres, radians)."""
    if chance(rng, 0.6):
        books = [[uniform(rng, 0.15, 0.30), uniform(rng, 0.10, 0.22), uniform(rng, 0.02, 0.06), uniform(rng, -0.15, 0.15),
                  uniform(rng, -0.02, 0.02), uniform(rng, -0.02, 0.02)] for _ in range(randint(rng, 2, 6))]
        books.sort(key=lambda b: -b[0] * b[1])
        return {"variant": "stack", "books": books}
    books = [[uniform(rng, 0.015, 0.06), uniform(rng, 0.15, 0.30), uniform(rng, 0.10, 0.22)] for _ in range(randint(rng, 3, 10))]
    return {"variant": "row", "books": books, "bookends": chance(rng, 0.6)}


def build_books(p: dict) -> Piece:
    """Books (class books): a stack (each book [length, width, thickness, yaw, dx, dy]) or an upright row
    (each [thickness, height, depth]) with optional bookends (otherprop)."""
    parts = []
    if p["variant"] == "stack":
        z, meshes = 0.0, []
        for length, width, t, yaw, dx, dy in p["books"]:
            meshes.append(rotated_box((length, width, t), (dx, dy, z + t / 2), yaw=yaw))
            z += t
        parts.append(part("books", "books", meshes))
    else:
        books = p["books"]
        dmax = max(b[2] for b in books)
        x, bounds = 0.0, []
        for t, h, d in books:
            bounds.append((x, x + t, dmax / 2 - d, dmax / 2, 0.0, h))
            x += t
        parts.append(part("books", "books", boxes(bounds)))
        if p["bookends"]:
            hmin = min(b[1] for b in books)
            ends = []
            for x0, sgn in ((0.0, -1), (x, 1)):
                xa, xb = sorted((x0, x0 + sgn * 0.1))
                ends += [bx(xa, xb, -0.06, 0.06, 0.0, 0.003),
                         bx(x0 + (0.0 if sgn > 0 else -0.003), x0 + (0.003 if sgn > 0 else 0.0), -0.06, 0.06, 0.0, min(0.15, hmin))]
            parts.append(part("bookends", "otherprop", ends))
    return assemble("books", p, parts)


def sample_paper(rng: np.random.Generator) -> dict:
    """Paper params (metres, radians): a stack of sheets or a few fanned-out sheets."""
    size = choice(rng, [[0.21, 0.297], [0.216, 0.279]])
    if chance(rng, 0.6):
        return {"variant": "stack", "size": size, "thickness": uniform(rng, 0.002, 0.03), "yaw": uniform(rng, -0.2, 0.2)}
    sheets = [[uniform(rng, -0.06, 0.06), uniform(rng, -0.06, 0.06), uniform(rng, -0.4, 0.4)] for _ in range(randint(rng, 2, 5))]
    return {"variant": "fanned", "size": size, "sheets": sheets}


def build_paper(p: dict) -> Piece:
    """Paper (class paper): a stack, or 1 mm sheets [dx, dy, yaw] overlapping on top of each other."""
    w, d = p["size"]
    if p["variant"] == "stack":
        meshes = [rotated_box((w, d, p["thickness"]), (0.0, 0.0, p["thickness"] / 2), yaw=p["yaw"])]
    else:
        meshes = [rotated_box((w, d, 0.001), (dx, dy, 0.0005 + 0.001 * i), yaw=yaw) for i, (dx, dy, yaw) in enumerate(p["sheets"])]
    return assemble("paper", p, [part("paper", "paper", meshes)])


# --- boxes, bags, clothes ---------------------------------------------------------------------------


def _sample_box(rng: np.random.Generator, lo: tuple[float, float, float], hi: tuple[float, float, float], variants: list[str]) -> dict:
    w = uniform(rng, lo[0], hi[0])
    return {"variant": choice(rng, variants), "width": w, "depth": uniform(rng, lo[1], min(hi[1], w)), "height": uniform(rng, lo[2], hi[2]),
            "lid": uniform(rng, 0.02, 0.05), "top_width": uniform(rng, 0.6, 0.9), "top_depth": uniform(rng, 0.5, 0.9),
            "top_height": uniform(rng, 0.4, 0.8)}


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
        meshes = [bx(-w / 2 + 0.005, w / 2 - 0.005, -d / 2 + 0.005, d / 2 - 0.005, 0.0, h - lid + 0.005),
                  bx(-w / 2, w / 2, -d / 2, d / 2, h - lid, h)]
    elif v == "stacked":
        h0 = h * 0.55
        tw, td = w * p["top_width"], d * p["top_depth"]
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, h0), bx(-w / 2, -w / 2 + tw, d / 2 - td, d / 2, h0, h0 + (h - h0))]
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
    return {"variant": variant, "width": uniform(rng, 0.3, 0.55) * big, "depth": uniform(rng, 0.15, 0.3) * big,
            "height": uniform(rng, 0.25, 0.5) * big, "handle": uniform(rng, 0.08, 0.18), "radius": uniform(rng, 0.12, 0.17),
            "length": uniform(rng, 0.45, 0.65)}


def sample_bag(rng: np.random.Generator) -> dict:
    """Bag on a surface (bed, chair, table): tote, handbag or backpack (metres)."""
    return _sample_bag(rng, floor=False)


def sample_floor_bag(rng: np.random.Generator) -> dict:
    """Bag on the floor: tote, backpack or duffel (metres)."""
    return _sample_bag(rng, floor=True)


def _straps(w: float, z: float, rise: float, ys: tuple[float, ...]) -> list[trimesh.Trimesh]:
    """Inverted-U carry handles above height z, in the x-z plane at each y in ``ys``."""
    a = 0.3 * w
    out = []
    for y in ys:
        out += [bx(-a / 2 - 0.015, -a / 2, y - 0.003, y + 0.003, z, z + rise), bx(a / 2, a / 2 + 0.015, y - 0.003, y + 0.003, z, z + rise),
                bx(-a / 2 - 0.015, a / 2 + 0.015, y - 0.003, y + 0.003, z + rise - 0.015, z + rise)]
    return out


def _bag(kind: str, p: dict) -> Piece:
    w, d, h, v = p["width"], p["depth"], p["height"], p["variant"]
    if v == "duffel":
        r, length = p["radius"], p["length"]
        meshes = [rod_x(r, -length / 2, length / 2, 0.0, r, 16)] + _straps(length, 2 * r - 0.01, p["handle"], (0.0,))
    elif v == "backpack":
        w, d = min(w, 0.36), min(d, 0.22)
        body = h - d / 2
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, body), ellipsoid(w / 2, d / 2, d / 2, (0.0, 0.0, body), 12, 4),
                  bx(-w / 2 + 0.04, w / 2 - 0.04, -d / 2 - 0.05, -d / 2, 0.03, body * 0.55),
                  bx(-w / 2 + 0.05, -w / 2 + 0.09, d / 2, d / 2 + 0.02, 0.05, body),
                  bx(w / 2 - 0.09, w / 2 - 0.05, d / 2, d / 2 + 0.02, 0.05, body)]
    elif v == "handbag":
        meshes = [tapered_box(w, d, w * 0.8, d * 0.6, 0.0, h * 0.7)] + _straps(w * 0.8, h * 0.7 - 0.01, p["handle"], (0.0,))
    else:
        meshes = [tapered_box(w, d, w, d * 0.7, 0.0, h)] + _straps(w, h - 0.01, p["handle"], (-d * 0.3, d * 0.3))
    return assemble(kind, p, [part("bag", "bag", meshes)])


def build_bag(p: dict) -> Piece:
    """Bag (class bag): tote with two handles, handbag, or backpack (body, rounded top, pocket, straps)."""
    return _bag("bag", p)


def build_floor_bag(p: dict) -> Piece:
    """Floor bag (class bag): tote, backpack or duffel (a horizontal cylinder with a strap)."""
    return _bag("floor_bag", p)


def _sample_clothes(rng: np.random.Generator, scale: float) -> dict:
    if chance(rng, 0.35):
        items = [[uniform(rng, 0.25, 0.35), uniform(rng, 0.2, 0.3), uniform(rng, 0.03, 0.06), uniform(rng, -0.02, 0.02),
                  uniform(rng, -0.02, 0.02), uniform(rng, -0.05, 0.05)] for _ in range(randint(rng, 2, 5))]
        return {"variant": "folded", "items": items}
    items = [[uniform(rng, 0.25, 0.5) * scale, uniform(rng, 0.2, 0.4) * scale, uniform(rng, 0.02, 0.05), uniform(rng, -0.1, 0.1) * scale,
              uniform(rng, -0.08, 0.08) * scale, uniform(rng, -math.pi, math.pi)] for _ in range(randint(rng, 2, 5))]
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
    return {"width": w, "depth": d, "items": [[uniform(rng, 0.03, 0.06), uniform(rng, -0.015, 0.015)] for _ in range(randint(rng, 1, 3))]}


def build_folded_towel(p: dict) -> Piece:
    """Folded towels (class towel) stacked: each item [thickness, dx]."""
    w, d, z, meshes = p["width"], p["depth"], 0.0, []
    for t, dx in p["items"]:
        meshes.append(bx(dx - w / 2, dx + w / 2, -d / 2, d / 2, z, z + t))
        z += t
    return assemble("folded_towel", p, [part("towel", "towel", meshes)])


# --- lamps ------------------------------------------------------------------------------------------


def _shade(rb: float, rt: float, z0: float, z1: float, sections: int = 24) -> trimesh.Trimesh:
    """A thin open lamp shade (a conical band 5 mm thick)."""
    return lathe([(rb - 0.005, z0), (rb, z0), (rt, z1), (rt - 0.005, z1)], sections, closed=True)


def sample_table_lamp(rng: np.random.Generator) -> dict:
    """Table lamp params (metres)."""
    h = uniform(rng, 0.35, 0.70)
    return {"base": choice(rng, ["cylinder", "vase", "stem"]), "height": h, "base_radius": uniform(rng, 0.05, 0.09),
            "shade_radius": uniform(rng, 0.10, 0.22), "shade_taper": uniform(rng, 0.6, 0.9),
            "shade_height": uniform(rng, 0.15, min(0.3, 0.45 * h))}


def build_table_lamp(p: dict) -> Piece:
    """Table lamp (class lamp): cylinder, vase-shaped or disc-and-stem base, a pole and an open conical shade."""
    h, rb, rs, sh = p["height"], p["base_radius"], p["shade_radius"], p["shade_height"]
    zs = h - sh
    body_top = 0.55 * zs
    if p["base"] == "cylinder":
        base = [cyl(rb, 0.0, body_top, sections=16)]
    elif p["base"] == "vase":
        prof = [(0.0, 0.0), (0.6 * rb, 0.0), (rb, 0.35 * body_top), (0.8 * rb, 0.8 * body_top), (0.3 * rb, body_top), (0.0, body_top)]
        base = [lathe(prof, 16)]
    else:
        base = [cyl(rb, 0.0, 0.02, sections=16)]
    meshes = base + [cyl(0.008, 0.0, zs + 0.6 * sh, sections=8), _shade(rs, rs * p["shade_taper"], zs, h)]
    return assemble("table_lamp", p, [part("lamp", "lamp", meshes)])


def sample_floor_lamp(rng: np.random.Generator) -> dict:
    """Floor lamp params (metres)."""
    return {"variant": choice(rng, ["stem", "tripod", "torchiere"]), "height": uniform(rng, 1.3, 1.8),
            "shade_radius": uniform(rng, 0.125, 0.25),
            "shade_taper": uniform(rng, 0.6, 0.9), "shade_height": uniform(rng, 0.2, 0.35), "base_radius": uniform(rng, 0.12, 0.18)}


def build_floor_lamp(p: dict) -> Piece:
    """Floor lamp (class lamp): disc base and pole, or three splayed legs, under a conical shade; or a
    torchiere with an upturned bowl."""
    h, rs, sh, rb = p["height"], p["shade_radius"], p["shade_height"], p["base_radius"]
    if p["variant"] == "torchiere":
        meshes = [cyl(rb, 0.0, 0.025, sections=20), cyl(0.012, 0.025, h - 0.1, sections=8),
                  vessel(0.03, rs, h - 0.12, h, 0.004, 0.01, sections=20)]
    elif p["variant"] == "tripod":
        zs = h - sh
        apex = zs - 0.05
        meshes = [rod_between((rs * 1.1 * math.cos(a), rs * 1.1 * math.sin(a), 0.0), (0.0, 0.0, apex), 0.012)
                  for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)]
        meshes += [cyl(0.01, apex - 0.02, zs + 0.5 * sh, sections=8), _shade(rs, rs * p["shade_taper"], zs, h)]
    else:
        zs = h - sh
        meshes = [cyl(rb, 0.0, 0.025, sections=20), cyl(0.012, 0.025, zs + 0.6 * sh, sections=8), _shade(rs, rs * p["shade_taper"], zs, h)]
    # tripod legs: their slanted ends dip a few mm below the floor; lift those vertices to z = 0
    return assemble("floor_lamp", p, [part("lamp", "lamp", [clamp_to_floor(m) for m in meshes])])


# --- tableware and decor ----------------------------------------------------------------------------


def sample_bottle(rng: np.random.Generator) -> dict:
    """Bottle or jar params (metres)."""
    v = choice(rng, ["wine", "water", "jar"])
    r = {"wine": uniform(rng, 0.035, 0.045), "water": uniform(rng, 0.03, 0.045), "jar": uniform(rng, 0.04, 0.06)}[v]
    h = {"wine": uniform(rng, 0.28, 0.35), "water": uniform(rng, 0.18, 0.30), "jar": uniform(rng, 0.10, 0.18)}[v]
    return {"variant": v, "radius": r, "height": h}


def build_bottle(p: dict) -> Piece:
    """Bottle (NYU raw "bottle": otherprop): a lathed wine bottle, water bottle, or jar with a lid."""
    r, h, v = p["radius"], p["height"], p["variant"]
    if v == "wine":
        prof = [(0.0, 0.0), (r, 0.0), (r, 0.6 * h), (0.35 * r, 0.78 * h), (0.32 * r, 0.97 * h), (0.36 * r, 0.97 * h), (0.36 * r, h),
                (0.0, h)]
    elif v == "water":
        prof = [(0.0, 0.0), (r, 0.0), (r, 0.75 * h), (0.4 * r, 0.9 * h), (0.4 * r, 0.93 * h), (0.45 * r, 0.93 * h), (0.45 * r, h), (0.0, h)]
    else:
        prof = [(0.0, 0.0), (r, 0.0), (r, 0.82 * h), (0.9 * r, 0.86 * h), (1.02 * r, 0.86 * h), (1.02 * r, h), (0.0, h)]
    return assemble("bottle", p, [part("bottle", raw_class("bottle"), lathe(prof, 16))])


def sample_cup(rng: np.random.Generator) -> dict:
    """Mug or drinking-glass params (metres)."""
    return {"variant": choice(rng, ["mug", "glass"]), "radius": uniform(rng, 0.035, 0.05), "height": uniform(rng, 0.08, 0.15)}


def build_cup(p: dict) -> Piece:
    """Cup (NYU raw "cup": otherprop): a hollow mug with a handle, or a tapered glass."""
    r, h = p["radius"], p["height"]
    if p["variant"] == "mug":
        hz0, hz1 = 0.25 * h, 0.8 * h
        meshes = [vessel(r, r, 0.0, h, 0.005, 0.008, sections=16),
                  boxes([(r - 0.003, r + 0.03, -0.006, 0.006, hz1 - 0.01, hz1), (r - 0.003, r + 0.03, -0.006, 0.006, hz0, hz0 + 0.01),
                         (r + 0.02, r + 0.03, -0.006, 0.006, hz0, hz1)])]
    else:
        meshes = [vessel(0.8 * r, r, 0.0, h, 0.003, 0.01, sections=16)]
    return assemble("cup", p, [part("cup", raw_class("cup"), meshes)])


def sample_bowl(rng: np.random.Generator) -> dict:
    """Bowl params (metres)."""
    return {"radius": uniform(rng, 0.06, 0.15), "height": uniform(rng, 0.05, 0.12), "foot": uniform(rng, 0.45, 0.6)}


def build_bowl(p: dict) -> Piece:
    """Bowl (NYU raw "bowl": otherprop): an open lathed bowl."""
    r, h = p["radius"], p["height"]
    return assemble("bowl", p, [part("bowl", raw_class("bowl"), vessel(p["foot"] * r, r, 0.0, h, 0.006, 0.008, sections=20))])


def sample_vase(rng: np.random.Generator) -> dict:
    """Vase params (metres)."""
    return {"variant": choice(rng, ["cylinder", "bulb", "flared"]), "radius": uniform(rng, 0.04, 0.1), "height": uniform(rng, 0.15, 0.45)}


def build_vase(p: dict) -> Piece:
    """Vase (NYU raw "vase": otherprop): open-topped lathed cylinder, bulb or flared shape."""
    r, h, v, t = p["radius"], p["height"], p["variant"], 0.006
    if v == "cylinder":
        mesh = vessel(0.9 * r, r, 0.0, h, t, 0.01, sections=16)
    else:
        neck, lip = (0.45 * r, 0.6 * r) if v == "bulb" else (0.5 * r, r)
        mesh = lathe([(0.0, 0.0), (0.7 * r, 0.0), (r, 0.35 * h), (neck, 0.8 * h), (lip, h), (lip - t, h), (neck - t, 0.8 * h),
                      (neck - t, 0.6 * h),
                      (0.0, 0.6 * h)], 16)
    return assemble("vase", p, [part("vase", raw_class("vase"), mesh)])


def _sample_plant(rng: np.random.Generator, pot_r: tuple[float, float], pot_h: tuple[float, float], top: tuple[float, float]) -> dict:
    """Pot radius and height, plant height, and 6-12 foliage blobs [dx, dy, z, size] filling a crown that
    widens towards the top (metres)."""
    r, ph = uniform(rng, *pot_r), uniform(rng, *pot_h)
    h = uniform(rng, *top)
    size = max(r, 0.15 * (h - ph))
    blobs = []
    for _ in range(randint(rng, 6, 12)):
        s = round(uniform(rng, 0.4, 0.7) * size, 4)
        f = float(rng.uniform(0.0, 1.0))
        z = round(ph + 0.5 * s + f * max(0.0, h - ph - 1.2 * s), 4)
        a = float(rng.uniform(-math.pi, math.pi))
        rad = float(rng.uniform(0.1, 1.0)) * r * (0.6 + 0.8 * f)
        blobs.append([round(rad * math.cos(a), 4), round(rad * math.sin(a), 4), z, s])
    return {"pot_radius": r, "pot_height": ph, "height": h, "blobs": blobs}


def sample_plant(rng: np.random.Generator) -> dict:
    """Potted plant for a surface (metres): pot and foliage blobs [dx, dy, z, size]."""
    return _sample_plant(rng, (0.06, 0.15), (0.08, 0.2), (0.2, 0.6))


def sample_floor_plant(rng: np.random.Generator) -> dict:
    """Large potted plant for a floor corner (metres)."""
    return _sample_plant(rng, (0.12, 0.25), (0.2, 0.45), (0.6, 1.6))


def _plant(kind: str, p: dict) -> Piece:
    r, ph = p["pot_radius"], p["pot_height"]
    meshes = [frustum(0.75 * r, r, 0.0, ph, sections=16)]
    for dx, dy, z, s in p["blobs"]:
        meshes.append(rod_between((0.0, 0.0, ph - 0.01), (dx, dy, z), 0.006, 5))
        meshes.append(ellipsoid(s, 0.85 * s, 0.7 * s, (dx, dy, z), 10, 5))
    return assemble(kind, p, [part("plant", raw_class("plant"), meshes)])


def build_plant(p: dict) -> Piece:
    """Potted plant (NYU raw "plant": otherprop): a pot with stems and ellipsoid foliage."""
    return _plant("plant", p)


def build_floor_plant(p: dict) -> Piece:
    """Large potted plant (otherprop), as :func:`build_plant`."""
    return _plant("floor_plant", p)


def sample_photo_frame(rng: np.random.Generator) -> dict:
    """Standing photo frame params (metres, radians)."""
    return {"width": uniform(rng, 0.1, 0.25), "height": uniform(rng, 0.13, 0.3), "thickness": uniform(rng, 0.01, 0.02),
            "lean": uniform(rng, 0.15, 0.3)}


def build_photo_frame(p: dict) -> Piece:
    """Photo frame (class picture) leaning back on a kickstand."""
    w, h, t, a = p["width"], p["height"], p["thickness"], p["lean"]
    frame = rotated_box((w, t, h), (0.0, 0.5 * h * math.sin(a), 0.5 * h * math.cos(a) + 0.5 * t * math.sin(a)), tilt=-a)
    stand = rod_between((0.0, h * math.sin(a) * 0.5, h * 0.5 * math.cos(a)), (0.0, h * 0.6, 0.004), 0.004, 4)
    return assemble("photo_frame", p, [part("photo_frame", "picture", [frame, clamp_to_floor(stand)])])


def sample_laptop(rng: np.random.Generator) -> dict:
    """Laptop params (metres, radians)."""
    return {"width": uniform(rng, 0.30, 0.38), "depth": uniform(rng, 0.21, 0.26), "base": uniform(rng, 0.015, 0.025),
            "open": chance(rng, 0.75), "screen_angle": uniform(rng, 0.15, 0.45)}


def build_laptop(p: dict) -> Piece:
    """Laptop (NYU raw "laptop": otherprop): closed, or open with the screen leaning back ``screen_angle``
    from vertical about the rear hinge."""
    w, d, b = p["width"], p["depth"], p["base"]
    meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, b)]
    if p["open"]:
        a, t = p["screen_angle"], 0.006
        cy = d / 2 - t / 2 * math.cos(a) + 0.5 * d * math.sin(a)
        cz = b + 0.5 * d * math.cos(a) + t / 2 * math.sin(a)
        meshes.append(rotated_box((w, t, d), (0.0, cy, cz), tilt=-a))
    else:
        meshes.append(bx(-w / 2, w / 2, -d / 2, d / 2, b, b + 0.006))
    return assemble("laptop", p, [part("laptop", raw_class("laptop"), meshes)])


def sample_microwave(rng: np.random.Generator) -> dict:
    """Microwave oven params (metres)."""
    return {"width": uniform(rng, 0.45, 0.60), "depth": uniform(rng, 0.32, 0.42), "height": uniform(rng, 0.26, 0.33),
            "panel": uniform(rng, 0.08, 0.12)}


def build_microwave(p: dict) -> Piece:
    """Microwave (NYU raw "microwave": otherprop): body on feet, door with a window and handle, control panel."""
    w, d, h, cp = p["width"], p["depth"], p["height"], p["panel"]
    meshes = [bx(-w / 2, w / 2, -d / 2 + 0.025, d / 2, 0.01, h), bx(-w / 2, -w / 2 + 0.03, -d / 2 + 0.03, -d / 2 + 0.06, 0.0, 0.01),
              bx(w / 2 - 0.03, w / 2, -d / 2 + 0.03, -d / 2 + 0.06, 0.0, 0.01), bx(-w / 2, w / 2, d / 2 - 0.06, d / 2, 0.0, 0.01),
              bx(-w / 2 + 0.01, w / 2 - cp, -d / 2 + 0.01, -d / 2 + 0.025, 0.02, h - 0.01),
              bx(w / 2 - cp - 0.03, w / 2 - cp - 0.015, -d / 2, -d / 2 + 0.01, 0.05, h - 0.05)]
    return assemble("microwave", p, [part("microwave", raw_class("microwave"), meshes)], size=(w, d, h))


# --- bin and rug ------------------------------------------------------------------------------------


def sample_bin(rng: np.random.Generator) -> dict:
    """Waste bin params (metres)."""
    return {"shape": choice(rng, ["round", "square"]), "width": uniform(rng, 0.2, 0.4), "height": uniform(rng, 0.25, 0.6),
            "depth_ratio": uniform(rng, 0.7, 1.0), "taper": uniform(rng, 0.75, 1.0)}


def build_bin(p: dict) -> Piece:
    """Bin (NYU raw "bin": otherprop): an open round (tapered) or square bin."""
    w, h = p["width"], p["height"]
    if p["shape"] == "round":
        mesh = vessel(p["taper"] * w / 2, w / 2, 0.0, h, 0.006, 0.01, sections=20)
    else:
        d = w * p["depth_ratio"]
        mesh = open_box(-w / 2, w / 2, -d / 2, d / 2, 0.0, h, 0.008)
    return assemble("bin", p, [part("bin", raw_class("bin"), mesh)])


def sample_rug(rng: np.random.Generator) -> dict:
    """Area rug params (metres): rectangle, round or runner."""
    v = choice(rng, ["rect", "rect", "round", "runner"])
    if v == "round":
        w = d = uniform(rng, 0.9, 2.0)
    elif v == "runner":
        w, d = uniform(rng, 1.8, 3.0), uniform(rng, 0.6, 0.9)
    else:
        w = uniform(rng, 0.9, 3.0)
        d = uniform(rng, 0.6, min(2.0, w))
    return {"variant": v, "width": w, "depth": d, "thickness": uniform(rng, 0.005, 0.015)}


def build_rug(p: dict) -> Piece:
    """Rug (class floor mat): a thin slab or disc; furniture may stand on it (tag ``flat``)."""
    w, d, t = p["width"], p["depth"], p["thickness"]
    mesh = cyl(w / 2, 0.0, t, sections=32) if p["variant"] == "round" else bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, t)
    return assemble("rug", p, [part("rug", "floor mat", mesh)], size=(w, d, t))


SPECS = (
    spec("books", "books", "surface", sample_books, build_books, tags=("office", "bedroom", "living_room")),
    spec("paper", "paper", "surface", sample_paper, build_paper, tags=("office",)),
    spec("box", "box", "surface", sample_box, build_box),
    spec("bag", "bag", "surface", sample_bag, build_bag),
    spec("clothes", "clothes", "surface", sample_clothes, build_clothes, tags=("bedroom",)),
    spec("folded_towel", "towel", "surface", sample_folded_towel, build_folded_towel, tags=("bathroom",)),
    spec("table_lamp", "lamp", "surface", sample_table_lamp, build_table_lamp, tags=("bedroom", "living_room", "office")),
    spec("bottle", raw_class("bottle"), "surface", sample_bottle, build_bottle, tags=("kitchen", "dining_room", "bathroom")),
    spec("cup", raw_class("cup"), "surface", sample_cup, build_cup, tags=("kitchen", "dining_room", "office")),
    spec("bowl", raw_class("bowl"), "surface", sample_bowl, build_bowl, tags=("kitchen", "dining_room")),
    spec("vase", raw_class("vase"), "surface", sample_vase, build_vase, tags=("living_room", "dining_room")),
    spec("plant", raw_class("plant"), "surface", sample_plant, build_plant, tags=("living_room", "office")),
    spec("laptop", raw_class("laptop"), "surface", sample_laptop, build_laptop, tags=("office", "bedroom")),
    spec("microwave", raw_class("microwave"), "surface", sample_microwave, build_microwave, tags=("kitchen",)),
    spec("photo_frame", "picture", "surface", sample_photo_frame, build_photo_frame, tags=("bedroom", "living_room")),
    spec("floor_box", "box", "floor_clutter", sample_floor_box, build_floor_box),
    spec("floor_bag", "bag", "floor_clutter", sample_floor_bag, build_floor_bag),
    spec("bin", raw_class("bin"), "floor_clutter", sample_bin, build_bin),
    spec("floor_clothes", "clothes", "floor_clutter", sample_floor_clothes, build_floor_clothes, tags=("bedroom",)),
    spec("rug", "floor mat", "free", sample_rug, build_rug, tags=("flat",)),
    spec("floor_lamp", "lamp", "corner", sample_floor_lamp, build_floor_lamp, front_clearance=0.0, tags=("tall",)),
    spec("floor_plant", raw_class("plant"), "corner", sample_floor_plant, build_floor_plant),
)
