import json

import numpy as np
import pytest
from click.testing import CliRunner

import noise_models
from cli.main import main
from synthcam.noise_bench import (
    REFERENCES,
    check_edges,
    check_lattice,
    check_multipath,
    check_shadow,
    check_sigma,
    check_valid,
    corner_frame,
    format_report,
    plane_frame,
    preset_passed,
    run_conformance,
    step_frame,
)
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

SIZE = (320, 240)
CAM = Intrinsics.nyuv2().scaled(*SIZE)


@pytest.fixture(scope="module")
def results():
    return run_conformance(size=SIZE, seed=0)


def test_every_preset_passes_every_check(results):
    assert set(results) == set(noise_models.PRESETS) == set(REFERENCES)
    failures = [
        f"{name}.{r.check}: {r.summary}" for name, checks in results.items() for r in checks if r.passed is False
    ]
    assert not failures
    report = format_report(results)
    assert report.count("PASS  kinect_v1\n") == 1 and "FAIL" not in report


def test_canonical_scenes_are_exact():
    plane = plane_frame(CAM, 2.0)
    assert np.all(plane.depth == np.float32(2.0)) and np.allclose(plane.normals[..., 2], -1)
    tilted = plane_frame(CAM, 2.0, 60.0)
    x = (np.arange(CAM.width) + 0.5 - CAM.cx) / CAM.fx
    t = np.radians(60.0)
    expected = 2.0 * np.cos(t) / (np.cos(t) - x * np.sin(t))  # through (0, 0, 2), turned 60 deg
    row = tilted.depth[CAM.height // 2]
    assert np.allclose(row[expected > 0], expected[expected > 0], rtol=1e-5) and np.all(row[expected <= 0] == 0)
    step, (u0, u1, v0, v1) = step_frame(CAM, 1.0, 2.0)
    assert step.depth[(v0 + v1) // 2, (u0 + u1) // 2] == 1.0 and step.depth[0, 0] == 2.0
    corner = corner_frame(CAM, 2.0)
    row = corner.depth[CAM.height // 2]
    assert abs(row.max() - 2.0) < 0.02 and row[0] < 1.9 and row[-1] < 1.9  # the crease is the farthest point


def test_wrong_sigma_fails_the_sigma_check():
    rng = np.random.default_rng(0)
    good = check_sigma(noise_models.make("kinect_v1"), REFERENCES["kinect_v1"], CAM, rng)
    bad = check_sigma(noise_models.make("kinect_v1", {"disparity.sigma_units": 1.0}), REFERENCES["kinect_v1"], CAM, rng)
    assert good.passed and bad.passed is False
    assert all(r["sigma_mm"] > 1.3 * r["reference_mm"] for r in bad.rows if r["z_m"] >= 1.0)


def test_wrong_lattice_fails_the_lattice_check():
    rng = np.random.default_rng(0)
    assert (
        check_lattice(
            noise_models.make("kinect_v1", {"disparity.subpixel": 8.4}), REFERENCES["kinect_v1"], CAM, rng
        ).passed
        is False
    )
    assert check_lattice(noise_models.make("d435"), REFERENCES["d435"], CAM, rng).passed


def test_angle_shadow_edge_and_multipath_checks_can_fail():
    rng = np.random.default_rng(0)
    ref = REFERENCES["kinect_v1"]
    no_drop = noise_models.make("kinect_v1", {"incidence.theta0_deg": 88.0, "incidence.theta1_deg": 90.0})
    assert check_valid(no_drop, ref, CAM, rng).passed is False  # grazing pixels survive
    early = noise_models.make("kinect_v1", {"incidence.theta0_deg": 30.0, "incidence.theta1_deg": 50.0})
    assert check_valid(early, ref, CAM, rng).passed is False  # drops below 60 deg
    wide = noise_models.make("kinect_v1", {"shadow.baseline_m": 0.12})
    assert check_shadow(wide, ref, CAM, rng).passed is False
    mirrored = noise_models.make("kinect_v1", {"shadow.side": -1.0})
    assert check_shadow(mirrored, ref, CAM, rng).passed is False  # band on the wrong side
    assert check_edges(noise_models.make("none"), ref, CAM, rng).passed is False  # kinect_v1 expects edge holes
    assert check_edges(noise_models.make("kinect_v1"), REFERENCES["none"], CAM, rng).passed is False
    v2 = REFERENCES["kinect_v2"]
    assert check_multipath(noise_models.make("kinect_v2", {"multipath.gain": 0.0}), v2, CAM, rng).passed is False
    assert check_edges(noise_models.make("kinect_v2", {"flying.probability": 0.0}), v2, CAM, rng).passed is False


def test_bench_noise_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "noise.json"
    res = runner.invoke(
        main,
        ["bench", "noise", "--resolution", "320x240", "--preset", "kinect_v1", "--preset", "d435", "--json", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert "PASS  kinect_v1\n" in res.output and "PASS  d435\n" in res.output
    data = json.loads(out.read_text())
    assert data["kinect_v1"]["pass"] and data["d435"]["checks"]["lattice"]["passed"]
    res = runner.invoke(
        main,
        [
            "bench",
            "noise",
            "--resolution",
            "160x120",
            "--preset",
            "kinect_v1",
            "--noise-param",
            "disparity.sigma_units=1.0",
        ],
    )
    assert res.exit_code == 1 and "FAIL  kinect_v1 sigma" in res.output
    res = runner.invoke(main, ["bench", "noise", "--preset", "kinect_v9"])
    assert res.exit_code == 2 and "valid: none, kinect_v1" in res.output
    res = runner.invoke(main, ["bench", "noise", "--preset", "kinect_v1", "--noise-param", "disparity.sigma=1"])
    assert res.exit_code == 2 and "disparity.sigma_units" in res.output


def test_unknown_preset_is_refused():
    with pytest.raises(SynthcamError, match="valid: none"):
        run_conformance(["nope"], SIZE)
    assert preset_passed([]) is True


def test_shadow_check_measures_the_projector_band_with_a_window_stage():
    """kinect_v1_dots at the default 640x480: the window test widens holes next to the shadow and at the
    box's far edge by different amounts; the check leaves it out, and still fails a wrong projector."""
    cam = Intrinsics.nyuv2().scaled(640, 480)
    ref = REFERENCES["kinect_v1_dots"]
    rng = np.random.default_rng(0)
    good = check_shadow(noise_models.make("kinect_v1_dots"), ref, cam, rng)
    assert good.passed and "window stage left out" in good.summary
    assert abs(good.rows[0]["width_px"] - good.rows[0]["expected_px"]) <= 1.0
    for wrong in ({"shadow.baseline_m": 0.1}, {"shadow.side": -1.0}):
        assert check_shadow(noise_models.make("kinect_v1_dots", wrong), ref, cam, rng).passed is False
