"""Storage: cabinets (low and tall), wardrobe, dresser, night stand, bookshelves with books, wall shelves.

Sizes (research/scene_generation.md §3.5, metres): cabinet 0.4-2.4 x 0.35-0.60 x 0.7-2.1 (split here into
``cabinet`` up to 1.2 m, whose top is a support, and ``tall_cabinet`` 1.3-2.1 m); wardrobe (class cabinet)
0.8-2.0 x 0.55-0.65 x 1.8-2.2; dresser 0.8-1.6 x 0.40-0.55 x 0.75-1.20; night stand 0.40-0.60 x
0.35-0.50 x 0.50-0.70; bookshelf 0.6-1.2 x 0.25-0.40 x 0.8-2.0 with 3-6 shelves, books filling 30-90 %
(``bookshelf`` 1.3-2.0 m, ``low_bookshelf`` 0.75-1.15 m); wall shelves 0.6-1.2 x 0.2-0.3, boards 0.02-0.04
thick, mounted at 1.2-1.8 m.
"""

from __future__ import annotations

import numpy as np

from scene_library.objects.base import Piece, Support, uniform
from scene_library.objects.cabinetry import HANDLES, door_fronts, drawer_fronts, face_depth, handle_depth, plinth
from scene_library.objects.primitives import Mesh, boxes, bx
from scene_library.objects.shapes import assemble, chance, choice, corner_legs, part, randint, spec, support

# --- carcass ----------------------------------------------------------------------------------------


def _body(p: dict, w: float, d: float, h: float, open_front: bool = False) -> tuple[list[Mesh], float, float]:
    """Carcass, top slab and base of a case piece; returns (meshes, z0, z1) of the front opening.

    ``p`` needs ``base`` ("plinth" | "feet" | "none"), ``base_height``, ``top_thickness`` and ``handle``."""
    base_h = 0.0 if p["base"] == "none" else p["base_height"]
    tt = p["top_thickness"]
    hd = handle_depth(p["handle"])
    fd = 0.0 if open_front else face_depth(p["handle"])
    y0 = -d / 2 + fd
    out: list[Mesh] = [bx(-w / 2, w / 2, -d / 2 + (0.0 if open_front else hd), d / 2, h - tt, h)]
    if open_front:
        out += [
            bx(-w / 2, -w / 2 + 0.018, y0, d / 2, base_h, h - tt),
            bx(w / 2 - 0.018, w / 2, y0, d / 2, base_h, h - tt),
            bx(-w / 2 + 0.018, w / 2 - 0.018, d / 2 - 0.01, d / 2, base_h, h - tt),
            bx(-w / 2 + 0.018, w / 2 - 0.018, y0, d / 2 - 0.01, base_h, base_h + 0.018),
        ]
    else:
        out.append(bx(-w / 2, w / 2, y0, d / 2, base_h, h - tt))
    if p["base"] == "plinth":
        out.append(plinth(-w / 2, w / 2, y0, d / 2, base_h))
    elif p["base"] == "feet":
        out += corner_legs("round", -w / 2, w / 2, y0, d / 2, 0.045, 0.0, base_h, inset=0.02)
    return out, base_h, h - tt


def _case_params(rng: np.random.Generator) -> dict:
    return {
        "base": choice(rng, ["plinth", "feet", "none"]),
        "base_height": uniform(rng, 0.05, 0.12),
        "top_thickness": uniform(rng, 0.018, 0.04),
        "handle": choice(rng, list(HANDLES)),
    }


def _open_shelves(w: float, d: float, z0: float, z1: float, n: int) -> tuple[list[Mesh], list[Support]]:
    """``n - 1`` shelf boards dividing an open carcass interior [z0, z1]; returns meshes and supports."""
    gap = (z1 - z0 - 0.018) / n
    meshes: list[Mesh] = []
    sups: list[Support] = []
    for i in range(n):
        z = z0 + 0.018 + i * gap
        if i > 0:
            meshes.append(bx(-w / 2 + 0.018, w / 2 - 0.018, -d / 2, d / 2 - 0.01, z - 0.018, z))
        top = z1 if i == n - 1 else z0 + 0.018 + (i + 1) * gap - 0.018
        sups.append(support(z, -w / 2 + 0.018, -d / 2, w / 2 - 0.018, d / 2 - 0.01, top - z))
    return meshes, sups


# --- cabinet / tall cabinet -------------------------------------------------------------------------


def _sample_cabinet(rng: np.random.Generator, tall: bool) -> dict:
    if tall:
        w, h, front = uniform(rng, 0.4, 1.2), uniform(rng, 1.3, 2.1), choice(rng, ["doors", "split", "mixed"])
    else:
        w = uniform(rng, 0.4, 1.2) if chance(rng, 0.7) else uniform(rng, 1.2, 2.4)
        h, front = uniform(rng, 0.70, 1.20), choice(rng, ["doors", "drawers", "mixed", "open"])
    return {
        "front": front,
        "width": w,
        "depth": uniform(rng, 0.35, 0.60),
        "height": h,
        "n_shelves": randint(rng, 1, 3),
        "drawer_height": uniform(rng, 0.15, 0.25),
        **_case_params(rng),
    }


def sample_cabinet(rng: np.random.Generator) -> dict:
    """Low or medium cabinet / sideboard params (metres); height 0.70-1.20."""
    return _sample_cabinet(rng, tall=False)


def sample_tall_cabinet(rng: np.random.Generator) -> dict:
    """Tall storage cabinet params (metres); height 1.3-2.1."""
    return _sample_cabinet(rng, tall=True)


def _cabinet(kind: str, p: dict) -> Piece:
    w, d, h = p["width"], p["depth"], p["height"]
    front = p["front"]
    meshes, z0, z1 = _body(p, w, d, h, open_front=front == "open")
    y_face, handle = -d / 2, p["handle"]
    n_doors = max(1, min(4, round(w / 0.5)))
    sups: list[Support] = []
    if front == "open":
        shelves, sups = _open_shelves(w, d, z0, z1, p["n_shelves"] + 1)
        meshes += shelves
    elif front == "doors":
        meshes += door_fronts(-w / 2, w / 2, z0, z1, y_face, n_doors, handle, "top" if h < 1.3 else "middle")
    elif front == "drawers":
        rows = max(2, round((z1 - z0) / 0.2))
        meshes += drawer_fronts(-w / 2, w / 2, z0, z1, y_face, rows, max(1, round(w / 0.7)), handle)
    elif front == "split":  # tall: upper and lower doors
        zm = z0 + 0.45 * (z1 - z0)
        meshes += door_fronts(-w / 2, w / 2, z0, zm, y_face, n_doors, handle, "top")
        meshes += door_fronts(-w / 2, w / 2, zm, z1, y_face, n_doors, handle, "bottom")
    else:  # mixed: a drawer row, doors below (low) or drawers below doors (tall)
        dh = p["drawer_height"]
        if h < 1.3:
            meshes += drawer_fronts(-w / 2, w / 2, z1 - dh, z1, y_face, 1, n_doors, handle)
            meshes += door_fronts(-w / 2, w / 2, z0, z1 - dh, y_face, n_doors, handle, "top")
        else:
            meshes += drawer_fronts(-w / 2, w / 2, z0, z0 + 2 * dh, y_face, 2, max(1, round(w / 0.7)), handle)
            meshes += door_fronts(-w / 2, w / 2, z0 + 2 * dh, z1, y_face, n_doors, handle, "middle")
    if h <= 1.2:
        sups.append(support(h, -w / 2, -d / 2 + handle_depth(handle) if front != "open" else -d / 2, w / 2, d / 2))
    return assemble(kind, p, [part("cabinet", "cabinet", meshes)], sups, size=(w, d, h))


def build_cabinet(p: dict) -> Piece:
    """Cabinet: carcass with doors, drawers, a drawer row over doors, or open shelves (supports); top support."""
    return _cabinet("cabinet", p)


def build_tall_cabinet(p: dict) -> Piece:
    """Tall cabinet: full-height doors, upper and lower doors, or drawers under doors; no supports."""
    return _cabinet("tall_cabinet", p)


# --- wardrobe ---------------------------------------------------------------------------------------


def sample_wardrobe(rng: np.random.Generator) -> dict:
    """Wardrobe params (metres)."""
    w = uniform(rng, 0.8, 2.0)
    return {
        "variant": choice(rng, ["hinged", "sliding", "drawers_below"]),
        "width": w,
        "depth": uniform(rng, 0.55, 0.65),
        "height": uniform(rng, 1.8, 2.2),
        "n_doors": max(2, min(4, round(w / 0.5))),
        "drawer_height": uniform(rng, 0.2, 0.3),
        "base": choice(rng, ["plinth", "feet"]),
        "base_height": uniform(rng, 0.05, 0.10),
        "top_thickness": uniform(rng, 0.02, 0.05),
        "handle": choice(rng, ["bar", "knob"]),
    }


def build_wardrobe(p: dict) -> Piece:
    """Wardrobe (class cabinet): hinged doors, two or three overlapping sliding panels (flush pulls, no
    handles), or doors over a drawer row."""
    w, d, h = p["width"], p["depth"], p["height"]
    meshes, z0, z1 = _body(p, w, d, h)
    y_face, handle, n = -d / 2, p["handle"], p["n_doors"]
    if p["variant"] == "sliding":
        k = 2 if w < 1.4 else 3
        pw = w / k
        for i in range(k):
            back = 0.025 * ((i + 1) % 2)
            a, b = max(-w / 2, -w / 2 + i * pw - 0.02), min(w / 2, -w / 2 + (i + 1) * pw + 0.02)
            meshes.append(bx(a, b, y_face + back, y_face + back + 0.02, z0 + 0.002, z1 - 0.002))
    elif p["variant"] == "drawers_below":
        dh = p["drawer_height"]
        meshes += drawer_fronts(-w / 2, w / 2, z0, z0 + dh, y_face, 1, 2, handle)
        meshes += door_fronts(-w / 2, w / 2, z0 + dh, z1, y_face, n, handle, "middle")
    else:
        meshes += door_fronts(-w / 2, w / 2, z0, z1, y_face, n, handle, "middle")
    return assemble("wardrobe", p, [part("wardrobe", "cabinet", meshes)], size=(w, d, h))


# --- dresser ----------------------------------------------------------------------------------------


def sample_dresser(rng: np.random.Generator) -> dict:
    """Dresser / chest of drawers params (metres)."""
    w, h = uniform(rng, 0.8, 1.6), uniform(rng, 0.75, 1.20)
    return {
        "width": w,
        "depth": uniform(rng, 0.40, 0.55),
        "height": h,
        "cols": randint(rng, 1, 2) if w < 1.0 else randint(rng, 2, 3),
        "rows": max(3, min(6, round(h / uniform(rng, 0.17, 0.25)))),
        "top_split": chance(rng, 0.4),
        **_case_params(rng),
        "base": choice(rng, ["plinth", "feet"]),
    }


def build_dresser(p: dict) -> Piece:
    """Dresser (class dresser): grid of drawers, optionally a top row of smaller drawers; top support."""
    w, d, h = p["width"], p["depth"], p["height"]
    meshes, z0, z1 = _body(p, w, d, h)
    rows, cols = p["rows"], p["cols"]
    if p["top_split"]:
        rh = (z1 - z0) / rows
        meshes += drawer_fronts(-w / 2, w / 2, z0, z1 - rh, -d / 2, rows - 1, cols, p["handle"])
        meshes += drawer_fronts(-w / 2, w / 2, z1 - rh, z1, -d / 2, 1, cols + 1, p["handle"])
    else:
        meshes += drawer_fronts(-w / 2, w / 2, z0, z1, -d / 2, rows, cols, p["handle"])
    top = support(h, -w / 2, -d / 2 + handle_depth(p["handle"]), w / 2, d / 2)
    return assemble("dresser", p, [part("dresser", "dresser", meshes)], [top], size=(w, d, h))


# --- night stand ------------------------------------------------------------------------------------


def sample_night_stand(rng: np.random.Generator) -> dict:
    """Night stand params (metres)."""
    return {
        "variant": choice(rng, ["drawers", "drawer_shelf", "legs"]),
        "width": uniform(rng, 0.40, 0.60),
        "depth": uniform(rng, 0.35, 0.50),
        "height": uniform(rng, 0.50, 0.70),
        "n_drawers": randint(rng, 1, 3),
        "leg_height": uniform(rng, 0.15, 0.25),
        "lower_shelf": chance(rng, 0.5),
        **_case_params(rng),
    }


def build_night_stand(p: dict) -> Piece:
    """Night stand: drawers; one drawer over an open shelf (second support); or a drawer box on legs."""
    w, d, h, v, handle = p["width"], p["depth"], p["height"], p["variant"], p["handle"]
    sups = [support(h, -w / 2, -d / 2 + handle_depth(handle), w / 2, d / 2)]
    if v == "legs":
        lh, tt = p["leg_height"], p["top_thickness"]
        fd = face_depth(handle)
        meshes: list[Mesh] = [
            bx(-w / 2, w / 2, -d / 2 + handle_depth(handle), d / 2, h - tt, h),
            bx(-w / 2, w / 2, -d / 2 + fd, d / 2, lh, h - tt),
        ]
        meshes += corner_legs("square", -w / 2, w / 2, -d / 2 + fd, d / 2, 0.035, 0.0, lh)
        meshes += drawer_fronts(-w / 2, w / 2, lh, h - tt, -d / 2, min(2, p["n_drawers"]), 1, handle)
        if p["lower_shelf"] and lh > 0.12:
            meshes.append(bx(-w / 2 + 0.035, w / 2 - 0.035, -d / 2 + fd, d / 2, 0.05, 0.068))
            sups.append(support(0.068, -w / 2 + 0.035, -d / 2 + fd, w / 2 - 0.035, d / 2, lh - 0.068))
    elif v == "drawer_shelf":
        meshes, z0, z1 = _body(p, w, d, h, open_front=True)
        dz = min(0.18, (z1 - z0) / 2)
        fd = face_depth(handle)
        meshes.append(bx(-w / 2 + 0.018, w / 2 - 0.018, -d / 2 + fd, d / 2 - 0.01, z1 - dz, z1))
        meshes += drawer_fronts(-w / 2, w / 2, z1 - dz, z1, -d / 2, 1, 1, handle)
        zs = z0 + 0.018
        sups.append(support(zs, -w / 2 + 0.018, -d / 2, w / 2 - 0.018, d / 2 - 0.01, z1 - dz - zs))
        sups[0] = support(h, -w / 2, -d / 2, w / 2, d / 2)
    else:
        meshes, z0, z1 = _body(p, w, d, h)
        meshes += drawer_fronts(-w / 2, w / 2, z0, z1, -d / 2, p["n_drawers"], 1, handle)
    return assemble("night_stand", p, [part("night_stand", "night stand", meshes)], sups, size=(w, d, h))


# --- bookshelves ------------------------------------------------------------------------------------


def _levels(p: dict) -> tuple[list[float], float, float, float]:
    """Board-top heights of the shelf levels, the clear gap per level, inner width and inner depth (m)."""
    t, h, n = p["board"], p["height"], p["n_levels"]
    base = p["plinth"]
    gap = (h - base - (n + 1) * t) / n
    zs = [base + t + i * (gap + t) for i in range(n)]
    return zs, gap, p["width"] - 2 * t, p["depth"] - (p["back"] if p["back"] > 0 else 0.0)


def _sample_books(rng: np.random.Generator, inner_w: float, inner_d: float, gap: float) -> dict:
    """One level's books: upright row, lying stack, or empty. Each book is [x-size, z-size, y-size] (m)."""
    mode = choice(rng, ["upright", "stack", "empty"], [0.7, 0.15, 0.15])
    books: list[list[float]] = []
    if mode == "upright":
        target = inner_w * uniform(rng, 0.3, 0.9)
        hmax = min(0.32, gap - 0.02)
        hmin = min(0.15, 0.7 * hmax)
        used = 0.0
        while used < target:
            t = uniform(rng, 0.015, 0.06)
            if used + t > inner_w - 0.005:
                break
            books.append(
                [t, uniform(rng, hmin, hmax), uniform(rng, min(0.12, inner_d - 0.03), min(0.25, inner_d - 0.01))]
            )
            used += t
    elif mode == "stack":
        zsum = 0.0
        for _ in range(randint(rng, 2, 6)):
            th = uniform(rng, 0.02, 0.05)
            if zsum + th > gap - 0.02:
                break
            books.append(
                [
                    uniform(rng, 0.15, min(0.28, inner_w - 0.01)),
                    th,
                    uniform(rng, min(0.12, inner_d - 0.03), min(0.22, inner_d - 0.01)),
                ]
            )
            zsum += th
    total = sum(b[0] for b in books) if mode == "upright" else max((b[0] for b in books), default=0.0)
    return {
        "mode": mode if books else "empty",
        "x0": uniform(rng, 0.0, max(0.0, inner_w - total - 0.002)),
        "books": books,
    }


def _sample_shelf_unit(rng: np.random.Generator, h: float, n_levels: int) -> dict:
    p: dict = {
        "width": uniform(rng, 0.6, 1.2),
        "depth": uniform(rng, 0.25, 0.40),
        "height": h,
        "n_levels": n_levels,
        "board": uniform(rng, 0.018, 0.03),
        "back": uniform(rng, 0.005, 0.01) if chance(rng, 0.7) else 0.0,
        "plinth": uniform(rng, 0.04, 0.08) if chance(rng, 0.5) else 0.0,
    }
    zs, gap, iw, idp = _levels(p)
    p["levels"] = [_sample_books(rng, iw, idp, gap) for _ in zs]
    return p


def sample_bookshelf(rng: np.random.Generator) -> dict:
    """Tall bookshelf params (metres): height 1.3-2.0, 4-6 levels, books per level."""
    h = uniform(rng, 1.3, 2.0)
    return _sample_shelf_unit(rng, h, randint(rng, 4, 6) if h > 1.6 else randint(rng, 4, 5))


def sample_low_bookshelf(rng: np.random.Generator) -> dict:
    """Low bookshelf params (metres): height 0.75-1.15, 2-3 levels; its top is a support."""
    return _sample_shelf_unit(rng, uniform(rng, 0.75, 1.15), randint(rng, 2, 3))


def _books_mesh(level: dict, x_left: float, y_back: float, z: float) -> Mesh | None:
    books = level["books"]
    if not books:
        return None
    bounds = []
    x = x_left + level["x0"]
    if level["mode"] == "upright":
        for t, bh, bd in books:
            bounds.append((x, x + t, y_back - bd, y_back, z, z + bh))
            x += t
    else:
        zz = z
        for i, (bw, th, bd) in enumerate(books):
            dx = 0.01 * ((i * 7) % 3)  # a slightly untidy stack, deterministic
            bounds.append((x + dx, x + dx + bw - 0.02, y_back - bd, y_back, zz, zz + th))
            zz += th
    return boxes(bounds)


def _free_spans(level: dict, x_left: float, inner_w: float) -> list[tuple[float, float]]:
    """Plan x-ranges of a level not taken by its books (at least 0.12 m wide)."""
    books = level["books"]
    if not books:
        return [(x_left, x_left + inner_w)]
    used = sum(b[0] for b in books) if level["mode"] == "upright" else max(b[0] for b in books)
    a, b = x_left + level["x0"], x_left + level["x0"] + used
    return [s for s in ((x_left, a - 0.01), (b + 0.01, x_left + inner_w)) if s[1] - s[0] >= 0.12]


def _shelf_unit(kind: str, p: dict) -> Piece:
    w, d, h, t, back = p["width"], p["depth"], p["height"], p["board"], p["back"]
    zs, gap, iw, idp = _levels(p)
    frame = [
        bx(-w / 2, -w / 2 + t, -d / 2, d / 2, 0.0, h),
        bx(w / 2 - t, w / 2, -d / 2, d / 2, 0.0, h),
        bx(-w / 2 + t, w / 2 - t, -d / 2, d / 2, h - t, h),
    ]
    frame += [bx(-w / 2 + t, w / 2 - t, -d / 2, d / 2, z - t, z) for z in zs]
    if p["plinth"] > 0:
        frame.append(bx(-w / 2 + t, w / 2 - t, -d / 2 + 0.01, d / 2, 0.0, p["plinth"]))
    if back > 0:
        frame.append(bx(-w / 2 + t, w / 2 - t, d / 2 - back, d / 2, p["plinth"], h - t))
    parts = [part("frame", "bookshelf", frame)]
    sups = []
    y_back = d / 2 - back if back > 0 else d / 2 - 0.005
    for i, (z, level) in enumerate(zip(zs, p["levels"])):
        mesh = _books_mesh(level, -w / 2 + t, y_back, z)
        if mesh is not None:
            parts.append(part(f"books_{i}", "books", mesh))
        sups += [support(z, a, -d / 2, b, y_back, gap) for a, b in _free_spans(level, -w / 2 + t, iw)]
    if h <= 1.2:
        sups.append(support(h, -w / 2, -d / 2, w / 2, d / 2))
    return assemble(kind, p, parts, sups, size=(w, d, h))


def build_bookshelf(p: dict) -> Piece:
    """Bookshelf: sides, top, shelf boards, optional back and plinth; ``books`` parts per level; free shelf
    spans are supports with the level's gap as clearance."""
    return _shelf_unit("bookshelf", p)


def build_low_bookshelf(p: dict) -> Piece:
    """Low bookshelf: as :func:`build_bookshelf`, plus its top as a support."""
    return _shelf_unit("low_bookshelf", p)


# --- wall shelves -----------------------------------------------------------------------------------


def sample_shelves(rng: np.random.Generator) -> dict:
    """Wall shelf params (metres)."""
    return {
        "variant": choice(rng, ["floating", "brackets", "two_tier"]),
        "width": uniform(rng, 0.6, 1.2),
        "depth": uniform(rng, 0.2, 0.3),
        "board": uniform(rng, 0.02, 0.04),
        "bracket_height": uniform(rng, 0.10, 0.15),
        "gap": uniform(rng, 0.20, 0.35),
    }


def build_shelves(p: dict) -> Piece:
    """Wall shelves (class shelves): a floating board, a board on two brackets, or a two-tier unit with
    sides. z = 0 is the lower edge; board tops are supports."""
    w, d, t, v = p["width"], p["depth"], p["board"], p["variant"]
    if v == "floating":
        meshes, tops = [bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, t)], [(t, float("inf"))]
    elif v == "brackets":
        bh = p["bracket_height"]
        meshes = [bx(-w / 2, w / 2, -d / 2, d / 2, bh, bh + t)]
        for x in (-w / 2 + 0.1, w / 2 - 0.13):
            meshes += [
                bx(x, x + 0.03, d / 2 - 0.02, d / 2, 0.0, bh),
                bx(x, x + 0.03, -d / 2 + 0.03, d / 2, bh - 0.02, bh),
            ]
        tops = [(bh + t, float("inf"))]
    else:
        g = p["gap"]
        h = 2 * t + g
        meshes = [
            bx(-w / 2, w / 2, -d / 2, d / 2, 0.0, t),
            bx(-w / 2, w / 2, -d / 2, d / 2, t + g, h),
            bx(-w / 2, -w / 2 + 0.018, -d / 2, d / 2, t, t + g),
            bx(w / 2 - 0.018, w / 2, -d / 2, d / 2, t, t + g),
        ]
        tops = [(t, g), (h, float("inf"))]
    h = max(z for z, _ in tops)
    x0 = -w / 2 + (0.018 if v == "two_tier" else 0.0)
    sups = [support(z, x0, -d / 2, -x0, d / 2, c) for z, c in tops]
    return assemble("shelves", p, [part("shelves", "shelves", meshes)], sups, size=(w, d, h))


SPECS = (
    spec("cabinet", "cabinet", "wall", sample_cabinet, build_cabinet, front_clearance=0.6),
    spec(
        "tall_cabinet", "cabinet", "wall", sample_tall_cabinet, build_tall_cabinet, front_clearance=0.6, tags=("tall",)
    ),
    spec("wardrobe", "cabinet", "wall", sample_wardrobe, build_wardrobe, front_clearance=0.8, tags=("tall", "bedroom")),
    spec("dresser", "dresser", "wall", sample_dresser, build_dresser, front_clearance=0.7, tags=("bedroom",)),
    spec(
        "night_stand",
        "night stand",
        "wall",
        sample_night_stand,
        build_night_stand,
        front_clearance=0.3,
        tags=("bedroom",),
    ),
    spec("bookshelf", "bookshelf", "wall", sample_bookshelf, build_bookshelf, front_clearance=0.6, tags=("tall",)),
    spec("low_bookshelf", "bookshelf", "wall", sample_low_bookshelf, build_low_bookshelf, front_clearance=0.6),
    spec(
        "shelves",
        "shelves",
        "wall_mounted",
        sample_shelves,
        build_shelves,
        mount_height=(1.2, 1.8),
        front_clearance=0.0,
    ),
)
