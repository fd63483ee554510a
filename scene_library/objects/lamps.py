"""Table lamps (``surface``) and floor lamps (``corner``): a base, a stem and a shade. Registered in
:mod:`scene_library.objects.small_objects`."""

from __future__ import annotations

import math

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.primitives import Mesh, clamp_to_floor, cyl, lathe, rod_between, vessel
from scene_library.objects.shapes import assemble, choice, part


def _shade(rb: float, rt: float, z0: float, z1: float, sections: int = 24) -> Mesh:
    """A thin open lamp shade (a conical band 5 mm thick)."""
    return lathe([(rb - 0.005, z0), (rb, z0), (rt, z1), (rt - 0.005, z1)], sections, closed=True)


def sample_table_lamp(rng: np.random.Generator) -> dict:
    """Table lamp params (metres)."""
    h = uniform(rng, 0.35, 0.70)
    return {
        "base": choice(rng, ["cylinder", "vase", "stem"]),
        "height": h,
        "base_radius": uniform(rng, 0.05, 0.09),
        "shade_radius": uniform(rng, 0.10, 0.22),
        "shade_taper": uniform(rng, 0.6, 0.9),
        "shade_height": uniform(rng, 0.15, min(0.3, 0.45 * h)),
    }


def build_table_lamp(p: dict) -> Piece:
    """Table lamp (class lamp): cylinder, vase-shaped or disc-and-stem base, a pole and an open conical shade."""
    h, rb, rs, sh = p["height"], p["base_radius"], p["shade_radius"], p["shade_height"]
    zs = h - sh
    body_top = 0.55 * zs
    if p["base"] == "cylinder":
        base = [cyl(rb, 0.0, body_top, sections=16)]
    elif p["base"] == "vase":
        prof = [
            (0.0, 0.0),
            (0.6 * rb, 0.0),
            (rb, 0.35 * body_top),
            (0.8 * rb, 0.8 * body_top),
            (0.3 * rb, body_top),
            (0.0, body_top),
        ]
        base = [lathe(prof, 16)]
    else:
        base = [cyl(rb, 0.0, 0.02, sections=16)]
    meshes = base + [cyl(0.008, 0.0, zs + 0.6 * sh, sections=8), _shade(rs, rs * p["shade_taper"], zs, h)]
    return assemble("table_lamp", p, [part("lamp", "lamp", meshes)])


def sample_floor_lamp(rng: np.random.Generator) -> dict:
    """Floor lamp params (metres)."""
    return {
        "variant": choice(rng, ["stem", "tripod", "torchiere"]),
        "height": uniform(rng, 1.3, 1.8),
        "shade_radius": uniform(rng, 0.125, 0.25),
        "shade_taper": uniform(rng, 0.6, 0.9),
        "shade_height": uniform(rng, 0.2, 0.35),
        "base_radius": uniform(rng, 0.12, 0.18),
    }


def build_floor_lamp(p: dict) -> Piece:
    """Floor lamp (class lamp): disc base and pole, or three splayed legs, under a conical shade; or a
    torchiere with an upturned bowl."""
    h, rs, sh, rb = p["height"], p["shade_radius"], p["shade_height"], p["base_radius"]
    if p["variant"] == "torchiere":
        meshes: list[Mesh] = [
            cyl(rb, 0.0, 0.025, sections=20),
            cyl(0.012, 0.025, h - 0.1, sections=8),
            vessel(0.03, rs, h - 0.12, h, 0.004, 0.01, sections=20),
        ]
    elif p["variant"] == "tripod":
        zs = h - sh
        apex = zs - 0.05
        meshes = [
            rod_between((rs * 1.1 * math.cos(a), rs * 1.1 * math.sin(a), 0.0), (0.0, 0.0, apex), 0.012)
            for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)
        ]
        meshes += [cyl(0.01, apex - 0.02, zs + 0.5 * sh, sections=8), _shade(rs, rs * p["shade_taper"], zs, h)]
    else:
        zs = h - sh
        meshes = [
            cyl(rb, 0.0, 0.025, sections=20),
            cyl(0.012, 0.025, zs + 0.6 * sh, sections=8),
            _shade(rs, rs * p["shade_taper"], zs, h),
        ]
    # tripod legs: their slanted ends dip a few mm below the floor; lift those vertices to z = 0
    return assemble("floor_lamp", p, [part("lamp", "lamp", [clamp_to_floor(m) for m in meshes])])
