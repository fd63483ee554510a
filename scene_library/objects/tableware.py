"""Tableware and decor for support surfaces: bottles, cups, bowls, vases, plants (and floor plants), photo
frames, laptops and microwaves. Registered in :mod:`scene_library.objects.small_objects`."""

from __future__ import annotations

import math

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.primitives import (
    boxes,
    bx,
    clamp_to_floor,
    ellipsoid,
    frustum,
    lathe,
    rod_between,
    rotated_box,
    vessel,
)
from scene_library.objects.shapes import assemble, chance, choice, part, randint, raw_class


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
        prof = [
            (0.0, 0.0),
            (r, 0.0),
            (r, 0.6 * h),
            (0.35 * r, 0.78 * h),
            (0.32 * r, 0.97 * h),
            (0.36 * r, 0.97 * h),
            (0.36 * r, h),
            (0.0, h),
        ]
    elif v == "water":
        prof = [
            (0.0, 0.0),
            (r, 0.0),
            (r, 0.75 * h),
            (0.4 * r, 0.9 * h),
            (0.4 * r, 0.93 * h),
            (0.45 * r, 0.93 * h),
            (0.45 * r, h),
            (0.0, h),
        ]
    else:
        prof = [(0.0, 0.0), (r, 0.0), (r, 0.82 * h), (0.9 * r, 0.86 * h), (1.02 * r, 0.86 * h), (1.02 * r, h), (0.0, h)]
    return assemble("bottle", p, [part("bottle", raw_class("bottle"), lathe(prof, 16))])


def sample_cup(rng: np.random.Generator) -> dict:
    """Mug or drinking-glass params (metres)."""
    return {
        "variant": choice(rng, ["mug", "glass"]),
        "radius": uniform(rng, 0.035, 0.05),
        "height": uniform(rng, 0.08, 0.15),
    }


def build_cup(p: dict) -> Piece:
    """Cup (NYU raw "cup": otherprop): a hollow mug with a handle, or a tapered glass."""
    r, h = p["radius"], p["height"]
    if p["variant"] == "mug":
        hz0, hz1 = 0.25 * h, 0.8 * h
        meshes = [
            vessel(r, r, 0.0, h, 0.005, 0.008, sections=16),
            boxes(
                [
                    (r - 0.003, r + 0.03, -0.006, 0.006, hz1 - 0.01, hz1),
                    (r - 0.003, r + 0.03, -0.006, 0.006, hz0, hz0 + 0.01),
                    (r + 0.02, r + 0.03, -0.006, 0.006, hz0, hz1),
                ]
            ),
        ]
    else:
        meshes = [vessel(0.8 * r, r, 0.0, h, 0.003, 0.01, sections=16)]
    return assemble("cup", p, [part("cup", raw_class("cup"), meshes)])


def sample_bowl(rng: np.random.Generator) -> dict:
    """Bowl params (metres)."""
    return {"radius": uniform(rng, 0.06, 0.15), "height": uniform(rng, 0.05, 0.12), "foot": uniform(rng, 0.45, 0.6)}


def build_bowl(p: dict) -> Piece:
    """Bowl (NYU raw "bowl": otherprop): an open lathed bowl."""
    r, h = p["radius"], p["height"]
    return assemble(
        "bowl", p, [part("bowl", raw_class("bowl"), vessel(p["foot"] * r, r, 0.0, h, 0.006, 0.008, sections=20))]
    )


def sample_vase(rng: np.random.Generator) -> dict:
    """Vase params (metres)."""
    return {
        "variant": choice(rng, ["cylinder", "bulb", "flared"]),
        "radius": uniform(rng, 0.04, 0.1),
        "height": uniform(rng, 0.15, 0.45),
    }


def build_vase(p: dict) -> Piece:
    """Vase (NYU raw "vase": otherprop): open-topped lathed cylinder, bulb or flared shape."""
    r, h, v, t = p["radius"], p["height"], p["variant"], 0.006
    if v == "cylinder":
        mesh = vessel(0.9 * r, r, 0.0, h, t, 0.01, sections=16)
    else:
        neck, lip = (0.45 * r, 0.6 * r) if v == "bulb" else (0.5 * r, r)
        mesh = lathe(
            [
                (0.0, 0.0),
                (0.7 * r, 0.0),
                (r, 0.35 * h),
                (neck, 0.8 * h),
                (lip, h),
                (lip - t, h),
                (neck - t, 0.8 * h),
                (neck - t, 0.6 * h),
                (0.0, 0.6 * h),
            ],
            16,
        )
    return assemble("vase", p, [part("vase", raw_class("vase"), mesh)])


def _sample_plant(
    rng: np.random.Generator, pot_r: tuple[float, float], pot_h: tuple[float, float], top: tuple[float, float]
) -> dict:
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
    return {
        "width": uniform(rng, 0.1, 0.25),
        "height": uniform(rng, 0.13, 0.3),
        "thickness": uniform(rng, 0.01, 0.02),
        "lean": uniform(rng, 0.15, 0.3),
    }


def build_photo_frame(p: dict) -> Piece:
    """Photo frame (class picture) leaning back on a kickstand."""
    w, h, t, a = p["width"], p["height"], p["thickness"], p["lean"]
    frame = rotated_box((w, t, h), (0.0, 0.5 * h * math.sin(a), 0.5 * h * math.cos(a) + 0.5 * t * math.sin(a)), tilt=-a)
    stand = rod_between((0.0, h * math.sin(a) * 0.5, h * 0.5 * math.cos(a)), (0.0, h * 0.6, 0.004), 0.004, 4)
    return assemble("photo_frame", p, [part("photo_frame", "picture", [frame, clamp_to_floor(stand)])])


def sample_laptop(rng: np.random.Generator) -> dict:
    """Laptop params (metres, radians)."""
    return {
        "width": uniform(rng, 0.30, 0.38),
        "depth": uniform(rng, 0.21, 0.26),
        "base": uniform(rng, 0.015, 0.025),
        "open": chance(rng, 0.75),
        "screen_angle": uniform(rng, 0.15, 0.45),
    }


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
    return {
        "width": uniform(rng, 0.45, 0.60),
        "depth": uniform(rng, 0.32, 0.42),
        "height": uniform(rng, 0.26, 0.33),
        "panel": uniform(rng, 0.08, 0.12),
    }


def build_microwave(p: dict) -> Piece:
    """Microwave (NYU raw "microwave": otherprop): body on feet, door with a window and handle, control panel."""
    w, d, h, cp = p["width"], p["depth"], p["height"], p["panel"]
    meshes = [
        bx(-w / 2, w / 2, -d / 2 + 0.025, d / 2, 0.01, h),
        bx(-w / 2, -w / 2 + 0.03, -d / 2 + 0.03, -d / 2 + 0.06, 0.0, 0.01),
        bx(w / 2 - 0.03, w / 2, -d / 2 + 0.03, -d / 2 + 0.06, 0.0, 0.01),
        bx(-w / 2, w / 2, d / 2 - 0.06, d / 2, 0.0, 0.01),
        bx(-w / 2 + 0.01, w / 2 - cp, -d / 2 + 0.01, -d / 2 + 0.025, 0.02, h - 0.01),
        bx(w / 2 - cp - 0.03, w / 2 - cp - 0.015, -d / 2, -d / 2 + 0.01, 0.05, h - 0.05),
    ]
    return assemble("microwave", p, [part("microwave", raw_class("microwave"), meshes)], size=(w, d, h))
