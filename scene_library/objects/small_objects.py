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

Books, paper, bins and rugs are built here; boxes, bags and clothes in :mod:`.clutter`, lamps in
:mod:`.lamps`, tableware and decor in :mod:`.tableware`. :data:`SPECS` registers them all in one fixed
order (the registry's order decides which kind a draw picks).
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, uniform
from scene_library.objects.clutter import (
    build_bag,
    build_box,
    build_clothes,
    build_floor_bag,
    build_floor_box,
    build_floor_clothes,
    build_folded_towel,
    sample_bag,
    sample_box,
    sample_clothes,
    sample_floor_bag,
    sample_floor_box,
    sample_floor_clothes,
    sample_folded_towel,
)
from scene_library.objects.lamps import build_floor_lamp, build_table_lamp, sample_floor_lamp, sample_table_lamp
from scene_library.objects.primitives import boxes, bx, cyl, open_box, rotated_box, vessel
from scene_library.objects.shapes import assemble, chance, choice, part, randint, raw_class, spec
from scene_library.objects.tableware import (
    build_bottle,
    build_bowl,
    build_cup,
    build_floor_plant,
    build_laptop,
    build_microwave,
    build_photo_frame,
    build_plant,
    build_vase,
    sample_bottle,
    sample_bowl,
    sample_cup,
    sample_floor_plant,
    sample_laptop,
    sample_microwave,
    sample_photo_frame,
    sample_plant,
    sample_vase,
)

# --- books and paper --------------------------------------------------------------------------------


def sample_books(rng: np.random.Generator) -> dict:
    """A stack of lying books, or a row of upright books between bookends (metres, radians)."""
    if chance(rng, 0.6):
        books = [
            [
                uniform(rng, 0.15, 0.30),
                uniform(rng, 0.10, 0.22),
                uniform(rng, 0.02, 0.06),
                uniform(rng, -0.15, 0.15),
                uniform(rng, -0.02, 0.02),
                uniform(rng, -0.02, 0.02),
            ]
            for _ in range(randint(rng, 2, 6))
        ]
        books.sort(key=lambda b: -b[0] * b[1])
        return {"variant": "stack", "books": books}
    books = [
        [uniform(rng, 0.015, 0.06), uniform(rng, 0.15, 0.30), uniform(rng, 0.10, 0.22)]
        for _ in range(randint(rng, 3, 10))
    ]
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
                ends += [
                    bx(xa, xb, -0.06, 0.06, 0.0, 0.003),
                    bx(
                        x0 + (0.0 if sgn > 0 else -0.003),
                        x0 + (0.003 if sgn > 0 else 0.0),
                        -0.06,
                        0.06,
                        0.0,
                        min(0.15, hmin),
                    ),
                ]
            parts.append(part("bookends", "otherprop", ends))
    return assemble("books", p, parts)


def sample_paper(rng: np.random.Generator) -> dict:
    """Paper params (metres, radians): a stack of sheets or a few fanned-out sheets."""
    size = choice(rng, [[0.21, 0.297], [0.216, 0.279]])
    if chance(rng, 0.6):
        return {
            "variant": "stack",
            "size": size,
            "thickness": uniform(rng, 0.002, 0.03),
            "yaw": uniform(rng, -0.2, 0.2),
        }
    sheets = [
        [uniform(rng, -0.06, 0.06), uniform(rng, -0.06, 0.06), uniform(rng, -0.4, 0.4)]
        for _ in range(randint(rng, 2, 5))
    ]
    return {"variant": "fanned", "size": size, "sheets": sheets}


def build_paper(p: dict) -> Piece:
    """Paper (class paper): a stack, or 1 mm sheets [dx, dy, yaw] overlapping on top of each other."""
    w, d = p["size"]
    if p["variant"] == "stack":
        meshes = [rotated_box((w, d, p["thickness"]), (0.0, 0.0, p["thickness"] / 2), yaw=p["yaw"])]
    else:
        meshes = [
            rotated_box((w, d, 0.001), (dx, dy, 0.0005 + 0.001 * i), yaw=yaw)
            for i, (dx, dy, yaw) in enumerate(p["sheets"])
        ]
    return assemble("paper", p, [part("paper", "paper", meshes)])


# --- bin and rug ------------------------------------------------------------------------------------


def sample_bin(rng: np.random.Generator) -> dict:
    """Waste bin params (metres)."""
    return {
        "shape": choice(rng, ["round", "square"]),
        "width": uniform(rng, 0.2, 0.4),
        "height": uniform(rng, 0.25, 0.6),
        "depth_ratio": uniform(rng, 0.7, 1.0),
        "taper": uniform(rng, 0.75, 1.0),
    }


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
    spec(
        "table_lamp", "lamp", "surface", sample_table_lamp, build_table_lamp, tags=("bedroom", "living_room", "office")
    ),
    spec(
        "bottle",
        raw_class("bottle"),
        "surface",
        sample_bottle,
        build_bottle,
        tags=("kitchen", "dining_room", "bathroom"),
    ),
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
