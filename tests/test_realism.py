"""Realism measures on tiny images built in code: identical inputs give distance 0, and each measure
grows when the property it measures is changed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from synthcam.realism import MEASURES, TOLERANCES, MeasureFrame, RealismStats, compare, measure_frames
from synthcam.realism.compare import wasserstein_bins
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

W, H = 64, 48
CAMERA = Intrinsics.nyuv2().scaled(W, H)


def plane(normal=(0.0, 0.0, -1.0), distance=2.0, camera=CAMERA) -> np.ndarray:
    """(H, W) float32 z-depth of the plane n . X + distance = 0 seen by ``camera`` (n towards it)."""
    u = (np.arange(camera.width) + 0.5 - camera.cx) / camera.fx
    v = (np.arange(camera.height) + 0.5 - camera.cy) / camera.fy
    a, b = np.meshgrid(u, v)
    n = np.asarray(normal, np.float64) / np.linalg.norm(normal)
    return (-distance / (n[0] * a + n[1] * b + n[2])).astype(np.float32)


def room_frame(seed: int = 0) -> MeasureFrame:
    """A wall at 3 m with a box at 1.5 m, sensor-like noise, some holes and labels."""
    rng = np.random.default_rng(seed)
    reference = plane(distance=3.0)
    reference[10:30, 20:40] = 1.5
    depth = reference + rng.normal(0, 0.004, reference.shape).astype(np.float32)
    depth[:, :3] = 0  # invalid left border
    depth[rng.random(depth.shape) < 0.03] = 0  # speckle
    depth[12:16, 36:40] = 0  # a hole at the box's edge
    labels = np.full((H, W), 12, np.uint8)  # wall
    labels[10:30, 20:40] = 6  # furniture
    labels[40:] = 5  # floor
    return MeasureFrame(depth, reference, labels)


def report_of(a: list[MeasureFrame], b: list[MeasureFrame], camera=CAMERA, camera_b=None):
    return compare(measure_frames(a, camera), measure_frames(b, camera_b or camera))


def distance(report, name: str) -> float:
    return report.row(name).distance


def test_a_frame_against_itself_is_at_distance_zero_for_every_measure():
    frames = [room_frame(0), room_frame(1)]
    report = report_of(frames, frames)
    assert [row.measure for row in report.rows] == list(MEASURES)
    assert all(row.distance == 0.0 and row.ok for row in report.rows), report.table()
    assert report.score() == 0.0 and report.left_out == ()


def test_an_extra_hole_raises_the_missing_measures():
    base = room_frame()
    holed = base.depth.copy()
    holed[20:28, 24:32] = 0  # 64 more missing pixels inside the box, near its edge
    added = np.count_nonzero(base.depth[20:28, 24:32])
    report = report_of([MeasureFrame(holed, base.reference, base.label13)], [base])
    assert distance(report, "missing") == pytest.approx(100.0 * added / (W * H))
    for name in ("missing_by_depth", "missing_by_edge_distance", "hole_sizes"):
        assert distance(report, name) > 0, name
    assert report.row("missing").generated > report.row("missing").real
    assert distance(report, "missing_border") == 0.0  # an interior hole: the border bands are as they were
    assert distance(report, "class_shares") == 0.0


def test_a_border_band_of_holes_shows_in_missing_border_only_at_that_border():
    base = room_frame()
    banded = base.depth.copy()
    banded[:, -3:] = 0  # an invalid right border like the left one
    stats = measure_frames([MeasureFrame(banded, base.reference)], CAMERA, ["missing_border"])
    plain = measure_frames([MeasureFrame(base.depth, base.reference)], CAMERA, ["missing_border"])
    profile = stats.values["missing_border"]
    with np.errstate(invalid="ignore"):
        fraction = profile["missing"] / profile["pixels"]
    # left: 3 columns of 64, at 0.8, 2.3 and 3.9 % of the side: bands 0, 2, 3 (band 1 holds no column)
    assert profile["pixels"][0, 1] == 0 and np.nanmin(fraction[0, :4]) == 1.0 and fraction[0, 5] < 1
    assert np.nanmin(fraction[1, :4]) == 1.0  # right now the same
    assert compare(stats, plain).row("missing_border").distance > 0


def test_hole_sizes_tell_one_large_hole_from_many_small_ones():
    depth = plane(distance=2.0)
    big, small = depth.copy(), depth.copy()
    big[10:20, 10:20] = 0  # one hole of 100 px
    for k in range(25):  # 25 holes of 4 px: the same missing fraction
        r, c = 4 + 8 * (k // 5), 4 + 12 * (k % 5)
        small[r : r + 2, c : c + 2] = 0
    report = report_of([MeasureFrame(big)], [MeasureFrame(small)], camera_b=CAMERA)
    assert distance(report, "missing") == 0.0
    # W1 between point masses at log10(100/3072) and log10(4/3072), in decades (bins of 0.1)
    assert distance(report, "hole_sizes") == pytest.approx(math.log10(25), abs=0.1)
    stats = measure_frames([MeasureFrame(small)], CAMERA, ["hole_sizes"])
    assert int(stats.values["hole_sizes"]["holes"][0]) == 25


def test_shifted_depth_moves_the_depth_histogram_by_the_shift():
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.5, 6.0, (H, W)).astype(np.float32)
    report = report_of([MeasureFrame(depth + np.float32(0.5))], [MeasureFrame(depth)])
    assert distance(report, "depth_histogram") == pytest.approx(0.5, abs=1e-6)
    assert report.row("depth_histogram").generated - report.row("depth_histogram").real == pytest.approx(0.5, abs=1e-3)
    assert distance(report, "missing") == 0.0


def test_added_noise_raises_local_noise():
    depth = plane(normal=(0.3, 0.0, -1.0), distance=2.5)
    noisy = depth + np.random.default_rng(4).normal(0, 0.01, depth.shape).astype(np.float32)
    report = report_of([MeasureFrame(noisy)], [MeasureFrame(depth)])
    assert distance(report, "local_noise") > 2 * TOLERANCES["local_noise"]
    assert report.row("local_noise").generated > 5 * report.row("local_noise").real
    twice = report_of([MeasureFrame(noisy)], [MeasureFrame(noisy)])
    assert distance(twice, "local_noise") == 0.0


def test_quantised_depth_differs_from_unquantised_in_depth_steps():
    depth = plane(normal=(0.1, 0.0, -1.0), distance=2.5)  # gently slanted: neighbours differ by ~5 mm
    quantised = (np.round(depth / 0.02) * 0.02).astype(np.float32)  # 2 cm steps
    report = report_of([MeasureFrame(quantised)], [MeasureFrame(depth)])
    assert report.row("depth_steps").generated > 50  # most neighbours share a step
    assert report.row("depth_steps").real < 5
    assert distance(report, "depth_steps") > 45
    steps = measure_frames([MeasureFrame(quantised)], CAMERA, ["depth_steps"]).values["depth_steps"]["steps"]
    for z_bin in np.flatnonzero(steps.sum(axis=1)):  # every nonzero step is 20 mm: 20 / z^2 mm/m^2
        near, far = z_bin * 0.5, (z_bin + 1) * 0.5
        filled = np.flatnonzero(steps[z_bin])
        assert filled.min() >= int(20 / far**2 / 0.25) and filled.max() <= int(20 / near**2 / 0.25)


def _expected_angles(normal) -> np.ndarray:
    """Angle (degrees) between the plane normal and each interior pixel's viewing ray."""
    u = (np.arange(1, W - 1) + 0.5 - CAMERA.cx) / CAMERA.fx
    v = (np.arange(1, H - 1) + 0.5 - CAMERA.cy) / CAMERA.fy
    a, b = np.meshgrid(u, v)
    rays = np.stack([a, b, np.ones_like(a)], -1)
    n = np.asarray(normal) / np.linalg.norm(normal)
    return np.degrees(np.arccos(np.abs(rays @ n) / np.linalg.norm(rays, axis=-1)))


@pytest.mark.parametrize("normal", [(0.0, 0.0, -1.0), (0.8, 0.0, -1.0), (0.0, -0.6, -1.0)])
def test_normal_angles_follow_the_plane(normal):
    stats = measure_frames([MeasureFrame(plane(normal, 2.5))], CAMERA, ["normal_angle"])
    expected = np.bincount(np.minimum(_expected_angles(normal), 89).astype(int).ravel(), minlength=90)
    assert wasserstein_bins(stats.values["normal_angle"]["counts"], expected, 1.0) < 0.5


def test_a_tilted_plane_differs_from_a_fronto_parallel_one_in_normal_angle():
    tilted = plane((1.0, 0.0, -1.0), 2.5)  # 45 degrees about the vertical axis
    report = report_of([MeasureFrame(tilted)], [MeasureFrame(plane(distance=2.5))])
    assert distance(report, "normal_angle") > 20  # measured 24.9: the wide view spreads both sides
    assert report.row("normal_angle").generated > report.row("normal_angle").real + 20


def test_different_labels_differ_in_class_shares_by_their_total_variation():
    frame = room_frame()
    relabelled = frame.label13.copy()
    relabelled[relabelled == 12] = 1  # every wall pixel becomes bed
    wall = np.count_nonzero(frame.label13 == 12) / frame.label13.size
    report = report_of([MeasureFrame(frame.depth, frame.reference, relabelled)], [frame])
    assert distance(report, "class_shares") == pytest.approx(100 * wall)
    assert report.row("class_shares").generated == 0.0
    assert report.row("class_shares").real == pytest.approx(100 * wall)


def test_reference_measures_need_every_frame_and_class_shares_the_labelled_ones():
    full = room_frame()
    bare = MeasureFrame(full.depth)
    stats = measure_frames([full, bare], CAMERA)
    assert set(stats.measures) == set(MEASURES) - {"missing_by_depth", "missing_by_edge_distance"}
    assert stats.frames == 2
    labelled_only = measure_frames([full], CAMERA, ["class_shares"]).values["class_shares"]
    np.testing.assert_array_equal(stats.values["class_shares"]["pixels"], labelled_only["pixels"])
    assert stats.values["class_shares"]["frames"][0] == 1
    unlabelled = measure_frames([bare, bare], CAMERA)
    assert "class_shares" not in unlabelled.measures and "missing_by_depth" not in unlabelled.measures
    report = compare(measure_frames([full], CAMERA), unlabelled)
    assert set(report.left_out) == {"missing_by_depth", "missing_by_edge_distance", "class_shares"}
    assert len(report.rows) == len(MEASURES) - 3


def test_frames_are_summed_one_at_a_time():
    a, b = room_frame(0), room_frame(1)
    both = measure_frames(iter([a, b]), CAMERA)
    one, two = measure_frames([a], CAMERA), measure_frames([b], CAMERA)
    for name in MEASURES:
        for key, value in both.values[name].items():
            np.testing.assert_allclose(value, one.values[name][key] + two.values[name][key])


def test_float_depth_is_measured_in_whole_millimetres():
    room = room_frame()
    frame = MeasureFrame((np.round(room.depth * 1000) / 1000).astype(np.float32), room.reference, room.label13)
    jittered = np.where(frame.depth > 0, frame.depth + np.float32(0.0003), 0).astype(np.float32)
    report = report_of([MeasureFrame(jittered, frame.reference, frame.label13)], [frame])
    assert all(row.distance == 0.0 for row in report.rows), report.table()


def test_an_upscaled_frame_keeps_the_resolution_free_measures():
    frame = room_frame()
    big = Intrinsics.nyuv2().scaled(2 * W, 2 * H)
    up = MeasureFrame(np.repeat(np.repeat(frame.depth, 2, 0), 2, 1))
    report = report_of([up], [MeasureFrame(frame.depth)], camera=big, camera_b=CAMERA)
    for name in ("missing", "hole_sizes", "depth_histogram"):
        assert distance(report, name) == pytest.approx(0.0, abs=1e-12), name


def test_stats_survive_json_and_the_report_is_json_ready():
    frames = [room_frame(0), room_frame(1)]
    stats = measure_frames(frames, CAMERA)
    again = RealismStats.from_dict(json.loads(json.dumps(stats.to_dict(), allow_nan=False)))
    assert again.frames == 2 and again.size == (W, H) and again.intrinsics == stats.intrinsics
    report = compare(stats, again)
    assert report.score() == 0.0
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert [row["measure"] for row in data["rows"]] == list(MEASURES) and data["ok"] is True
    with pytest.raises(SynthcamError, match="not realism statistics"):
        RealismStats.from_dict({"frames": 1})


def test_score_sums_distance_over_tolerance_and_the_table_lists_every_row():
    base = room_frame()
    shifted = MeasureFrame(
        np.where(base.depth > 0, base.depth + 0.3, 0).astype(np.float32), base.reference + 0.3, base.label13
    )
    report = report_of([shifted], [base])
    expected = sum(row.distance / row.tolerance for row in report.rows)
    assert report.score() == pytest.approx(expected) and report.score() > 0
    assert report.score(["depth_histogram"]) == pytest.approx(
        distance(report, "depth_histogram") / TOLERANCES["depth_histogram"]
    )
    table = report.table().splitlines()
    assert table[0].split() == ["measure", "generated", "real", "distance", "tolerance", "ok"]
    assert len(table) == 2 + len(MEASURES)
    assert report.ok == all(row.ok for row in report.rows)
    with pytest.raises(SynthcamError, match="choose from"):
        report.score(["sharpness"])


def test_unknown_measures_and_frames_of_the_wrong_size_are_refused():
    with pytest.raises(SynthcamError, match="unknown realism measure.*missing_border"):
        measure_frames([room_frame()], CAMERA, ["sharpness"])
    with pytest.raises(SynthcamError, match="measure frames of one size"):
        measure_frames([MeasureFrame(np.ones((H, W + 1), np.float32))], CAMERA)


def test_wasserstein_on_bins_matches_scipy():
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 50, 40), rng.integers(0, 50, 40)
    centres = np.arange(40) * 0.25
    assert wasserstein_bins(a, b, 0.25) == pytest.approx(wasserstein_distance(centres, centres, a, b))
    assert math.isnan(wasserstein_bins(np.zeros(40), b, 0.25))


def test_real_nyuv2_raw_frames_against_themselves_are_at_distance_zero(real_data):
    from synthcam.realism.sources import real_source
    from synthcam_core.real_frames import open_real_folder

    source = real_source(open_real_folder(real_data / "nyuv2_train", "raw", "nyuv2"))
    assert source.count == 2 and source.has_reference
    stats = measure_frames(source, source.intrinsics)
    report = compare(stats, measure_frames(source, source.intrinsics))
    assert len(report.rows) == len(MEASURES) - 1  # no labels asked for
    assert all(row.distance == 0.0 for row in report.rows)
    assert 23 < report.row("missing").real < 26  # the README: 23-26 % missing, borders included


def test_a_filled_folder_is_its_own_reference(real_data):
    from synthcam_core.real_frames import open_real_folder

    filled = open_real_folder(real_data / "nyuv2_train", "filled", "nyuv2")
    frame = next(filled.frames())
    assert filled.has_reference and frame.reference is frame.depth
    raw = open_real_folder(real_data / "sunrgbd_kv2", "raw", "sunrgbd_kv2")
    assert raw.has_reference and next(raw.frames()).reference is not None  # every raw frame has its filled partner
