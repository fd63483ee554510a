"""Tables and desks: dining table (rectangular or round), coffee table, side table, desk.

Sizes (research/scene_generation.md §3.5, metres): dining table 0.9-2.2 x 0.75-1.05 x 0.72-0.77 (round
0.9-1.2 across); coffee table 0.9-1.3 x 0.5-0.7 x 0.40-0.48; side table 0.4-0.6 square x 0.50-0.65; desk
1.0-1.6 x 0.55-0.80 x 0.72-0.76. Every top is a support with an open top (clearance inf).
"""

from __future__ import annotations

import math

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.cabinetry import HANDLES, drawer_fronts, face_depth
from scene_library.objects.primitives import Mesh, bx, cyl
from scene_library.objects.shapes import assemble, chance, choice, corner_legs, part, spec, support

# --- shared -----------------------------------------------------------------------------------------


def _legs_and_apron(p: dict, w: float, d: float, z_top: float) -> list[Mesh]:
    """Four corner legs under a w x d top whose underside is at ``z_top``, with an optional apron."""
    ls, inset = p["leg_size"], p["leg_inset"]
    out = corner_legs(p["leg_shape"], -w / 2, w / 2, -d / 2, d / 2, ls, 0.0, z_top, inset)
    if p.get("apron"):
        ah, x0, x1, y0, y1 = p["apron_height"], -w / 2 + inset, w / 2 - inset, -d / 2 + inset, d / 2 - inset
        zb = z_top - ah
        out += [
            bx(x0, x1, y0, y0 + 0.02, zb, z_top),
            bx(x0, x1, y1 - 0.02, y1, zb, z_top),
            bx(x0, x0 + 0.02, y0, y1, zb, z_top),
            bx(x1 - 0.02, x1, y0, y1, zb, z_top),
        ]
    return out


def _leg_params(rng: np.random.Generator, size: tuple[float, float] = (0.04, 0.08)) -> dict:
    return {
        "leg_shape": choice(rng, ["square", "round"]),
        "leg_size": uniform(rng, *size),
        "leg_inset": uniform(rng, 0.0, 0.08),
        "apron": chance(rng, 0.7),
        "apron_height": uniform(rng, 0.06, 0.10),
    }


def _round_top(r: float, z0: float, z1: float) -> Mesh:
    return cyl(r, z0, z1, sections=32)


def _inscribed(r: float, z: float) -> list:
    """The support square inscribed in a round top of radius r."""
    a = r / math.sqrt(2) * 0.98
    return [support(z, -a, -a, a, a)]


# --- dining table -----------------------------------------------------------------------------------


def sample_dining_table(rng: np.random.Generator) -> dict:
    """Dining table params (metres)."""
    shape = choice(rng, ["rect", "round"], [0.75, 0.25])
    if shape == "round":
        w = uniform(rng, 0.9, 1.2)
        d, base = w, choice(rng, ["pedestal", "four_legs"])
    else:
        w = uniform(rng, 0.9, 2.2)
        d = uniform(rng, 0.75, min(1.05, w))
        base = choice(rng, ["four_legs", "trestle", "pedestal"] if w <= 1.4 else ["four_legs", "trestle"])
    return {
        "shape": shape,
        "base": base,
        "width": w,
        "depth": d,
        "height": uniform(rng, 0.72, 0.77),
        "top_thickness": uniform(rng, 0.03, 0.06),
        **_leg_params(rng),
    }


def _trestle(w: float, d: float, z_top: float, inset: float) -> list[Mesh]:
    out: list[Mesh] = []
    for s in (-1, 1):
        xc = s * (w / 2 - inset - 0.06)
        out += [
            bx(xc - 0.04, xc + 0.04, -d * 0.4, d * 0.4, 0.0, 0.05),
            bx(xc - 0.025, xc + 0.025, -d * 0.15, d * 0.15, 0.05, z_top),
            bx(xc - 0.03, xc + 0.03, -d * 0.4, d * 0.4, z_top - 0.05, z_top),
        ]
    out.append(bx(-w / 2 + inset + 0.06, w / 2 - inset - 0.06, -0.025, 0.025, 0.25, 0.32))
    return out


def _pedestal(w: float, d: float, z_top: float, round_foot: bool) -> list[Mesh]:
    if round_foot:
        return [cyl(min(w, d) * 0.3, 0.0, 0.04, sections=24), cyl(0.06, 0.04, z_top, sections=16)]
    return [
        bx(-w * 0.3, w * 0.3, -0.04, 0.04, 0.0, 0.05),
        bx(-0.04, 0.04, -d * 0.3, d * 0.3, 0.0, 0.05),
        bx(-0.06, 0.06, -0.06, 0.06, 0.05, z_top),
    ]


def build_dining_table(p: dict) -> Piece:
    """Dining table: top slab or disc on four legs (optional apron), two trestles, or a pedestal."""
    w, d, h, tt = p["width"], p["depth"], p["height"], p["top_thickness"]
    zt = h - tt
    if p["shape"] == "round":
        r = w / 2
        top = _round_top(r, zt, h)
        if p["base"] == "pedestal":
            base = _pedestal(w, d, zt, True)
        else:
            a = r / math.sqrt(2) * 0.8
            base = corner_legs(p["leg_shape"], -a, a, -a, a, p["leg_size"], 0.0, zt)
        sups = _inscribed(r, h)
    else:
        top = bx(-w / 2, w / 2, -d / 2, d / 2, zt, h)
        base = {
            "four_legs": lambda: _legs_and_apron(p, w, d, zt),
            "trestle": lambda: _trestle(w, d, zt, p["leg_inset"]),
            "pedestal": lambda: _pedestal(w, d, zt, False),
        }[p["base"]]()
        sups = [support(h, -w / 2, -d / 2, w / 2, d / 2)]
    return assemble("dining_table", p, [part("table", "table", [top, *base])], sups, size=(w, d, h))


# --- coffee table -----------------------------------------------------------------------------------


def sample_coffee_table(rng: np.random.Generator) -> dict:
    """Coffee table params (metres)."""
    return {
        "variant": choice(rng, ["legs", "box", "shelf", "waterfall"]),
        "width": uniform(rng, 0.9, 1.3),
        "depth": uniform(rng, 0.5, 0.7),
        "height": uniform(rng, 0.40, 0.48),
        "top_thickness": uniform(rng, 0.02, 0.05),
        "shelf_height": uniform(rng, 0.08, 0.15),
        **_leg_params(rng, (0.03, 0.06)),
    }


def _low_table(p: dict, w: float, d: float, h: float) -> tuple[list[Mesh], list]:
    """Shared body of coffee and side tables: legs, box, lower shelf or waterfall sides."""
    tt = p["top_thickness"]
    zt = h - tt
    meshes: list[Mesh] = [bx(-w / 2, w / 2, -d / 2, d / 2, zt, h)]
    sups = [support(h, -w / 2, -d / 2, w / 2, d / 2)]
    v = p["variant"]
    if v == "box":
        meshes.append(bx(-w / 2 + 0.04, w / 2 - 0.04, -d / 2 + 0.04, d / 2 - 0.04, 0.0, zt))
    elif v == "waterfall":
        meshes += [bx(-w / 2, -w / 2 + tt, -d / 2, d / 2, 0.0, zt), bx(w / 2 - tt, w / 2, -d / 2, d / 2, 0.0, zt)]
    else:
        q = dict(p, apron=p["apron"] and v == "legs")
        meshes += _legs_and_apron(q, w, d, zt)
        if v == "shelf":
            ls, inset, sh = p["leg_size"], p["leg_inset"], p["shelf_height"]
            meshes.append(bx(-w / 2 + inset, w / 2 - inset, -d / 2 + inset, d / 2 - inset, sh - 0.02, sh))
            a, b = -w / 2 + inset + ls, w / 2 - inset - ls
            sups.append(support(sh, a, -d / 2 + inset + ls, b, d / 2 - inset - ls, zt - sh))
    return meshes, sups


def build_coffee_table(p: dict) -> Piece:
    """Coffee table (class table): legs, box base, legs with a lower shelf (second support), or waterfall sides."""
    w, d, h = p["width"], p["depth"], p["height"]
    meshes, sups = _low_table(p, w, d, h)
    return assemble("coffee_table", p, [part("table", "table", meshes)], sups, size=(w, d, h))


# --- side table -------------------------------------------------------------------------------------


def sample_side_table(rng: np.random.Generator) -> dict:
    """Side / end table params (metres)."""
    v = choice(rng, ["legs", "round", "box", "shelf"])
    w = uniform(rng, 0.4, 0.6)
    return {
        "variant": v,
        "width": w,
        "depth": w if v == "round" else uniform(rng, 0.4, 0.6),
        "height": uniform(rng, 0.50, 0.65),
        "top_thickness": uniform(rng, 0.02, 0.04),
        "shelf_height": uniform(rng, 0.12, 0.25),
        **_leg_params(rng, (0.03, 0.05)),
    }


def build_side_table(p: dict) -> Piece:
    """Side table (class table): four legs, round pedestal, box, or legs with a lower shelf."""
    w, d, h = p["width"], p["depth"], p["height"]
    if p["variant"] == "round":
        zt = h - p["top_thickness"]
        meshes = [_round_top(w / 2, zt, h), cyl(w * 0.3, 0.0, 0.03, sections=20), cyl(0.03, 0.03, zt, sections=12)]
        sups = _inscribed(w / 2, h)
    else:
        meshes, sups = _low_table(p, w, d, h)
    return assemble("side_table", p, [part("table", "table", meshes)], sups, size=(w, d, h))


# --- desk -------------------------------------------------------------------------------------------


def sample_desk(rng: np.random.Generator) -> dict:
    """Desk params (metres)."""
    return {
        "variant": choice(rng, ["legs", "panel", "pedestal", "double_pedestal"]),
        "width": uniform(rng, 1.0, 1.6),
        "depth": uniform(rng, 0.55, 0.80),
        "height": uniform(rng, 0.72, 0.76),
        "top_thickness": uniform(rng, 0.025, 0.04),
        "pedestal_width": uniform(rng, 0.35, 0.45),
        "pedestal_side": choice(rng, [-1, 1]),
        "n_drawers": choice(rng, [2, 3, 4]),
        "handle": choice(rng, list(HANDLES)),
        "modesty_panel": chance(rng, 0.5),
        **_leg_params(rng, (0.035, 0.06)),
    }


def _drawer_pedestal(p: dict, x0: float, x1: float, d: float, zt: float) -> list[Mesh]:
    fd = face_depth(p["handle"])
    y_face = -d / 2 + 0.01
    body = bx(x0, x1, y_face + fd, d / 2 - 0.02, 0.0, zt)
    return [body, *drawer_fronts(x0, x1, 0.05, zt - 0.005, y_face, p["n_drawers"], 1, p["handle"])]


def build_desk(p: dict) -> Piece:
    """Desk (class desk): top on four legs, two side panels, or one/two drawer pedestals; optional modesty panel."""
    w, d, h = p["width"], p["depth"], p["height"]
    zt = h - p["top_thickness"]
    meshes: list[Mesh] = [bx(-w / 2, w / 2, -d / 2, d / 2, zt, h)]
    v, pw = p["variant"], p["pedestal_width"]
    panel = lambda x0, x1: bx(x0, x1, -d / 2 + 0.02, d / 2 - 0.02, 0.0, zt)  # noqa: E731
    if v == "legs":
        meshes += _legs_and_apron(dict(p, apron=False), w, d, zt)
    elif v == "panel":
        meshes += [panel(-w / 2, -w / 2 + 0.03), panel(w / 2 - 0.03, w / 2)]
    elif v == "pedestal":
        s = p["pedestal_side"]
        a, b = (w / 2 - pw, w / 2) if s > 0 else (-w / 2, -w / 2 + pw)
        meshes += _drawer_pedestal(p, a, b, d, zt)
        meshes.append(panel(-w / 2, -w / 2 + 0.03) if s > 0 else panel(w / 2 - 0.03, w / 2))
    else:
        meshes += _drawer_pedestal(p, -w / 2, -w / 2 + pw, d, zt) + _drawer_pedestal(p, w / 2 - pw, w / 2, d, zt)
    if p["modesty_panel"] and v != "legs":
        meshes.append(bx(-w / 2 + 0.03, w / 2 - 0.03, d / 2 - 0.05, d / 2 - 0.03, zt * 0.4, zt))
    return assemble(
        "desk", p, [part("desk", "desk", meshes)], [support(h, -w / 2, -d / 2, w / 2, d / 2)], size=(w, d, h)
    )


SPECS = (
    spec(
        "dining_table",
        "table",
        "free",
        sample_dining_table,
        build_dining_table,
        front_clearance=0.6,
        tags=("dining_room", "kitchen"),
    ),
    spec(
        "coffee_table",
        "table",
        "free",
        sample_coffee_table,
        build_coffee_table,
        front_clearance=0.0,
        tags=("living_room",),
    ),
    spec(
        "side_table",
        "table",
        "free",
        sample_side_table,
        build_side_table,
        front_clearance=0.0,
        tags=("living_room", "bedroom"),
    ),
    spec("desk", "desk", "wall", sample_desk, build_desk, front_clearance=0.8, tags=("office", "bedroom")),
)
