"""Parametric object library: the local-frame contract, labels, exact rebuilds, sizes, supports, coverage."""

from __future__ import annotations

import json
import math
import re
from functools import cache

import numpy as np
import open3d as o3d
import pytest

from scene_library.errors import SceneError
from scene_library.objects import OBJECTS, PLACEMENTS, build_piece, get_spec, kinds_by_placement, sample_piece
from scene_library.objects.base import Piece
from synthcam_core.labels import class40_id

SEEDS = range(30)
KINDS = sorted(OBJECTS)
TOL = 1e-9

#: NYU40 classes the library must produce (main or part classes), names as in the packaged tables.
REQUIRED_CLASSES = (
    "cabinet",
    "bed",
    "chair",
    "sofa",
    "table",
    "door",
    "window",
    "bookshelf",
    "picture",
    "counter",
    "blinds",
    "desk",
    "shelves",
    "curtain",
    "dresser",
    "pillow",
    "mirror",
    "floor mat",
    "clothes",
    "books",
    "refridgerator",
    "television",
    "paper",
    "towel",
    "shower curtain",
    "box",
    "whiteboard",
    "night stand",
    "toilet",
    "sink",
    "lamp",
    "bathtub",
    "bag",
    "otherfurniture",
    "otherprop",
)

#: Piece (width, depth, height) ranges in metres, from research/scene_generation.md §3.5 and the module docs.
SIZE_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "chair": ((0.42, 0.60), (0.42, 0.58), (0.78, 1.00)),
    "armchair": ((0.70, 0.95), (0.70, 0.95), (0.70, 1.00)),
    "office_chair": ((0.50, 0.75), (0.50, 0.75), (0.85, 1.20)),
    "sofa": ((1.40, 2.40), (0.80, 1.00), (0.70, 0.95)),
    "bed": ((0.95, 1.95), (1.95, 2.20), (0.55, 1.30)),
    "dining_table": ((0.9, 2.2), (0.75, 1.2), (0.72, 0.77)),
    "coffee_table": ((0.9, 1.3), (0.5, 0.7), (0.40, 0.48)),
    "side_table": ((0.4, 0.6), (0.4, 0.6), (0.50, 0.65)),
    "desk": ((1.0, 1.6), (0.55, 0.80), (0.72, 0.76)),
    "cabinet": ((0.4, 2.4), (0.35, 0.60), (0.70, 1.20)),
    "tall_cabinet": ((0.4, 1.2), (0.35, 0.60), (1.3, 2.1)),
    "wardrobe": ((0.8, 2.0), (0.55, 0.65), (1.8, 2.2)),
    "dresser": ((0.8, 1.6), (0.40, 0.55), (0.75, 1.20)),
    "night_stand": ((0.40, 0.60), (0.35, 0.50), (0.50, 0.70)),
    "bookshelf": ((0.6, 1.2), (0.25, 0.40), (1.3, 2.0)),
    "low_bookshelf": ((0.6, 1.2), (0.25, 0.40), (0.75, 1.15)),
    "shelves": ((0.6, 1.2), (0.2, 0.3), (0.02, 0.45)),
    "counter_run": ((1.0, 3.5), (0.60, 0.65), (0.88, 1.30)),
    "kitchen_island": ((1.2, 2.4), (0.90, 1.20), (0.88, 1.30)),
    "refrigerator": ((0.55, 0.90), (0.60, 0.75), (1.70, 1.90)),
    "mini_fridge": ((0.45, 0.55), (0.45, 0.55), (0.80, 0.90)),
    "wall_cabinet": ((0.6, 2.4), (0.30, 0.35), (0.6, 0.9)),
    "toilet": ((0.36, 0.45), (0.65, 0.75), (0.75, 0.95)),
    "sink": ((0.45, 1.2), (0.40, 0.60), (0.80, 1.20)),
    "bathtub": ((1.50, 1.80), (0.70, 0.85), (0.45, 2.02)),
    "towel": ((0.35, 1.45), (0.05, 0.12), (0.35, 0.60)),
    "floor_mat": ((0.5, 0.9), (0.4, 0.6), (0.01, 0.02)),
    "picture": ((0.3, 1.3), (0.002, 0.04), (0.3, 1.0)),
    "mirror": ((0.4, 1.0), (0.005, 0.15), (0.4, 1.0)),
    "whiteboard": ((0.9, 2.4), (0.015, 0.08), (0.6, 1.2)),
    "wall_tv": ((0.7, 1.45), (0.05, 0.12), (0.39, 0.86)),
    "door": ((0.80, 1.10), (0.03, 0.95), (2.05, 2.20)),
    "window": ((0.6, 2.0), (0.03, 0.13), (0.8, 1.5)),
    "curtain": ((1.2, 2.6), (0.05, 0.16), (1.4, 2.5)),
    "blinds": ((0.6, 2.0), (0.03, 0.10), (0.8, 1.5)),
    "tv_stand": ((1.0, 1.8), (0.35, 0.50), (0.80, 1.45)),
    "television": ((0.5, 1.0), (0.1, 0.25), (0.3, 0.7)),
    "monitor": ((0.42, 0.66), (0.10, 0.60), (0.30, 0.55)),
    "computer": ((0.17, 0.22), (0.38, 0.50), (0.35, 0.48)),
    "table_lamp": ((0.2, 0.5), (0.2, 0.5), (0.35, 0.70)),
    "floor_lamp": ((0.2, 0.6), (0.2, 0.6), (1.3, 1.8)),
    "box": ((0.1, 0.4), (0.08, 0.3), (0.05, 0.25)),
    "floor_box": ((0.2, 0.7), (0.15, 0.5), (0.1, 0.6)),
    "floor_bag": ((0.3, 0.66), (0.15, 0.35), (0.25, 0.6)),
    "bottle": ((0.06, 0.13), (0.06, 0.13), (0.10, 0.35)),
    "cup": ((0.07, 0.13), (0.07, 0.10), (0.08, 0.15)),
    "bin": ((0.2, 0.4), (0.14, 0.4), (0.25, 0.6)),
    "rug": ((0.9, 3.0), (0.6, 2.0), (0.005, 0.015)),
}

#: (kind, part name) -> range of that part's top height (m): the working surface of the piece.
PART_TOPS = {
    ("counter_run", "countertop"): (0.88, 0.92),
    ("kitchen_island", "countertop"): (0.88, 0.92),
    ("tv_stand", "stand"): (0.40, 0.60),
    ("bathtub", "bathtub"): (0.45, 0.60),
}


@cache
def pieces(kind: str) -> tuple[tuple[dict, Piece], ...]:
    """(params, piece) for every seed, built once per test session."""
    spec = OBJECTS[kind]
    out = []
    for seed in SEEDS:
        params = spec.sample(np.random.default_rng(seed))
        out.append((params, spec.build(params)))
    return tuple(out)


def all_vertices(piece: Piece) -> np.ndarray:
    return np.concatenate([p.mesh.vertices for p in piece.parts])


def plain(value) -> bool:
    """True for JSON-native Python values (no numpy scalars, no tuples)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return type(value) in (float, int, str, bool)


# --- registry -----------------------------------------------------------------------------------------


def test_registry_specs_are_well_formed():
    for kind, spec in OBJECTS.items():
        assert spec.kind == kind and re.fullmatch(r"[a-z][a-z0-9_]*", kind)
        assert spec.placement in PLACEMENTS, kind
        assert 1 <= spec.class40 <= 40, kind
        assert spec.front_clearance >= 0.0
        if spec.mount_height is not None:
            assert (
                spec.placement in ("wall_mounted", "opening")
                and 0.0 <= spec.mount_height[0] <= spec.mount_height[1] <= 2.0
            ), kind
        elif spec.placement == "wall_mounted":
            assert "fit_to_window" in spec.tags, f"{kind}: wall-mounted without mount_height must say who sizes it"


def test_unknown_kind_lists_the_valid_kinds():
    with pytest.raises(SceneError) as err:
        get_spec("flying_carpet")
    message = str(err.value)
    assert "flying_carpet" in message and all(k in message for k in ("bed", "chair", "counter_run", "picture"))
    with pytest.raises(SceneError):
        sample_piece("flying_carpet", np.random.default_rng(0))
    with pytest.raises(SceneError):
        build_piece("flying_carpet", {})


def test_kinds_by_placement():
    assert "picture" in kinds_by_placement("wall_mounted") and "books" in kinds_by_placement("surface")
    assert set(kinds_by_placement("floor_clutter")) >= {"floor_box", "floor_bag", "bin", "floor_mat"}
    with pytest.raises(SceneError, match="valid placements"):
        kinds_by_placement("ceiling")


def test_required_classes_are_covered():
    produced = set()
    for kind in KINDS:
        produced.add(OBJECTS[kind].class40)
        for _, piece in pieces(kind):
            produced.update(p.class40 for p in piece.parts)
    missing = [name for name in REQUIRED_CLASSES if class40_id(name) not in produced]
    assert not missing, f"no generator produces {missing}"


# --- per kind -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_local_frame_contract(kind):
    spec = OBJECTS[kind]
    for _params, piece in pieces(kind):
        assert piece.kind == kind and piece.parts
        w, d, h = piece.width, piece.depth, piece.height
        assert w > 0 and d > 0 and h > 0
        v = all_vertices(piece)
        assert np.isfinite(v).all()
        lo, hi = v.min(axis=0), v.max(axis=0)
        assert lo[2] == 0.0, f"{kind}: lowest vertex at {lo[2]}"
        assert (
            lo[0] >= -w / 2 - TOL
            and hi[0] <= w / 2 + TOL
            and lo[1] >= -d / 2 - TOL
            and hi[1] <= d / 2 + TOL
            and hi[2] <= h + TOL
        )
        # the box is the tight bounding box, so the footprint is centred
        assert np.allclose([-lo[0], hi[0], -lo[1], hi[1], hi[2]], [w / 2, w / 2, d / 2, d / 2, h], atol=1e-6), kind
        for p in piece.parts:
            assert len(p.mesh.faces) > 0 and p.mesh.faces.max() < len(p.mesh.vertices)
            assert 1 <= p.class40 <= 40, (kind, p.name)
        assert piece.parts[0].class40 == spec.class40, f"{kind}: the first part carries the main class"


@pytest.mark.parametrize("kind", KINDS)
def test_params_are_json_and_rebuild_exactly(kind):
    spec = OBJECTS[kind]
    for params, piece in pieces(kind):
        assert plain(params), f"{kind}: params must be plain JSON values: {params}"
        again = json.loads(json.dumps(params))
        assert again == params
        rebuilt = build_piece(kind, again)
        assert [p.name for p in rebuilt.parts] == [p.name for p in piece.parts]
        for a, b in zip(piece.parts, rebuilt.parts):
            assert a.class40 == b.class40
            assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.faces, b.mesh.faces)
        assert (rebuilt.width, rebuilt.depth, rebuilt.height, rebuilt.supports) == (
            piece.width,
            piece.depth,
            piece.height,
            piece.supports,
        )
    # the same seed draws the same params
    assert spec.sample(np.random.default_rng(7)) == spec.sample(np.random.default_rng(7))


@pytest.mark.parametrize("kind", KINDS)
def test_supports_lie_on_the_piece(kind):
    """Supports are inside the box, and a ray dropped inside a support's clearance lands exactly on it."""
    for _, piece in pieces(kind):
        if not piece.supports:
            continue
        w, d, h = piece.width, piece.depth, piece.height
        scene = o3d.t.geometry.RaycastingScene()
        for p in piece.parts:
            scene.add_triangles(
                o3d.core.Tensor(p.mesh.vertices.astype(np.float32)), o3d.core.Tensor(p.mesh.faces.astype(np.uint32))
            )
        for s in piece.supports:
            assert -w / 2 - TOL <= s.x0 < s.x1 <= w / 2 + TOL and -d / 2 - TOL <= s.y0 < s.y1 <= d / 2 + TOL, (kind, s)
            assert 0.0 < s.z <= h + TOL and s.clearance > 0, (kind, s)
            assert math.isinf(s.clearance) or s.z + s.clearance <= h + TOL, (kind, s)
            x, y = np.meshgrid(np.linspace(s.x0, s.x1, 6)[1:-1], np.linspace(s.y0, s.y1, 6)[1:-1])
            start = s.z + min(s.clearance, 0.5) - 1e-4
            n = x.size
            rays = np.column_stack(
                [x.ravel(), y.ravel(), np.full(n, start), np.zeros(n), np.zeros(n), -np.ones(n)]
            ).astype(np.float32)
            hit = start - scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
            assert np.allclose(hit, s.z, atol=1e-4), (
                f"{kind}: support {s} meets geometry at {np.unique(np.round(hit, 4))}"
            )


@pytest.mark.parametrize("kind", sorted(SIZE_RANGES))
def test_sizes_follow_the_documented_ranges(kind):
    eps = 1e-6
    for params, piece in pieces(kind):
        for name, value, (lo, hi) in zip(
            ("width", "depth", "height"), (piece.width, piece.depth, piece.height), SIZE_RANGES[kind]
        ):
            assert lo - eps <= value <= hi + eps, f"{kind} {name} {value:.4f} outside [{lo}, {hi}] for {params}"
    for (k, name), (lo, hi) in PART_TOPS.items():
        if k != kind:
            continue
        for _, piece in pieces(kind):
            top = next(p for p in piece.parts if p.name == name).mesh.vertices[:, 2].max()
            assert lo - eps <= top <= hi + eps, (kind, name, top)


def test_specific_dimensions():
    for params, piece in pieces("bed"):
        assert 1.95 <= piece.depth <= 2.20 and 0.45 <= params["mattress_top"] <= 0.65
        assert (
            params["mattress_width"] in (0.9, 1.4, 1.6, 1.8)
            and 0.05 <= piece.width - params["mattress_width"] <= 0.15 + 1e-9
        )
        assert 1 <= sum(p.class40 == class40_id("pillow") for p in piece.parts) <= 4
    for _, piece in pieces("sofa"):
        assert 2 <= sum(p.class40 == class40_id("pillow") for p in piece.parts) <= 3
    for params, piece in pieces("sink"):
        rim = next(p for p in piece.parts if p.name == ("sink" if params["variant"] == "pedestal" else "top"))
        assert 0.80 <= rim.mesh.vertices[:, 2].max() <= 0.90
    for params, _piece in pieces("chair"):
        assert 0.42 <= params["seat_height"] <= 0.48
    for params, _piece in pieces("bookshelf") + pieces("low_bookshelf"):
        assert all(b[1] <= 0.32 for level in params["levels"] for b in level["books"] if level["mode"] == "upright")


@pytest.mark.parametrize("kind", KINDS)
def test_tags_and_placements_match_the_geometry(kind):
    spec = OBJECTS[kind]
    for _, piece in pieces(kind):
        if "tall" in spec.tags:
            assert piece.height > 1.15, kind
        if spec.placement == "surface":
            assert max(piece.width, piece.depth) <= 1.0 and piece.height <= 0.7, kind
        if spec.placement == "floor_clutter":
            assert piece.height <= 0.7, kind


def test_parts_carry_their_own_classes():
    def classes(kind):
        return {p.class40 for _, piece in pieces(kind) for p in piece.parts}

    assert class40_id("books") in classes("bookshelf")
    assert {class40_id(c) for c in ("counter", "cabinet", "sink")} <= classes("counter_run")
    assert class40_id("shower curtain") in classes("bathtub")
    assert class40_id("television") in classes("tv_stand")
    assert class40_id("otherprop") == OBJECTS["monitor"].class40  # the NYUv2 table maps "monitor" to otherprop


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("door", {"width": 0.9, "height": 2.1}),
        ("window", {"width": 1.2, "height": 1.1}),
        ("curtain", {"width": 1.7, "height": 2.3, "open_fraction": 0.5}),
        ("blinds", {"width": 1.18, "height": 1.08}),
    ],
)
def test_openings_build_from_width_and_height_alone(kind, params):
    piece = build_piece(kind, params)
    assert piece.width == pytest.approx(params["width"]) and piece.height == pytest.approx(params["height"])
    assert all_vertices(piece)[:, 2].min() == 0.0


def test_build_is_fast():
    import time

    rng = np.random.default_rng(0)
    params = [(k, OBJECTS[k].sample(rng)) for k in KINDS for _ in range(3)]
    t0 = time.perf_counter()
    for k, p in params:
        build_piece(k, p)
    per_piece = (time.perf_counter() - t0) / len(params)
    assert per_piece < 0.01, f"{1000 * per_piece:.1f} ms per piece"


def test_incomplete_params_raise_a_scene_error():
    with pytest.raises(SceneError, match="lack the key"):
        build_piece("bed", {"width": 1.5})
