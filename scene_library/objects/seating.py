"""Seating: chairs (four legs, pedestal or sled base, optional arms), armchairs, office chairs, sofas, ottomans.

Sizes follow research/scene_generation.md §3.5 (metres): chair footprint 0.42-0.60 x 0.42-0.58, height
0.78-1.00, seat 0.42-0.48; armchair 0.70-0.95 square, seat 0.40-0.45, height 0.70-1.00; sofa 1.40-2.40 x
0.80-1.00, height 0.70-0.95, seat 0.40-0.48, arms 0.10-0.25 wide, 2-3 seats. Backs are at +y (local frame).
"""

from __future__ import annotations

import math

import numpy as np

from scene_library.objects.base import ObjectSpec, Piece, uniform
from scene_library.objects.primitives import Mesh, bx, cyl, rotated_box
from scene_library.objects.shapes import assemble, chance, choice, corner_legs, part, randint, spec, support

# --- chair ------------------------------------------------------------------------------------------


def sample_chair(rng: np.random.Generator) -> dict:
    """Dining / side chair params (metres)."""
    arms = chance(rng, 0.25)
    return {
        "base": choice(rng, ["four_legs", "pedestal", "sled"], [0.7, 0.15, 0.15]),
        "back": choice(rng, ["slab", "slats", "frame"]),
        "arms": arms,
        "seat_width": uniform(rng, 0.42, 0.50 if arms else 0.52),
        "seat_depth": uniform(rng, 0.40, 0.50),
        "seat_height": uniform(rng, 0.42, 0.48),
        "seat_thickness": uniform(rng, 0.03, 0.07),
        "back_thickness": uniform(rng, 0.02, 0.05),
        "back_gap": uniform(rng, 0.04, 0.14),
        "height": uniform(rng, 0.78, 1.00),
        "arm_width": uniform(rng, 0.03, 0.05),
        "arm_height": uniform(rng, 0.18, 0.24),
        "leg_size": uniform(rng, 0.025, 0.045),
        "leg_shape": choice(rng, ["round", "square"]),
        "stretchers": chance(rng, 0.4),
        "n_slats": randint(rng, 3, 5),
    }


def _chair_base(p: dict, sw: float, d: float, bt: float, z_seat: float) -> list[Mesh]:
    """Legs / pedestal / sled runners under a seat of width ``sw`` spanning y in [-d/2, d/2 - bt]."""
    ls, shape = p["leg_size"], p["leg_shape"]
    x0, x1, y0, y1 = -sw / 2, sw / 2, -d / 2, d / 2
    if p["base"] == "four_legs":
        out = corner_legs(shape, x0, x1, y0, y1, ls, 0.0, z_seat)
        if p["stretchers"]:
            zs = 0.14
            for sx in (x0, x1 - ls):
                out.append(bx(sx, sx + ls, y0 + ls, y1 - ls, zs, zs + 0.02))
            out.append(bx(x0 + ls, x1 - ls, y0, y0 + ls * 0.6, zs + 0.04, zs + 0.06))
        return out
    if p["base"] == "pedestal":
        yc = -bt / 2
        r = min(sw, d - bt) / 2 - 0.01
        return [cyl(r, 0.0, 0.025, (0.0, yc), 16), cyl(0.03, 0.025, z_seat, (0.0, yc), 12)]
    out = []  # sled: two inverted-U side frames
    for sx in (x0, x1 - ls):
        out += [
            bx(sx, sx + ls, y0, y1, 0.0, 0.02),
            bx(sx, sx + ls, y0, y0 + ls, 0.0, z_seat),
            bx(sx, sx + ls, y1 - ls, y1, 0.0, z_seat),
        ]
    return out


def _chair_back(p: dict, sw: float, d: float, bt: float, sh: float, h: float) -> list[Mesh]:
    """Back rest between the seat (top ``sh``) and the chair top ``h``, in y in [d/2 - bt, d/2]."""
    y0, y1 = d / 2 - bt, d / 2
    z0 = sh + p["back_gap"]
    pw = max(p["leg_size"], 0.025)
    posts = [bx(-sw / 2, -sw / 2 + pw, y0, y1, sh, h), bx(sw / 2 - pw, sw / 2, y0, y1, sh, h)]
    if p["back"] == "slab":
        panel = bx(-sw / 2, sw / 2, y0, y1, z0, h)
        if p["base"] == "pedestal":
            return [panel, bx(-0.03, 0.03, y0, y1, sh, z0)]
        return [panel, *posts]
    rail = bx(-sw / 2, sw / 2, y0, y1, h - 0.07, h)
    if p["back"] == "frame":
        return [*posts, rail, bx(-sw / 2, sw / 2, y0, y1, z0, z0 + 0.05)]
    n = p["n_slats"]
    inner = sw - 2 * pw
    slat_w = min(0.04, inner / (2 * n))
    xs = [-inner / 2 + (i + 0.5) * inner / n for i in range(n)]
    return [*posts, rail, *(bx(x - slat_w / 2, x + slat_w / 2, y0 + 0.003, y1 - 0.003, sh, h - 0.07) for x in xs)]


def build_chair(p: dict) -> Piece:
    """Chair: seat slab, base (four legs / pedestal / sled), back (slab / slats / frame), optional arms."""
    sw, bt, h, sh = p["seat_width"], p["back_thickness"], p["height"], p["seat_height"]
    d = p["seat_depth"] + bt
    aw = p["arm_width"] if p["arms"] else 0.0
    w = sw + 2 * aw
    st = p["seat_thickness"]
    meshes: list[Mesh] = [bx(-sw / 2, sw / 2, -d / 2, d / 2 - bt, sh - st, sh)]
    meshes += _chair_base(p, sw, d, bt, sh - st)
    meshes += _chair_back(p, sw, d, bt, sh, h)
    if p["arms"]:
        za = sh + p["arm_height"]
        for s in (-1, 1):
            xa, xb = sorted((s * sw / 2, s * w / 2))
            meshes += [
                bx(xa, xb, -d / 2 + 0.04, d / 2, za - 0.03, za),
                bx(xa, xb, -d / 2 + 0.04, -d / 2 + 0.04 + aw, sh - st, za - 0.03),
            ]
    return assemble("chair", p, [part("chair", "chair", meshes)], size=(w, d, h))


# --- armchair ---------------------------------------------------------------------------------------


def sample_armchair(rng: np.random.Generator) -> dict:
    """Upholstered armchair params (metres)."""
    style = choice(rng, ["boxy", "legged", "wingback"])
    h = uniform(rng, 0.88, 1.00) if style == "wingback" else uniform(rng, 0.70, 0.92)
    return {
        "style": style,
        "width": uniform(rng, 0.70, 0.95),
        "depth": uniform(rng, 0.70, 0.95),
        "height": h,
        "seat_height": uniform(rng, 0.40, 0.45),
        "arm_width": uniform(rng, 0.10, 0.20),
        "arm_height": uniform(rng, 0.55, min(0.68, h - 0.02)),
        "back_thickness": uniform(rng, 0.15, 0.22),
        "cushion_thickness": uniform(rng, 0.10, 0.15),
        "leg_height": uniform(rng, 0.08, 0.18),
        "pillow": chance(rng, 0.4),
        "pillow_size": uniform(rng, 0.30, 0.42),
    }


def build_armchair(p: dict) -> Piece:
    """Armchair: base block, seat cushion, two arms, back (and wings), optional pillow (class pillow)."""
    w, d, h, sh = p["width"], p["depth"], p["height"], p["seat_height"]
    aw, bt, ct = p["arm_width"], p["back_thickness"], p["cushion_thickness"]
    z0 = p["leg_height"] if p["style"] == "legged" else 0.0
    iw = w - 2 * aw
    yb = d / 2 - bt
    body: list[Mesh] = [bx(-iw / 2, iw / 2, -d / 2, yb, z0, sh - ct), bx(-w / 2, w / 2, yb, d / 2, z0, h)]
    body += [
        bx(-w / 2, -w / 2 + aw, -d / 2, yb, z0, p["arm_height"]),
        bx(w / 2 - aw, w / 2, -d / 2, yb, z0, p["arm_height"]),
    ]
    if z0 > 0:
        body += corner_legs("round", -w / 2, w / 2, -d / 2, d / 2, 0.05, 0.0, z0, inset=0.03)
    if p["style"] == "wingback":
        body += [
            bx(-w / 2, -w / 2 + 0.07, yb - 0.25, yb, p["arm_height"], h - 0.06),
            bx(w / 2 - 0.07, w / 2, yb - 0.25, yb, p["arm_height"], h - 0.06),
        ]
    cushion_top = min(h - 0.04, sh + 0.45)
    cushions = [
        bx(-iw / 2, iw / 2, -d / 2 + 0.01, yb - 0.1, sh - ct, sh),
        bx(-iw / 2, iw / 2, yb - 0.1, yb, sh - ct, cushion_top),
    ]
    parts = [part("body", "chair", body), part("cushions", "chair", cushions)]
    if p["pillow"]:
        ps = min(p["pillow_size"], iw - 0.1, cushion_top - sh - 0.02)
        parts.append(part("pillow", "pillow", bx(-ps / 2, ps / 2, yb - 0.1 - 0.12, yb - 0.1, sh, sh + ps)))
    return assemble("armchair", p, parts, size=(w, d, h))


# --- office chair -----------------------------------------------------------------------------------


def sample_office_chair(rng: np.random.Generator) -> dict:
    """Swivel office chair params (metres)."""
    return {
        "base_radius": uniform(rng, 0.28, 0.34),
        "seat_width": uniform(rng, 0.46, 0.52),
        "seat_depth": uniform(rng, 0.44, 0.50),
        "seat_height": uniform(rng, 0.43, 0.52),
        "seat_thickness": uniform(rng, 0.06, 0.09),
        "height": uniform(rng, 0.85, 1.20),
        "back_width": uniform(rng, 0.40, 0.50),
        "back_thickness": uniform(rng, 0.04, 0.08),
        "arms": chance(rng, 0.6),
        "arm_height": uniform(rng, 0.18, 0.25),
        "yaw": uniform(rng, 0.0, 2 * math.pi / 5),
    }


def build_office_chair(p: dict) -> Piece:
    """Office chair: five-spoke base with casters, gas column, seat, back on a spine, optional arms."""
    r, sw, sd, sh, st = p["base_radius"], p["seat_width"], p["seat_depth"], p["seat_height"], p["seat_thickness"]
    h, bw, bt = p["height"], p["back_width"], p["back_thickness"]
    base = [cyl(0.045, 0.05, 0.1, sections=12), cyl(0.025, 0.1, sh - st - 0.03, sections=10)]
    for k in range(5):
        a = p["yaw"] + 2 * math.pi * k / 5
        ca, sa = math.cos(a), math.sin(a)
        base.append(rotated_box((r - 0.02, 0.04, 0.03), ((r - 0.02) / 2 * ca, (r - 0.02) / 2 * sa, 0.075), yaw=a))
        base.append(cyl(0.025, 0.0, 0.06, ((r - 0.025) * ca, (r - 0.025) * sa), sections=8))
    seat = [bx(-0.1, 0.1, -0.1, 0.1, sh - st - 0.03, sh - st), bx(-sw / 2, sw / 2, -sd / 2, sd / 2, sh - st, sh)]
    yb = sd / 2 + 0.03
    back = [
        bx(-0.03, 0.03, sd / 2 - 0.06, yb + bt, sh - st - 0.02, sh - st + 0.01),
        bx(-0.03, 0.03, yb + bt, yb + bt + 0.02, sh - st - 0.02, sh + 0.15),
        bx(-bw / 2, bw / 2, yb, yb + bt, sh + 0.08, h),
    ]
    if p["arms"]:
        za = sh + p["arm_height"]
        for s in (-1, 1):
            x = s * (sw / 2 + 0.02)
            back += [
                bx(x - 0.015, x + 0.015, -0.02, 0.02, sh - st, za),
                bx(x - 0.035, x + 0.035, -0.16, 0.1, za - 0.025, za),
            ]
    return assemble("office_chair", p, [part("chair", "chair", base + seat + back)])


# --- sofa -------------------------------------------------------------------------------------------


def sample_sofa(rng: np.random.Generator) -> dict:
    """Sofa params (metres)."""
    w = uniform(rng, 1.40, 2.40)
    sh = uniform(rng, 0.40, 0.48)
    h = uniform(rng, max(0.70, sh + 0.30), 0.95)
    arms = choice(rng, ["box", "slim", "none"], [0.55, 0.35, 0.1])
    aw = {"box": uniform(rng, 0.15, 0.25), "slim": uniform(rng, 0.10, 0.14), "none": 0.0}[arms]
    n_seats = 3 if (w - 2 * aw) >= 1.5 and chance(rng, 0.7) else 2
    return {
        "width": w,
        "depth": uniform(rng, 0.80, 1.00),
        "height": h,
        "seat_height": sh,
        "arms": arms,
        "arm_width": aw,
        "arm_height": uniform(rng, 0.55, min(0.70, h)),
        "back_thickness": uniform(rng, 0.15, 0.22),
        "base": choice(rng, ["plinth", "legs"]),
        "leg_height": uniform(rng, 0.05, 0.15),
        "n_seats": n_seats,
        "cushion_thickness": uniform(rng, 0.10, 0.16),
        "back_cushions": chance(rng, 0.6),
        "back_cushion_thickness": uniform(rng, 0.10, 0.15),
        "n_pillows": randint(rng, 2, 3),
        "pillow_size": uniform(rng, 0.38, 0.50),
        "pillow_thickness": uniform(rng, 0.12, 0.16),
    }


def build_sofa(p: dict) -> Piece:
    """Sofa: frame (base, back, arms, legs), 2-3 seat and back cushions (class sofa), 2-3 pillows (class pillow).

    Supports: the seat in front of the pillows (clothes, bags)."""
    w, d, h, sh = p["width"], p["depth"], p["height"], p["seat_height"]
    aw, bt, ct = p["arm_width"], p["back_thickness"], p["cushion_thickness"]
    z0 = p["leg_height"] if p["base"] == "legs" else 0.0
    iw, yb = w - 2 * aw, d / 2 - bt
    frame: list[Mesh] = [bx(-iw / 2, iw / 2, -d / 2, yb, z0, sh - ct), bx(-w / 2, w / 2, yb, d / 2, z0, h)]
    if aw > 0:
        frame += [
            bx(-w / 2, -w / 2 + aw, -d / 2, yb, z0, p["arm_height"]),
            bx(w / 2 - aw, w / 2, -d / 2, yb, z0, p["arm_height"]),
        ]
    if z0 > 0:
        frame += corner_legs("square", -w / 2, w / 2, -d / 2, d / 2, 0.05, 0.0, z0, inset=0.02)
        if w > 1.9:
            frame.append(bx(-0.025, 0.025, -d / 2 + 0.02, -d / 2 + 0.07, 0.0, z0))
    n = p["n_seats"]
    cw = iw / n
    y_front_back = yb - p["back_cushion_thickness"] if p["back_cushions"] else yb
    cushions = [
        bx(-iw / 2 + i * cw + 0.003, -iw / 2 + (i + 1) * cw - 0.003, -d / 2 + 0.01, y_front_back, sh - ct, sh)
        for i in range(n)
    ]
    if p["back_cushions"]:
        top = min(h - 0.02, sh + 0.5)
        cushions += [
            bx(-iw / 2 + i * cw + 0.003, -iw / 2 + (i + 1) * cw - 0.003, y_front_back, yb, sh, top) for i in range(n)
        ]
    parts = [part("frame", "sofa", frame), part("cushions", "sofa", cushions)]
    k, pt = p["n_pillows"], p["pillow_thickness"]
    ps = min(p["pillow_size"], (iw - 0.12) / k, h - sh - 0.02)
    xs = [-iw / 2 + 0.03 + ps / 2, iw / 2 - 0.03 - ps / 2] + ([0.0] if k == 3 else [])
    for i, x in enumerate(xs):
        parts.append(
            part(f"pillow_{i}", "pillow", bx(x - ps / 2, x + ps / 2, y_front_back - pt, y_front_back, sh, sh + ps))
        )
    sup = support(sh, -iw / 2, -d / 2 + 0.03, iw / 2, y_front_back - pt - 0.02)
    return assemble("sofa", p, parts, [sup], size=(w, d, h))


# --- ottoman ----------------------------------------------------------------------------------------


def sample_ottoman(rng: np.random.Generator) -> dict:
    """Ottoman / footstool params (metres)."""
    shape = choice(rng, ["box", "round", "legs"])
    w = uniform(rng, 0.40, 0.70) if shape == "round" else uniform(rng, 0.45, 0.90)
    return {
        "shape": shape,
        "width": w,
        "depth": w if shape == "round" else uniform(rng, 0.40, min(0.70, w)),
        "height": uniform(rng, 0.38, 0.48),
        "leg_height": uniform(rng, 0.06, 0.14),
    }


def build_ottoman(p: dict) -> Piece:
    """Ottoman (class otherfurniture): upholstered block, drum or block on short legs; top is a support."""
    w, d, h = p["width"], p["depth"], p["height"]
    if p["shape"] == "round":
        meshes: list[Mesh] = [cyl(w / 2, 0.0, h, sections=24)]
        top = support(h, -w / 2 * 0.7, -w / 2 * 0.7, w / 2 * 0.7, w / 2 * 0.7)
    else:
        z0 = p["leg_height"] if p["shape"] == "legs" else 0.0
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, z0, h)]
        if z0 > 0:
            meshes += corner_legs("round", -w / 2, w / 2, -d / 2, d / 2, 0.04, 0.0, z0, inset=0.03)
        top = support(h, -w / 2, -d / 2, w / 2, d / 2)
    return assemble("ottoman", p, [part("ottoman", "otherfurniture", meshes)], [top], size=(w, d, h))


SPECS: tuple[ObjectSpec, ...] = (
    spec("chair", "chair", "free", sample_chair, build_chair, front_clearance=0.0),
    spec("armchair", "chair", "free", sample_armchair, build_armchair, front_clearance=0.5, tags=("living_room",)),
    spec("office_chair", "chair", "free", sample_office_chair, build_office_chair, tags=("office",)),
    spec("sofa", "sofa", "wall", sample_sofa, build_sofa, front_clearance=0.5, tags=("living_room",)),
    spec("ottoman", "otherfurniture", "free", sample_ottoman, build_ottoman, tags=("living_room",)),
)
