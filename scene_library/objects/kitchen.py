"""Kitchen: counter runs (countertop, base cabinets, optional sink and stove), island, refrigerators, wall cabinets.

Sizes (research/scene_generation.md §3.4-3.5, metres): counter 1.0-3.5 long, 0.60-0.65 deep, top at 0.88-0.92;
base cabinets behind a 2-3 cm top overhang on a toe-kick plinth; wall cabinets 0.30-0.35 deep, 0.6-0.9 tall,
lower edge at 1.40-1.50; refrigerator 0.55-0.90 x 0.60-0.75 x 1.70-1.90 (mini 0.80-0.90 tall).

Labels: countertop ``counter``; base and wall cabinets ``cabinet``; basin ``sink``; faucet ``otherprop`` (the
NYUv2 raw-name table maps "faucet" there); stove :data:`STOVE_CLASS`.
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.cabinetry import HANDLES, door_fronts, drawer_fronts, face_depth, handle_depth
from scene_library.objects.primitives import Mesh, boxes, bx, cyl, rod_y
from scene_library.objects.shapes import assemble, chance, choice, part, randint, raw_class, spec, support

#: NYU40 class of a stove / range. The brief for this library asks for ``otherfurniture``; note that the
#: NYUv2 894-name table maps the raw name "stove" to ``otherstructure``.
STOVE_CLASS = "otherfurniture"

# --- counter run and island -------------------------------------------------------------------------


def _sample_counter(rng: np.random.Generator, island: bool) -> dict:
    w = uniform(rng, 1.2, 2.4) if island else uniform(rng, 1.0, 3.5)
    n = max(2, round(w / uniform(rng, 0.45, 0.65)))
    stove = -1 if island or not chance(rng, 0.6) else randint(rng, 0, n - 1)
    sink_p = 0.3 if island else 0.7
    sink = -1 if not chance(rng, sink_p) else choice(rng, [i for i in range(n) if i != stove])
    return {
        "width": w,
        "depth": uniform(rng, 0.90, 1.20) if island else uniform(rng, 0.60, 0.65),
        "height": uniform(rng, 0.88, 0.92),
        "back_overhang": uniform(rng, 0.20, 0.30) if island else 0.0,
        "top_thickness": uniform(rng, 0.03, 0.04),
        "overhang": uniform(rng, 0.02, 0.03),
        "plinth": uniform(rng, 0.08, 0.12),
        "n_units": n,
        "fronts": [choice(rng, ["doors", "drawers", "mixed"]) for _ in range(n)],
        "handle": choice(rng, list(HANDLES)),
        "stove_unit": stove,
        "sink_unit": sink,
        "sink_double": chance(rng, 0.3),
        "sink_width": uniform(rng, 0.45, 0.80),
        "sink_depth": uniform(rng, 0.38, 0.45),
        "basin_depth": uniform(rng, 0.16, 0.22),
        "faucet_height": uniform(rng, 0.20, 0.35),
        "faucet_reach": uniform(rng, 0.15, 0.22),
        "stove_backguard": uniform(rng, 0.08, 0.18) if chance(rng, 0.5) else 0.0,
        "burner_radius": uniform(rng, 0.06, 0.09),
    }


def sample_counter_run(rng: np.random.Generator) -> dict:
    """Counter run params (metres): units, optional stove unit and sink unit (indices, -1 for none)."""
    return _sample_counter(rng, island=False)


def sample_kitchen_island(rng: np.random.Generator) -> dict:
    """Kitchen island params (metres): a counter with a breakfast-bar overhang at the back."""
    return _sample_counter(rng, island=True)


def _stove(p: dict, x0: float, x1: float, y_face: float, y_back: float, h: float) -> list[Mesh]:
    """Free-standing range filling one unit: body, oven door with handle, knobs, cooktop with 4 burners."""
    fd = face_depth("bar")
    out: list[Mesh] = [
        bx(x0, x1, y_face + fd, y_back, 0.0, h - 0.004),
        bx(x0 + 0.01, x1 - 0.01, y_face + handle_depth("bar"), y_face + fd, 0.1, h - 0.16),
        bx(x0 + 0.06, x1 - 0.06, y_face, y_face + handle_depth("bar"), h - 0.21, h - 0.19),
        bx(x0, x1, y_face, y_back, h - 0.004, h),
    ]
    n_knobs = 4
    for i in range(n_knobs):
        xc = x0 + (i + 1) * (x1 - x0) / (n_knobs + 1)
        out.append(bx(xc - 0.015, xc + 0.015, y_face + 0.02, y_face + fd, h - 0.1, h - 0.07))
    r = min(p["burner_radius"], (x1 - x0) / 4 - 0.02)
    xm, ym = (x0 + x1) / 2, (y_face + y_back) / 2
    dx, dy = (x1 - x0) / 4, (y_back - y_face) / 4
    out += [cyl(r, h, h + 0.012, (xm + sx * dx, ym + sy * dy), 12) for sx in (-1, 1) for sy in (-1, 1)]
    if p["stove_backguard"] > 0:
        out.append(bx(x0, x1, y_back - 0.05, y_back, h, h + p["stove_backguard"]))
    return out


def _sink(p: dict, hx0: float, hx1: float, hy0: float, hy1: float, h: float) -> list[Mesh]:
    """Open basin(s) under a rectangular hole in the top, with a thin rim on the top."""
    bd, t = p["basin_depth"], 0.008
    zb = h - bd
    out: list[Mesh] = [
        bx(hx0, hx1, hy0, hy1, zb - t, zb),
        bx(hx0, hx1, hy0, hy0 + t, zb, h),
        bx(hx0, hx1, hy1 - t, hy1, zb, h),
        bx(hx0, hx0 + t, hy0, hy1, zb, h),
        bx(hx1 - t, hx1, hy0, hy1, zb, h),
    ]
    if p["sink_double"]:
        xm = (hx0 + hx1) / 2
        out.append(bx(xm - t / 2, xm + t / 2, hy0, hy1, zb, h - 0.02))
    out += [
        bx(hx0 - 0.015, hx1 + 0.015, hy0 - 0.015, hy0, h, h + 0.004),
        bx(hx0 - 0.015, hx1 + 0.015, hy1, hy1 + 0.015, h, h + 0.004),
        bx(hx0 - 0.015, hx0, hy0, hy1, h, h + 0.004),
        bx(hx1, hx1 + 0.015, hy0, hy1, h, h + 0.004),
    ]
    return out


def _faucet(p: dict, x: float, y: float, h: float, y_min: float) -> list[Mesh]:
    fh = p["faucet_height"]
    reach = min(p["faucet_reach"], y - y_min)
    return [
        cyl(0.025, h, h + 0.03, (x, y), 12),
        cyl(0.014, h + 0.03, h + fh, (x, y), 8),
        rod_y(0.012, y - reach, y, x, h + fh - 0.012, 8),
    ]


def _counter(kind: str, p: dict) -> Piece:
    w, d, h, tt = p["width"], p["depth"], p["height"], p["top_thickness"]
    ov, pl, n, handle = p["overhang"], p["plinth"], p["n_units"], p["handle"]
    y_face, y_back = -d / 2 + ov, d / 2 - p["back_overhang"]
    uw = w / n
    fd = face_depth(handle)
    cab: list[Mesh] = []
    stove: list[Mesh] = []
    basin: list[Mesh] = []
    faucet: list[Mesh] = []
    top_spans: list[tuple[float, float]] = []  # (x0, x1) of full-depth countertop
    hole = None
    for i in range(n):
        x0, x1 = -w / 2 + i * uw, -w / 2 + (i + 1) * uw
        if i == p["stove_unit"]:
            stove += _stove(p, x0 + 0.002, x1 - 0.002, y_face, y_back, h)
            continue
        z_carcass = h - tt
        if i == p["sink_unit"]:
            sw = min(p["sink_width"], uw - 0.1)
            hx0, hx1 = (x0 + x1) / 2 - sw / 2, (x0 + x1) / 2 + sw / 2
            hy0 = -d / 2 + 0.07
            hy1 = min(hy0 + p["sink_depth"], y_back - 0.12)
            hole = (hx0, hx1, hy0, hy1)
            basin += _sink(p, hx0, hx1, hy0, hy1, h)
            faucet += _faucet(p, (hx0 + hx1) / 2, min(hy1 + 0.06, y_back - 0.03), h, hy0 + 0.05)
            z_carcass = h - p["basin_depth"] - 0.02
            cab.append(bx(x0, x1, y_face + fd, y_back, pl, z_carcass))
            cab += door_fronts(x0, x1, pl, h - tt, y_face, 2 if uw > 0.55 else 1, handle, "top")
        else:
            cab.append(bx(x0, x1, y_face + fd, y_back, pl, z_carcass))
            style = p["fronts"][i]
            if style == "doors":
                cab += door_fronts(x0, x1, pl, h - tt, y_face, 2 if uw > 0.55 else 1, handle, "top")
            elif style == "drawers":
                cab += drawer_fronts(x0, x1, pl, h - tt, y_face, 3, 1, handle)
            else:
                cab += drawer_fronts(x0, x1, h - tt - 0.16, h - tt, y_face, 1, 1, handle)
                cab += door_fronts(x0, x1, pl, h - tt - 0.16, y_face, 1, handle, "top")
        cab.append(bx(x0, x1, y_face + 0.06, y_back, 0.0, pl))
        if top_spans and abs(top_spans[-1][1] - x0) < 1e-12:
            top_spans[-1] = (top_spans[-1][0], x1)
        else:
            top_spans.append((x0, x1))
    top, sups = [], []
    for a, b in top_spans:
        if hole is not None and a <= hole[0] and hole[1] <= b:
            hx0, hx1, hy0, hy1 = hole
            top.append(
                boxes(
                    [
                        (a, hx0, -d / 2, d / 2, h - tt, h),
                        (hx1, b, -d / 2, d / 2, h - tt, h),
                        (hx0, hx1, -d / 2, hy0, h - tt, h),
                        (hx0, hx1, hy1, d / 2, h - tt, h),
                    ]
                )
            )
            spans = [(a, hx0 - 0.05), (hx1 + 0.05, b)]
        else:
            top.append(bx(a, b, -d / 2, d / 2, h - tt, h))
            spans = [(a, b)]
        sups += [support(h, s0, -d / 2, s1, d / 2) for s0, s1 in spans if s1 - s0 >= 0.2]
    parts = [part("countertop", "counter", top), part("cabinets", "cabinet", cab)]
    if basin:
        parts += [part("sink", "sink", basin), part("faucet", raw_class("faucet"), faucet)]
    if stove:
        parts.append(part("stove", STOVE_CLASS, stove))
    return assemble(kind, p, parts, sups)


def build_counter_run(p: dict) -> Piece:
    """Counter run: base-cabinet units on a toe-kick under a countertop (class counter, the main part),
    an optional sink unit (basin in a hole in the top, faucet) and an optional stove unit. Supports: the
    countertop spans away from the sink and the stove."""
    return _counter("counter_run", p)


def build_kitchen_island(p: dict) -> Piece:
    """Kitchen island: as a counter run with a 0.20-0.30 m overhang at the back for stools."""
    return _counter("kitchen_island", p)


# --- refrigerators ----------------------------------------------------------------------------------


def sample_refrigerator(rng: np.random.Generator) -> dict:
    """Full-size refrigerator params (metres)."""
    w = uniform(rng, 0.55, 0.90)
    variants = ["top_freezer", "bottom_freezer", "single"] + (["side_by_side"] if w >= 0.8 else [])
    return {
        "variant": choice(rng, variants),
        "width": w,
        "depth": uniform(rng, 0.60, 0.75),
        "height": uniform(rng, 1.70, 1.90),
        "split": uniform(rng, 0.28, 0.36),
        "door_thickness": uniform(rng, 0.04, 0.06),
        "handle_depth": uniform(rng, 0.03, 0.05),
    }


def sample_mini_fridge(rng: np.random.Generator) -> dict:
    """Mini fridge params (metres)."""
    return {
        "variant": "single",
        "width": uniform(rng, 0.45, 0.55),
        "depth": uniform(rng, 0.45, 0.55),
        "height": uniform(rng, 0.80, 0.90),
        "split": 0.3,
        "door_thickness": uniform(rng, 0.03, 0.05),
        "handle_depth": uniform(rng, 0.02, 0.035),
    }


def _fridge(kind: str, p: dict) -> Piece:
    w, d, h, v = p["width"], p["depth"], p["height"], p["variant"]
    hd, dt = p["handle_depth"], p["door_thickness"]
    yf = -d / 2
    body = [
        bx(-w / 2, w / 2, yf + hd + dt, d / 2, 0.06, h),
        bx(-w / 2 + 0.02, w / 2 - 0.02, yf + hd + dt + 0.03, d / 2, 0.0, 0.06),
    ]
    g = 0.004

    def door(x0: float, x1: float, z0: float, z1: float, hx: float, horizontal: bool = False) -> list[Mesh]:
        panel = bx(x0, x1, yf + hd, yf + hd + dt, z0 + g / 2, z1 - g / 2)
        if horizontal:
            xm = (x0 + x1) / 2
            handle = bx(xm - 0.2 * (x1 - x0), xm + 0.2 * (x1 - x0), yf, yf + hd, z1 - 0.06, z1 - 0.035)
        else:
            length = min(0.6, 0.5 * (z1 - z0))
            zc = (z0 + z1) / 2
            handle = bx(hx - 0.0125, hx + 0.0125, yf, yf + hd, zc - length / 2, zc + length / 2)
        return [panel, handle]

    zs = h * p["split"]
    hx = -w / 2 + 0.05
    if v == "top_freezer":
        fronts = door(-w / 2, w / 2, 0.06, h - zs, hx) + door(-w / 2, w / 2, h - zs, h, hx)
    elif v == "bottom_freezer":
        fronts = door(-w / 2, w / 2, zs, h, hx) + door(-w / 2, w / 2, 0.06, zs, 0.0, horizontal=True)
    elif v == "side_by_side":
        xm = -w / 2 + 0.45 * w
        fronts = door(-w / 2, xm, 0.06, h, xm - 0.04) + door(xm, w / 2, 0.06, h, xm + 0.04)
    else:
        fronts = door(-w / 2, w / 2, 0.06, h, hx)
    sups = [support(h, -w / 2, yf + hd, w / 2, d / 2)] if h <= 1.2 else []
    return assemble(kind, p, [part("refrigerator", "refridgerator", body + fronts)], sups, size=(w, d, h))


def build_refrigerator(p: dict) -> Piece:
    """Refrigerator (class refridgerator): body, one or two doors (top/bottom freezer, side by side), handles."""
    return _fridge("refrigerator", p)


def build_mini_fridge(p: dict) -> Piece:
    """Mini fridge (class refridgerator) with one door; its top is a support."""
    return _fridge("mini_fridge", p)


# --- wall cabinet -----------------------------------------------------------------------------------


def sample_wall_cabinet(rng: np.random.Generator) -> dict:
    """Wall-hung kitchen cabinet params (metres)."""
    return {
        "variant": choice(rng, ["doors", "doors", "open"]),
        "width": uniform(rng, 0.6, 2.4),
        "depth": uniform(rng, 0.30, 0.35),
        "height": uniform(rng, 0.6, 0.9),
        "handle": choice(rng, list(HANDLES)),
        "n_shelves": randint(rng, 1, 2),
    }


def build_wall_cabinet(p: dict) -> Piece:
    """Wall cabinet (class cabinet): a carcass with doors (handles at the bottom) or open shelves (supports).
    z = 0 is the lower edge."""
    w, d, h, handle = p["width"], p["depth"], p["height"], p["handle"]
    sups = []
    if p["variant"] == "open":
        t = 0.018
        meshes: list[Mesh] = [
            bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, t),
            bx(-w / 2, w / 2, -d / 2, d / 2, h - t, h),
            bx(-w / 2, -w / 2 + t, -d / 2, d / 2, t, h - t),
            bx(w / 2 - t, w / 2, -d / 2, d / 2, t, h - t),
            bx(-w / 2 + t, w / 2 - t, d / 2 - 0.01, d / 2, t, h - t),
        ]
        k = p["n_shelves"] + 1
        gap = (h - 2 * t - (k - 1) * t) / k
        for i in range(k):
            z = t + i * (gap + t)
            if i > 0:
                meshes.append(bx(-w / 2 + t, w / 2 - t, -d / 2, d / 2 - 0.01, z - t, z))
            sups.append(support(z, -w / 2 + t, -d / 2, w / 2 - t, d / 2 - 0.01, gap))
    else:
        meshes = [bx(-w / 2, w / 2, -d / 2 + face_depth(handle), d / 2, 0.0, h)]
        meshes += door_fronts(-w / 2, w / 2, 0.0, h, -d / 2, max(1, min(5, round(w / 0.5))), handle, "bottom")
    return assemble("wall_cabinet", p, [part("cabinet", "cabinet", meshes)], sups, size=(w, d, h))


SPECS = (
    spec(
        "counter_run", "counter", "wall", sample_counter_run, build_counter_run, front_clearance=1.0, tags=("kitchen",)
    ),
    spec(
        "kitchen_island",
        "counter",
        "free",
        sample_kitchen_island,
        build_kitchen_island,
        front_clearance=1.0,
        tags=("kitchen",),
    ),
    spec(
        "refrigerator",
        "refridgerator",
        "wall",
        sample_refrigerator,
        build_refrigerator,
        front_clearance=0.9,
        tags=("kitchen", "tall"),
    ),
    spec(
        "mini_fridge",
        "refridgerator",
        "wall",
        sample_mini_fridge,
        build_mini_fridge,
        front_clearance=0.6,
        tags=("kitchen", "office"),
    ),
    spec(
        "wall_cabinet",
        "cabinet",
        "wall_mounted",
        sample_wall_cabinet,
        build_wall_cabinet,
        mount_height=(1.40, 1.50),
        tags=("kitchen",),
    ),
)
