"""Electronics: television on a stand, a television for a dresser top, a desk monitor (with keyboard and mouse),
a computer tower.

Sizes (research/scene_generation.md §3.3-3.5, metres): TV panel 0.7-1.45 wide, 16:9, on a stand 0.40-0.60
high; TV stand 1.0-1.8 x 0.35-0.50; monitor 0.42-0.66 wide, 0.33-0.52 high overall.

Labels from the NYUv2 894-name table (``mapClass_894_to_40``): "tv stand" -> otherfurniture, "monitor",
"computer", "keyboard", "mouse" -> otherprop; the screen of a television is ``television``.
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, Support, uniform
from scene_library.objects.cabinetry import HANDLES, door_fronts, face_depth, handle_depth
from scene_library.objects.primitives import Mesh, boxes, bx
from scene_library.objects.shapes import assemble, chance, choice, corner_legs, part, raw_class, spec, support

# --- television -------------------------------------------------------------------------------------


def _tv(w: float, bezel: float, depth: float, foot: str, z0: float, yc: float) -> tuple[list[Mesh], float]:
    """A 16:9 panel of width ``w`` whose foot stands at height z0, centred in depth on ``yc``;
    returns the meshes and the panel top height."""
    ph = w * 9 / 16 + 2 * bezel
    lift = 0.07
    if foot == "pedestal":
        base = [
            bx(-0.14, 0.14, yc - 0.1, yc + 0.1, z0, z0 + 0.015),
            bx(-0.03, 0.03, yc + depth / 2, yc + depth / 2 + 0.025, z0, z0 + lift + ph / 3),
        ]
    else:
        base = []
        for s in (-1, 1):
            x = s * (w / 2 - 0.12)
            base += [
                bx(x - 0.02, x + 0.02, yc - 0.1, yc + 0.08, z0, z0 + 0.012),
                bx(x - 0.015, x + 0.015, yc - 0.01, yc + 0.01, z0, z0 + lift),
            ]
    panel = bx(-w / 2, w / 2, yc - depth / 2, yc + depth / 2, z0 + lift, z0 + lift + ph)
    return [panel, *base], z0 + lift + ph


def sample_tv_stand(rng: np.random.Generator) -> dict:
    """TV stand with a television params (metres)."""
    w = uniform(rng, 1.0, 1.8)
    return {
        "variant": choice(rng, ["cabinet", "open", "legs"]),
        "width": w,
        "depth": uniform(rng, 0.35, 0.50),
        "height": uniform(rng, 0.40, 0.60),
        "tv_width": uniform(rng, 0.7, min(1.45, w - 0.1)),
        "tv_depth": uniform(rng, 0.04, 0.08),
        "bezel": uniform(rng, 0.005, 0.02),
        "tv_foot": choice(rng, ["pedestal", "feet"]),
        "handle": choice(rng, list(HANDLES)),
        "device": chance(rng, 0.5),
        "leg_height": uniform(rng, 0.10, 0.20),
    }


def _stand(p: dict, w: float, d: float, h: float) -> tuple[list[Mesh], list[Support], list[Mesh]]:
    """The stand body: closed cabinet, open shelving (support, optional device box) or a slab on legs."""
    v, t = p["variant"], 0.02
    sups: list[Support] = []
    device: list[Mesh] = []
    if v == "cabinet":
        fd = face_depth(p["handle"])
        meshes: list[Mesh] = [
            bx(-w / 2, w / 2, -d / 2 + fd, d / 2, 0.05, h),
            bx(-w / 2 + 0.02, w / 2 - 0.02, -d / 2 + fd + 0.04, d / 2, 0.0, 0.05),
            bx(-w / 2, w / 2, -d / 2 + handle_depth(p["handle"]), -d / 2 + fd, h - t, h),
        ]
        meshes += door_fronts(-w / 2, w / 2, 0.05, h - t, -d / 2, max(2, round(w / 0.45)), p["handle"], "top")
    elif v == "open":
        meshes = [
            boxes(
                [
                    (-w / 2, w / 2, -d / 2, d / 2, h - t, h),
                    (-w / 2, w / 2, -d / 2, d / 2, 0.0, t + 0.03),
                    (-w / 2, -w / 2 + t, -d / 2, d / 2, t + 0.03, h - t),
                    (w / 2 - t, w / 2, -d / 2, d / 2, t + 0.03, h - t),
                    (-t / 2, t / 2, -d / 2, d / 2, t + 0.03, h - t),
                    (-w / 2 + t, w / 2 - t, d / 2 - 0.01, d / 2, t + 0.03, h - t),
                ]
            )
        ]
        z = t + 0.03
        sups = [
            support(z, -w / 2 + t, -d / 2, -t / 2, d / 2 - 0.01, h - t - z),
            support(z, t / 2, -d / 2, w / 2 - t, d / 2 - 0.01, h - t - z),
        ]
        if p["device"]:
            device = [
                bx(t / 2 + 0.05, t / 2 + 0.05 + min(0.35, w / 2 - 0.1), -0.1, 0.1, z, z + min(0.06, h - t - z - 0.01))
            ]
            sups[1] = support(
                z, t / 2 + 0.05 + min(0.35, w / 2 - 0.1) + 0.02, -d / 2, w / 2 - t, d / 2 - 0.01, h - t - z
            )
    else:
        lh = min(p["leg_height"], h - 0.15)
        meshes = [
            bx(-w / 2, w / 2, -d / 2, d / 2, lh, h),
            *corner_legs("square", -w / 2, w / 2, -d / 2, d / 2, 0.04, 0.0, lh, inset=0.03),
        ]
    return meshes, [s for s in sups if s.x1 - s.x0 > 0.1], device


def build_tv_stand(p: dict) -> Piece:
    """TV stand (class otherfurniture) with a television (class television) on top; supports: the stand top
    beside the television, and open shelves."""
    w, d, h, tw = p["width"], p["depth"], p["height"], p["tv_width"]
    stand, sups, device = _stand(p, w, d, h)
    tv, _ = _tv(tw, p["bezel"], p["tv_depth"], p["tv_foot"], h, 0.02)
    parts = [part("stand", raw_class("tv stand"), stand), part("television", "television", tv)]
    if device:
        parts.append(part("device", "otherprop", device))
    side = (w - tw) / 2 - 0.03
    if side >= 0.15:
        sups += [support(h, -w / 2, -d / 2, -w / 2 + side, d / 2), support(h, w / 2 - side, -d / 2, w / 2, d / 2)]
    return assemble("tv_stand", p, parts, sups)


def sample_television(rng: np.random.Generator) -> dict:
    """Free-standing television params (metres), for dresser or cabinet tops."""
    return {
        "width": uniform(rng, 0.5, 1.0),
        "tv_depth": uniform(rng, 0.03, 0.07),
        "bezel": uniform(rng, 0.005, 0.02),
        "tv_foot": choice(rng, ["pedestal", "feet"]),
    }


def build_television(p: dict) -> Piece:
    """Television (class television) on its own foot; z = 0 is the foot's underside."""
    tv, _ = _tv(p["width"], p["bezel"], p["tv_depth"], p["tv_foot"], 0.0, 0.0)
    return assemble("television", p, [part("television", "television", tv)])


# --- monitor ----------------------------------------------------------------------------------------


def sample_monitor(rng: np.random.Generator) -> dict:
    """Desk monitor params (metres), optionally with a keyboard and mouse in front."""
    return {
        "width": uniform(rng, 0.42, 0.66),
        "aspect": choice(rng, [16 / 9, 16 / 10]),
        "panel_depth": uniform(rng, 0.015, 0.05),
        "foot": choice(rng, ["plate", "v_legs"]),
        "foot_width": uniform(rng, 0.18, 0.26),
        "foot_depth": uniform(rng, 0.15, 0.22),
        "lift": uniform(rng, 0.06, 0.15),
        "keyboard": chance(rng, 0.6),
        "keyboard_width": uniform(rng, 0.35, 0.45),
        "keyboard_depth": uniform(rng, 0.12, 0.16),
        "keyboard_gap": uniform(rng, 0.06, 0.15),
    }


def build_monitor(p: dict) -> Piece:
    """Monitor (NYU class of "monitor": otherprop): panel on a neck and foot; optional keyboard and mouse."""
    w, pd, fw, fdp, lift = p["width"], p["panel_depth"], p["foot_width"], p["foot_depth"], p["lift"]
    ph = round(w / p["aspect"], 6)
    yp = 0.03
    if p["foot"] == "plate":
        foot = [bx(-fw / 2, fw / 2, -fdp / 2, fdp / 2, 0.0, 0.012)]
    else:
        foot = [
            bx(-fw / 2, -fw / 2 + 0.03, -fdp / 2, fdp / 2, 0.0, 0.012),
            bx(fw / 2 - 0.03, fw / 2, -fdp / 2, fdp / 2, 0.0, 0.012),
            bx(-fw / 2, fw / 2, fdp / 2 - 0.04, fdp / 2, 0.0, 0.012),
        ]
    meshes = foot + [
        bx(-0.03, 0.03, yp + pd / 2, yp + pd / 2 + 0.025, 0.0, lift + ph / 2),
        bx(-w / 2, w / 2, yp - pd / 2, yp + pd / 2, lift, lift + ph),
    ]
    parts = [part("monitor", raw_class("monitor"), meshes)]
    if p["keyboard"]:
        kw, kd = p["keyboard_width"], p["keyboard_depth"]
        y1 = -fdp / 2 - p["keyboard_gap"]
        parts.append(part("keyboard", raw_class("keyboard"), bx(-kw / 2, kw / 2, y1 - kd, y1, 0.0, 0.025)))
        parts.append(
            part("mouse", raw_class("mouse"), bx(kw / 2 + 0.06, kw / 2 + 0.12, y1 - kd, y1 - kd + 0.1, 0.0, 0.035))
        )
    return assemble("monitor", p, parts)


# --- computer tower ---------------------------------------------------------------------------------


def sample_computer(rng: np.random.Generator) -> dict:
    """Desktop computer tower params (metres)."""
    return {"width": uniform(rng, 0.17, 0.22), "depth": uniform(rng, 0.38, 0.50), "height": uniform(rng, 0.35, 0.48)}


def build_computer(p: dict) -> Piece:
    """Computer tower (NYU class of "computer": otherprop): case on small feet, front bezel and drive bay."""
    w, d, h = p["width"], p["depth"], p["height"]
    meshes = [
        bx(-w / 2, w / 2, -d / 2 + 0.01, d / 2, 0.015, h),
        bx(-w / 2 + 0.01, w / 2 - 0.01, -d / 2, -d / 2 + 0.01, 0.03, h - 0.02),
        bx(-w / 2 + 0.02, w / 2 - 0.02, -d / 2 + 0.02, d / 2 - 0.02, 0.0, 0.015),
    ]
    return assemble("computer", p, [part("computer", raw_class("computer"), meshes)], size=(w, d, h))


SPECS = (
    spec(
        "tv_stand",
        raw_class("tv stand"),
        "wall",
        sample_tv_stand,
        build_tv_stand,
        front_clearance=0.5,
        tags=("living_room",),
    ),
    spec("television", "television", "surface", sample_television, build_television, tags=("bedroom", "living_room")),
    spec("monitor", raw_class("monitor"), "surface", sample_monitor, build_monitor, tags=("monitor", "office")),
    spec("computer", raw_class("computer"), "floor_clutter", sample_computer, build_computer, tags=("office",)),
)
