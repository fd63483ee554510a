"""Beds: frame (platform, divan or legs), mattress, headboard, optional footboard, pillows, optional blanket.

Sizes (research/scene_generation.md §3.5, metres): length 1.95-2.20 (the piece depth, headboard included);
mattress widths 0.90 / 1.40 / 1.60 / 1.80 plus 0.05-0.15 of frame; mattress top 0.45-0.65; headboard
0.9-1.3; 1-4 pillows of 0.5-0.7 x 0.3-0.5 x 0.12-0.2. The headboard is the back (+y), the foot faces -y.

Labels: frame, mattress, headboard, footboard and a blanket spread over the mattress are ``bed`` (they
make up the bed's visible surface in NYUv2); pillows are ``pillow``; a folded blanket lying at the foot is
a separate prop, ``otherprop`` (NYUv2's raw name "blanket" maps there).
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.primitives import Mesh, bx, rotated_box
from scene_library.objects.shapes import assemble, chance, choice, corner_legs, part, raw_class, spec, support

MATTRESS_WIDTHS = (0.9, 1.4, 1.6, 1.8)  #: nominal mattress widths (m)


def sample_bed(rng: np.random.Generator) -> dict:
    """Bed params (metres, radians)."""
    mw = choice(rng, list(MATTRESS_WIDTHS), [0.3, 0.25, 0.25, 0.2])
    top = uniform(rng, 0.45, 0.65)
    headboard = choice(rng, ["panel", "upholstered", "slats", "none"], [0.4, 0.3, 0.2, 0.1])
    n_back = 1 if mw < 1.2 else 2
    n_front = (1 if chance(rng, 0.3) else 0) if mw < 1.2 else (choice(rng, [0, 1, 2], [0.6, 0.2, 0.2]))
    return {
        "mattress_width": mw,
        "width": round(mw + uniform(rng, 0.05, 0.15), 4),
        "length": uniform(rng, 1.95, 2.20),
        "frame": choice(rng, ["platform", "divan", "legs"]),
        "mattress_top": top,
        "mattress_thickness": uniform(rng, 0.18, min(0.30, top - 0.15)),
        "headboard": headboard,
        "headboard_height": uniform(rng, 0.9, 1.3),
        "headboard_thickness": uniform(rng, 0.08, 0.12) if headboard == "upholstered" else uniform(rng, 0.04, 0.08),
        "footboard": chance(rng, 0.25),
        "footboard_height": uniform(rng, top - 0.15, top + 0.15),
        "n_pillows": n_back,
        "n_front_pillows": n_front,
        "pillow_width": uniform(rng, 0.5, 0.7),
        "pillow_depth": uniform(rng, 0.3, 0.5),
        "pillow_thickness": uniform(rng, 0.12, 0.2),
        "pillow_yaw": [uniform(rng, -0.08, 0.08) for _ in range(n_back + n_front)],
        "blanket": choice(rng, ["none", "spread", "folded"], [0.3, 0.5, 0.2]),
        "blanket_thickness": uniform(rng, 0.02, 0.05),
        "blanket_drop": uniform(rng, 0.05, 0.25),
        "blanket_turn_back": uniform(rng, 0.05, 0.35),
        "folded_depth": uniform(rng, 0.3, 0.5),
    }


def _frame(p: dict, w: float, y0: float, y1: float, z_deck: float) -> list[Mesh]:
    """Bed base between y0 (foot) and y1 (head) whose deck (mattress bottom) is at ``z_deck``."""
    if p["frame"] == "divan":
        return [bx(-w / 2, w / 2, y0, y1, 0.0, z_deck)]
    if p["frame"] == "platform":
        plinth = min(0.08, z_deck / 3)
        return [
            bx(-w / 2 + 0.06, w / 2 - 0.06, y0 + 0.06, y1 - 0.06, 0.0, plinth),
            bx(-w / 2, w / 2, y0, y1, plinth, z_deck),
        ]
    rail_lo = max(0.12, z_deck - 0.15)
    out: list[Mesh] = [
        bx(-w / 2, -w / 2 + 0.05, y0, y1, rail_lo, z_deck + 0.05),
        bx(w / 2 - 0.05, w / 2, y0, y1, rail_lo, z_deck + 0.05),
        bx(-w / 2, w / 2, y0, y0 + 0.05, rail_lo, z_deck + 0.05),
        bx(-w / 2 + 0.05, w / 2 - 0.05, y0 + 0.05, y1, z_deck - 0.02, z_deck),
    ]
    out += corner_legs("square", -w / 2, w / 2, y0, y1, 0.06, 0.0, rail_lo)
    return out


def _headboard(p: dict, w: float, y0: float, y1: float, z_mat: float) -> list[Mesh]:
    """Headboard occupying y in [y0, y1] (y1 = back of the bed)."""
    h = p["headboard_height"]
    if p["headboard"] == "slats":
        posts: list[Mesh] = [bx(-w / 2, -w / 2 + 0.06, y0, y1, 0.0, h), bx(w / 2 - 0.06, w / 2, y0, y1, 0.0, h)]
        rails = [
            bx(-w / 2 + 0.06, w / 2 - 0.06, y0, y1, h - 0.08, h),
            bx(-w / 2 + 0.06, w / 2 - 0.06, y0, y1, z_mat - 0.1, z_mat),
        ]
        n = max(3, int((w - 0.12) / 0.15))
        pitch = (w - 0.12) / n
        slats = [
            bx(
                -w / 2 + 0.06 + (i + 0.3) * pitch,
                -w / 2 + 0.06 + (i + 0.7) * pitch,
                y0 + 0.01,
                y1 - 0.01,
                z_mat,
                h - 0.08,
            )
            for i in range(n)
        ]
        return posts + rails + slats
    return [bx(-w / 2, w / 2, y0, y1, 0.0, h)]


def build_bed(p: dict) -> Piece:
    """Bed piece; supports: the top of the mattress (or blanket) in front of the pillows (clothes, bags)."""
    w, length, mw = p["width"], p["length"], p["mattress_width"]
    top, mth = p["mattress_top"], p["mattress_thickness"]
    ht = p["headboard_thickness"] if p["headboard"] != "none" else 0.0
    ft = 0.04 if p["footboard"] else 0.0
    y_foot, y_head = -length / 2 + ft, length / 2 - ht
    mat_y0, mat_y1 = y_foot + 0.05, y_head - 0.01
    bed = _frame(p, w, y_foot, y_head, top - mth)
    bed.append(bx(-mw / 2, mw / 2, mat_y0, mat_y1, top - mth, top))
    if ht > 0:
        bed += _headboard(p, w, y_head, length / 2, top)
    if p["footboard"]:
        bed.append(bx(-w / 2, w / 2, -length / 2, y_foot, 0.0, p["footboard_height"]))
    parts = []
    # pillows: a back row against the headboard, an optional front row of smaller cushions
    pw, pd, pt = p["pillow_width"], p["pillow_depth"], p["pillow_thickness"]
    n_back, n_front = p["n_pillows"], p["n_front_pillows"]
    pw = min(pw, (mw - 0.08) / n_back - 0.04)
    row_y1 = mat_y1 - 0.04
    row_y0 = row_y1 - pd
    yaws = p["pillow_yaw"]
    for i in range(n_back):
        x = (i - (n_back - 1) / 2) * (pw + 0.04)
        parts.append(
            part(f"pillow_{i}", "pillow", rotated_box((pw, pd, pt), (x, row_y1 - pd / 2, top + pt / 2), yaw=yaws[i]))
        )
    fw, fd, fth = min(0.45, (mw - 0.2) / max(n_front, 1) - 0.05), 0.16, min(0.35, pt * 2.2)
    for i in range(n_front):
        x = (i - (n_front - 1) / 2) * (fw + 0.05)
        parts.append(
            part(
                f"pillow_{n_back + i}",
                "pillow",
                rotated_box((fw, fd, fth), (x, row_y0 - fd / 2 + 0.04, top + fth / 2), yaw=yaws[n_back + i]),
            )
        )
    front_edge = row_y0 - (fd - 0.04 if n_front else 0.0)
    surface, sup_y0, sup_y1 = top, mat_y0 + 0.05, front_edge - 0.05
    bt = min(p["blanket_thickness"], (w - mw) / 2)
    if p["blanket"] == "spread":
        y_end = front_edge - p["blanket_turn_back"]
        drop = min(p["blanket_drop"], mth)
        bed += [
            bx(-mw / 2 - bt, mw / 2 + bt, mat_y0 - bt, y_end, top, top + bt),
            bx(-mw / 2 - bt, -mw / 2, mat_y0 - bt, y_end, top - drop, top),
            bx(mw / 2, mw / 2 + bt, mat_y0 - bt, y_end, top - drop, top),
            bx(-mw / 2, mw / 2, mat_y0 - bt, mat_y0, top - drop, top),
        ]
        surface, sup_y1 = top + bt, min(sup_y1, y_end)
    elif p["blanket"] == "folded":
        fy1 = mat_y0 + 0.05 + p["folded_depth"]
        parts.append(
            part(
                "blanket",
                raw_class("blanket"),
                bx(-mw / 2 + 0.02, mw / 2 - 0.02, mat_y0 + 0.05, fy1, top, top + 3 * bt),
            )
        )
        sup_y0 = fy1 + 0.02
    parts.insert(0, part("bed", "bed", bed))
    supports = []
    if sup_y1 - sup_y0 > 0.2:
        supports.append(support(surface, -mw / 2 + 0.05, sup_y0, mw / 2 - 0.05, sup_y1))
    return assemble("bed", p, parts, supports)


SPECS = (spec("bed", "bed", "wall", sample_bed, build_bed, front_clearance=0.6, tags=("bedroom",)),)
