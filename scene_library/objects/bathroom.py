"""Bathroom: toilet, sink (pedestal or vanity), bathtub with optional shower curtain, towel on a bar, bath mat.

Sizes (research/scene_generation.md §3.5, metres): toilet 0.65-0.75 deep x 0.36-0.45 wide, seat 0.40-0.45,
tank top 0.75-0.85; sink basin 0.45-0.65 x 0.40-0.55 with the rim at 0.80-0.90, vanity 0.5-0.6 deep with its
top at 0.80-0.90; bathtub 1.50-1.80 x 0.70-0.85 x 0.45-0.60; towel 0.3-0.6 wide, hanging 0.4-0.8 (folded
over its bar); floor mat 0.5-0.9 x 0.4-0.6, 1-2 cm thick.

Labels: shower curtain ``shower curtain``; curtain rods and towel bars take the NYUv2 raw-name table's
class ("curtain rod", "towel rod" -> otherstructure); faucets "faucet" -> otherprop; a vanity's carcass is
``cabinet`` and its top ``counter``.
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.cabinetry import HANDLES, door_fronts, drawer_fronts, face_depth, plinth
from scene_library.objects.primitives import Mesh, boxes, bx, cyl, disc_y, frustum, lathe, rod_x, rod_y, vessel
from scene_library.objects.shapes import assemble, chance, choice, part, pleated_panel, raw_class, spec, support

# --- toilet -----------------------------------------------------------------------------------------


def sample_toilet(rng: np.random.Generator) -> dict:
    """Toilet params (metres)."""
    w = uniform(rng, 0.36, 0.45)
    shape = choice(rng, ["elongated", "round"])
    return {
        "width": w,
        "depth": uniform(rng, 0.65, 0.75),
        "seat_height": uniform(rng, 0.40, 0.45),
        "tank_top": uniform(rng, 0.75, 0.85),
        "tank_depth": uniform(rng, 0.15, 0.22),
        "bowl_shape": shape,
        "bowl_width": uniform(rng, 0.34, min(0.40, w)),
        "bowl_length": uniform(rng, 0.44, 0.50) if shape == "elongated" else uniform(rng, 0.38, 0.44),
        "lid": choice(rng, ["down", "up", "up"]),
        "seat_thickness": uniform(rng, 0.02, 0.03),
    }


def build_toilet(p: dict) -> Piece:
    """Toilet (class toilet): foot, hollow bowl, seat ring, lid (down or up against the tank), tank, button."""
    w, d, sh, tt, td = p["width"], p["depth"], p["seat_height"], p["tank_top"], p["tank_depth"]
    rx, ry = p["bowl_width"] / 2, p["bowl_length"] / 2
    k = ry / rx
    yb = -d / 2 + ry
    z_rim = sh - p["seat_thickness"]
    y_tank = d / 2 - td
    meshes = [
        frustum(0.11, 0.09, 0.0, 0.2, (0.0, yb + 0.05), 16, 1.4),
        bx(-0.1, 0.1, yb, y_tank + 0.01, 0.0, z_rim - 0.02),
        lathe(
            [
                (0.0, 0.18),
                (0.6 * rx, 0.18),
                (rx, z_rim),
                (rx - 0.03, z_rim),
                (0.5 * rx, z_rim - 0.16),
                (0.0, z_rim - 0.16),
            ],
            24,
            (0.0, yb),
            k,
        ),
        lathe([(rx - 0.07, z_rim), (rx, z_rim), (rx, sh), (rx - 0.07, sh)], 24, (0.0, yb), k, closed=True),
        bx(-w / 2, w / 2, y_tank, d / 2, sh - 0.05, tt - 0.015),
        bx(-w / 2, w / 2, y_tank - 0.005, d / 2, tt - 0.015, tt),
        cyl(0.02, tt, tt + 0.008, (0.0, (y_tank + d / 2) / 2), 12),
    ]
    if p["lid"] == "down":
        meshes.append(cyl(rx, sh, sh + 0.02, (0.0, yb), 24, ry=ry))
    else:
        lid_r = min(rx, (tt + 0.08 - sh) / 2 / k)
        meshes.append(disc_y(lid_r, y_tank - 0.03, y_tank - 0.01, 0.0, sh + lid_r * k, 24, rz=lid_r * k))
    return assemble("toilet", p, [part("toilet", "toilet", meshes)])


# --- sink -------------------------------------------------------------------------------------------


def sample_sink(rng: np.random.Generator) -> dict:
    """Bathroom sink params (metres): a pedestal basin or a vanity (cabinet + top + basin)."""
    variant = choice(rng, ["pedestal", "vanity", "vanity"])
    if variant == "pedestal":
        w, d = uniform(rng, 0.45, 0.65), uniform(rng, 0.40, 0.55)
    else:
        w, d = uniform(rng, 0.6, 1.2), uniform(rng, 0.45, 0.60)
    return {
        "variant": variant,
        "width": w,
        "depth": d,
        "height": uniform(rng, 0.80, 0.90),
        "basin": choice(rng, ["drop_in", "vessel"]),
        "basin_width": uniform(rng, 0.40, 0.55),
        "basin_depth": uniform(rng, 0.32, 0.40),
        "bowl_depth": uniform(rng, 0.12, 0.18),
        "vessel_height": uniform(rng, 0.10, 0.16),
        "faucet_height": uniform(rng, 0.12, 0.25),
        "handle": choice(rng, list(HANDLES)),
        "front": choice(rng, ["doors", "drawers"]),
        "plinth": uniform(rng, 0.06, 0.12),
    }


def _bath_faucet(x: float, y: float, z: float, height: float, reach: float) -> list[Mesh]:
    return [
        cyl(0.022, z, z + 0.02, (x, y), 12),
        cyl(0.012, z + 0.02, z + height, (x, y), 8),
        rod_y(0.01, y - reach, y, x, z + height - 0.01, 8),
    ]


def _pedestal_sink(p: dict) -> tuple[list, list]:
    w, d, h = p["width"], p["depth"], p["height"]
    rx, ry = w / 2, d / 2
    basin = [
        vessel(0.55 * rx, rx, h - 0.2, h, 0.03, 0.05, (0.0, 0.0), 24, ry / rx),
        bx(-0.7 * rx, 0.7 * rx, d / 2 - 0.12, d / 2, h - 0.06, h),
        frustum(0.12, 0.075, 0.0, h - 0.19, (0.0, 0.05), 16),
    ]
    faucet = _bath_faucet(0.0, d / 2 - 0.06, h, p["faucet_height"], min(0.14, ry))
    return [part("sink", "sink", basin), part("faucet", raw_class("faucet"), faucet)], []


def _vanity(p: dict) -> tuple[list, list]:
    w, d, h, handle = p["width"], p["depth"], p["height"], p["handle"]
    tt, pl = 0.03, p["plinth"]
    y_face = -d / 2 + 0.02
    cab = [bx(-w / 2, w / 2, y_face + face_depth(handle), d / 2, pl, h - tt), plinth(-w / 2, w / 2, y_face, d / 2, pl)]
    bw, bdp = min(p["basin_width"], w - 0.15), min(p["basin_depth"], d - 0.15)
    hx0, hx1, hy0 = -bw / 2, bw / 2, -d / 2 + 0.05
    hy1 = hy0 + bdp
    if p["front"] == "doors":
        cab += door_fronts(-w / 2, w / 2, pl, h - tt, y_face, 2 if w > 0.7 else 1, handle, "top")
    else:
        cab += drawer_fronts(-w / 2, w / 2, pl, h - tt, y_face, 2, 1, handle)
    sink: Mesh
    if p["basin"] == "drop_in":
        bd, t = p["bowl_depth"], 0.008
        zb = h - bd
        cab[0] = bx(-w / 2, w / 2, y_face + face_depth(handle), d / 2, pl, zb - 0.02)
        top = boxes(
            [
                (-w / 2, hx0, -d / 2, d / 2, h - tt, h),
                (hx1, w / 2, -d / 2, d / 2, h - tt, h),
                (hx0, hx1, -d / 2, hy0, h - tt, h),
                (hx0, hx1, hy1, d / 2, h - tt, h),
            ]
        )
        sink = boxes(
            [
                (hx0, hx1, hy0, hy1, zb - t, zb),
                (hx0, hx1, hy0, hy0 + t, zb, h),
                (hx0, hx1, hy1 - t, hy1, zb, h),
                (hx0, hx0 + t, hy0, hy1, zb, h),
                (hx1 - t, hx1, hy0, hy1, zb, h),
            ]
        )
        top_z = h
    else:
        top = bx(-w / 2, w / 2, -d / 2, d / 2, h - tt, h)
        rx, ry = bw / 2, bdp / 2
        sink = vessel(0.6 * rx, rx, h, h + p["vessel_height"], 0.012, 0.02, (0.0, (hy0 + hy1) / 2), 24, ry / rx)
        top_z = h + p["vessel_height"]
    yf = min(hy1 + 0.05, d / 2 - 0.03)
    faucet = _bath_faucet(0.0, yf, h, max(p["faucet_height"], top_z - h + 0.08), min(0.12, yf - hy0 - 0.05))
    parts = [
        part("top", "counter", top),
        part("cabinet", "cabinet", cab),
        part("basin", "sink", sink),
        part("faucet", raw_class("faucet"), faucet),
    ]
    sups = [support(h, a, -d / 2, b, d / 2) for a, b in ((-w / 2, hx0 - 0.03), (hx1 + 0.03, w / 2)) if b - a >= 0.15]
    return parts, sups


def build_sink(p: dict) -> Piece:
    """Sink (class sink): a pedestal basin with a faucet ledge, or a vanity with a drop-in or vessel basin
    (supports: the top beside the basin). A mirror above it is a separate ``mirror`` piece."""
    parts, sups = _pedestal_sink(p) if p["variant"] == "pedestal" else _vanity(p)
    parts.insert(0, parts.pop(next(i for i, x in enumerate(parts) if x.name in ("sink", "basin"))))
    return assemble("sink", p, parts, sups)


# --- bathtub ----------------------------------------------------------------------------------------


def sample_bathtub(rng: np.random.Generator) -> dict:
    """Bathtub params (metres)."""
    variant = choice(rng, ["built_in", "built_in", "freestanding"])
    return {
        "variant": variant,
        "length": uniform(rng, 1.50, 1.80),
        "width": uniform(rng, 0.70, 0.85),
        "height": uniform(rng, 0.45, 0.60),
        "rim": uniform(rng, 0.06, 0.12),
        "foot_height": uniform(rng, 0.06, 0.12),
        "shower_curtain": variant == "built_in" and chance(rng, 0.5),
        "rod_height": uniform(rng, 1.85, 2.00),
        "curtain_cover": uniform(rng, 0.3, 1.0),
        "curtain_side": choice(rng, [-1, 1]),
        "fold_pitch": uniform(rng, 0.08, 0.14),
        "fold_depth": uniform(rng, 0.03, 0.06),
        "curtain_hem": uniform(rng, 0.10, 0.25),
    }


def build_bathtub(p: dict) -> Piece:
    """Bathtub (class bathtub): a built-in box tub (floor + four walls) or a freestanding oval tub on feet;
    optional shower curtain (class shower curtain) on a rod along the front edge. Support: a wide back rim."""
    L, W, h, rim = p["length"], p["width"], p["height"], p["rim"]
    sups = []
    if p["variant"] == "built_in":
        zf = 0.12
        tub = boxes(
            [
                (-L / 2, L / 2, -W / 2, W / 2, 0.0, zf),
                (-L / 2, L / 2, -W / 2, -W / 2 + rim, zf, h),
                (-L / 2, L / 2, W / 2 - rim, W / 2, zf, h),
                (-L / 2, -L / 2 + rim, -W / 2 + rim, W / 2 - rim, zf, h),
                (L / 2 - rim, L / 2, -W / 2 + rim, W / 2 - rim, zf, h),
            ]
        )
        if rim >= 0.08:
            sups.append(support(h, -L / 2 + rim, W / 2 - rim, L / 2 - rim, W / 2))
        meshes = [tub]
    else:
        fh = p["foot_height"]
        rx, k = L / 2, W / L
        meshes = [
            lathe(
                [(0.0, fh), (0.8 * rx, fh), (rx, h), (rx - 0.03, h), (0.8 * rx - 0.03, fh + 0.05), (0.0, fh + 0.05)],
                32,
                (0.0, 0.0),
                k,
            )
        ]
        meshes += [
            cyl(0.03, 0.0, fh + 0.02, (sx * 0.6 * rx, sy * 0.6 * rx * k * 0.9), 8) for sx in (-1, 1) for sy in (-1, 1)
        ]
    parts = [part("bathtub", "bathtub", meshes)]
    if p["shower_curtain"]:
        fd = p["fold_depth"]
        y_rod = -W / 2 + max(0.03, fd / 2)
        rod_z = p["rod_height"]
        parts.append(part("rod", raw_class("curtain rod"), rod_x(0.012, -L / 2, L / 2, y_rod, rod_z)))
        cover = p["curtain_cover"] * L
        x0, x1 = (-L / 2, -L / 2 + cover) if p["curtain_side"] < 0 else (L / 2 - cover, L / 2)
        parts.append(
            part(
                "shower_curtain",
                "shower curtain",
                pleated_panel(x0, x1, y_rod, h - p["curtain_hem"], rod_z - 0.03, p["fold_pitch"], fd),
            )
        )
    return assemble("bathtub", p, parts, sups)


# --- towel on a bar ---------------------------------------------------------------------------------


def sample_towel(rng: np.random.Generator) -> dict:
    """Towel-on-a-bar params (metres)."""
    n = choice(rng, [1, 1, 2])
    tw = uniform(rng, 0.3, 0.6)
    return {
        "n_towels": n,
        "towel_width": tw,
        "bar_length": round(n * tw + uniform(rng, 0.08, 0.2), 4),
        "standoff": uniform(rng, 0.05, 0.08),
        "front_length": uniform(rng, 0.35, 0.55),
        "back_length": uniform(rng, 0.25, 0.55),
        "thickness": uniform(rng, 0.008, 0.02),
    }


def build_towel(p: dict) -> Piece:
    """Towels (class towel) folded over a wall bar (raw "towel rod" class) on two brackets. z = 0 is the
    lowest hem; the bar sits ``front_length`` above it."""
    n, tw, bl, so, t = p["n_towels"], p["towel_width"], p["bar_length"], p["standoff"], p["thickness"]
    r = 0.011
    fl, bkl = p["front_length"], p["back_length"]
    zb = max(fl, bkl)
    yb = -so  # bar axis, relative to the wall at y = 0 (shifted into the box by assemble)
    bar = [
        rod_x(r, -bl / 2, bl / 2, yb, zb),
        bx(-bl / 2, -bl / 2 + 0.02, yb, 0.0, zb - 0.02, zb + 0.02),
        bx(bl / 2 - 0.02, bl / 2, yb, 0.0, zb - 0.02, zb + 0.02),
    ]
    towels = []
    gap = (bl - 0.05 - n * tw) / max(n, 1)
    for i in range(n):
        x0 = -bl / 2 + 0.025 + gap / 2 + i * (tw + gap)
        towels += [
            bx(x0, x0 + tw, yb - r - t, yb - r, zb - fl, zb),
            bx(x0, x0 + tw, yb + r, yb + r + t, zb - bkl, zb),
            bx(x0, x0 + tw, yb - r - t, yb + r + t, zb + r, zb + r + t),
        ]
    return assemble("towel", p, [part("towel", "towel", towels), part("bar", raw_class("towel rod"), bar)])


# --- floor mat --------------------------------------------------------------------------------------


def sample_floor_mat(rng: np.random.Generator) -> dict:
    """Bath / door mat params (metres)."""
    shape = choice(rng, ["rect", "rounded", "oval"])
    w = uniform(rng, 0.5, 0.9)
    return {"shape": shape, "width": w, "depth": uniform(rng, 0.4, min(0.6, w)), "thickness": uniform(rng, 0.01, 0.02)}


def build_floor_mat(p: dict) -> Piece:
    """Floor mat (class floor mat): a thin rectangle, a rectangle with rounded ends, or an oval."""
    w, d, t = p["width"], p["depth"], p["thickness"]
    if p["shape"] == "oval":
        meshes = [cyl(w / 2, 0.0, t, sections=24, ry=d / 2)]
    elif p["shape"] == "rounded":
        r = d / 2
        meshes = [cyl(r, 0.0, t, (-w / 2 + r, 0.0), 16), cyl(r, 0.0, t, (w / 2 - r, 0.0), 16)]
        if w - 2 * r > 1e-3:
            meshes.append(bx(-w / 2 + r, w / 2 - r, -d / 2, d / 2, 0.0, t))
    else:
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, t)]
    return assemble("floor_mat", p, [part("floor_mat", "floor mat", meshes)], size=(w, d, t))


SPECS = (
    spec("toilet", "toilet", "wall", sample_toilet, build_toilet, front_clearance=0.6, tags=("bathroom",)),
    spec("sink", "sink", "wall", sample_sink, build_sink, front_clearance=0.6, tags=("bathroom",)),
    spec("bathtub", "bathtub", "corner", sample_bathtub, build_bathtub, front_clearance=0.6, tags=("bathroom",)),
    spec("towel", "towel", "wall_mounted", sample_towel, build_towel, mount_height=(0.55, 0.95), tags=("bathroom",)),
    spec("floor_mat", "floor mat", "floor_clutter", sample_floor_mat, build_floor_mat, tags=("bathroom", "flat")),
)
