"""``synthcam noise fit``: it recovers a known parameter from frames generated with it, the same inputs
give the same noise file, the objective is deterministic, and every bad input is one error line."""

from pathlib import Path

import cv2
import numpy as np
import pytest

import noise_models
from synthcam.fit_frames import render_clean_frames
from synthcam.noise_file import read_noise_file
from synthcam.noise_fit import FIT_PARAMS, FitParam, parse_fit_params
from synthcam.noise_objective import apply_noise
from synthcam_core.errors import SynthcamError
from synthcam_core.real_frames import CAMERAS

SIZE = (160, 120)
TRUE_Z_MAX = 3.5


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    """A "real" folder: kinect_v1 frames with range.z_max = 3.5 m, raw depth with the clean depth as its
    filled partner, uint16 millimetre PNGs. The views are the fit's own (seed 0, 2 rooms x 2 frames), so
    scene content cannot pull the fit away from the truth; the noise draws are not the fit's."""
    folder = tmp_path_factory.mktemp("real")
    camera = CAMERAS["nyuv2"].scaled(*SIZE)
    model = noise_models.make("kinect_v1", {"range.z_max": TRUE_Z_MAX})
    frames = render_clean_frames(camera, 2, 2, seed=0, normals=model.needs_normals, incidence=model.needs_incidence)
    for i, frame in enumerate(frames):
        raw = model(frame, np.random.default_rng(100 + i))
        for suffix, depth in (("raw", raw), ("depth", frame.depth)):
            cv2.imwrite(str(folder / f"{i:04d}_{suffix}.png"), np.rint(depth * 1000).astype(np.uint16))
    return folder


def fit_args(real_dir, out, *extra):
    return (
        "noise",
        "fit",
        "--real",
        real_dir,
        "--preset",
        "kinect_v1",
        "--intrinsics",
        "nyuv2",
        "--out",
        out,
        "--rooms",
        "2",
        "--frames-per-room",
        "2",
        *extra,
    )


def test_fit_recovers_the_range_gate(cli, real_dir, tmp_path):
    out = tmp_path / "sensor.yaml"
    result = cli(
        *fit_args(real_dir, out, "--param", "range.z_max=2:8", "--max-evals", "25", "--json", tmp_path / "fit.json")
    )
    assert result.exit_code == 0, result.output
    noise = read_noise_file(out)
    default = noise_models.make("kinect_v1").stages["range"].z_max
    assert abs(default - TRUE_Z_MAX) > 0.5  # the fit starts away from the truth
    assert noise.preset == "kinect_v1" and set(noise.params) == {"range.z_max"}
    assert abs(noise.params["range.z_max"] - TRUE_Z_MAX) < 0.25, noise.params
    fit = noise.fit
    assert fit["distance_after"] < fit["distance_before"] and fit["defaults"] == {"range.z_max": default}
    assert fit["bounds"] == {"range.z_max": [2.0, 8.0]} and fit["real"] == str(real_dir.resolve())
    assert 2 <= fit["evaluations"] <= 25
    assert "before (preset kinect_v1 defaults)" in result.output and "after (fitted)" in result.output
    assert "missing_by_depth" in result.output and f"wrote {out}" in result.output
    # The fitted file drives generate: used twice, it gives the same bytes.
    runs = []
    for name in ("g1", "g2"):
        result = cli(
            "generate",
            "--rooms",
            "1",
            "--frames-per-room",
            "2",
            "--resolution",
            "64x48",
            "--renderer",
            "raycast",
            "--noise-file",
            out,
            "--out",
            tmp_path / name,
        )
        assert result.exit_code == 0, result.output
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).glob("*")) if not p.name.startswith(".")})
    assert runs[0] == runs[1] and "room_00000.h5" in runs[0]
    import json

    data = json.loads((tmp_path / "fit.json").read_text())
    assert (
        data["params"] == noise.params
        and data["seconds"] > 0
        and data["after"]["score"] == pytest.approx(fit["distance_after"], rel=1e-5)
    )


def test_two_fits_write_identical_files_and_overwrite_only_their_own(cli, real_dir, tmp_path, one_line_error):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    args = (
        "--param",
        "range.z_max",
        "--param",
        "border.left",
        "--max-evals",
        "6",
        "--frames-per-room",
        "1",
        "--measures",
        "missing_border,missing",
    )
    for out in (a, b):
        result = cli(*fit_args(real_dir, out, *args))
        assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text().startswith("# written by synthcam noise fit")
    assert read_noise_file(a).fit["measures"] == ["missing", "missing_border"]
    one_line_error(cli(*fit_args(real_dir, a, *args)), "exists", "--overwrite")
    result = cli(*fit_args(real_dir, a, *args, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert a.read_bytes() == b.read_bytes()
    mine = tmp_path / "mine.yaml"
    mine.write_text("preset: kinect_v1\nparams:\n  range.z_max: 6\n")  # a noise file, but not one fit wrote
    for extra in ((), ("--overwrite",)):
        one_line_error(cli(*fit_args(real_dir, mine, *args, *extra)), "mine.yaml", "exists")
    assert mine.read_text() == "preset: kinect_v1\nparams:\n  range.z_max: 6\n"


def test_objective_draws_are_fixed_per_frame_and_stage(small_camera):
    frames = render_clean_frames(small_camera, 1, 1, seed=2, incidence=True)
    model = noise_models.make("kinect_v1")
    one, two = apply_noise(model, frames[0], 0, 5), apply_noise(model, frames[0], 0, 5)
    assert np.array_equal(one, two) and not np.array_equal(one, apply_noise(model, frames[0], 1, 5))
    gated = apply_noise(noise_models.make("kinect_v1", {"range.z_max": 3.0}), frames[0], 0, 5)
    # A lower gate only removes pixels: every other stage drew the same numbers.
    kept = gated > 0
    assert kept.sum() < (one > 0).sum() and np.array_equal(gated[kept], one[kept])


def test_fit_params_registry_and_specs():
    for preset, params in FIT_PARAMS.items():
        model = noise_models.make(preset)
        for p in params:
            stage, field = p.key.split(".")
            assert hasattr(model.stages[stage], field) and p.lo < p.hi, p
    assert parse_fit_params("kinect_v2") == FIT_PARAMS["kinect_v2"]
    assert parse_fit_params("kinect_v1", ["range.z_max=4:6", "jitter.sigma_px"]) == (
        FitParam("range.z_max", 4.0, 6.0),
        FitParam("jitter.sigma_px", 0.0, 2.0),
    )
    bad = [
        ("kinect_v9", [], "unknown noise preset"),
        ("none", [], "no registered fit parameters"),
        ("kinect_v1", ["range.zmax"], "is not a parameter of preset kinect_v1"),
        ("kinect_v2", ["flying.radius_px=1:3"], "whole numbers are not fitted"),
        ("kinect_v1", ["material.drop=0:1"], "not a real-valued parameter"),
        ("kinect_v1", ["shadow.side"], "no default bounds"),
        ("kinect_v1", ["range.z_max=5:3"], "LO < HI"),
        ("kinect_v1", ["range.z_max=a:b"], "LO:HI"),
        ("kinect_v1", ["range.z_max=5"], "LO:HI"),
        ("kinect_v1", ["range.z_max", "range.z_max=3:4"], "twice"),
    ]
    for preset, specs, fragment in bad:
        with pytest.raises(SynthcamError, match=fragment):
            parse_fit_params(preset, specs)


def test_fit_cli_errors(cli, real_dir, tmp_path, one_line_error):
    out = tmp_path / "o.yaml"
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "notes.txt").write_text("keep me")
    cases = [
        (("--real", empty), ("holds no raw depth PNGs",)),
        (("--real", tmp_path / "nope"), ("does not exist",)),
        (("--preset", "kinect_v9"), ("unknown noise preset 'kinect_v9'", "kinect_v2")),
        (("--preset", "none"), ("no registered fit parameters",)),
        (("--param", "range.zmax"), ("range.zmax", "not a parameter", "range.z_max")),
        (("--param", "range.z_max=9:3"), ("LO < HI",)),
        (("--out", tmp_path / "missing" / "o.yaml"), ("does not exist",)),
        (("--out", tmp_path / "notes.txt"), (".yaml, .yml or .json",)),
        (("--out", tmp_path / "notes.yaml"), ()),  # set up below: an existing non-noise file
        (("--out", tmp_path), ("is a directory",)),
        (("--intrinsics", "fast"), ("neither a camera name",)),
        (("--max-evals", "1"), ("--max-evals",)),
        (("--json", tmp_path / "missing" / "f.json"), ("--json", "does not exist")),
        (("--renderer", "magic"), ("--renderer",)),
        (("--measures", "missing,holes"), ("unknown realism measure", "'holes'", "hole_sizes")),
        (("--measures", "class_shares"), ("class_shares needs labels",)),
    ]
    (tmp_path / "notes.yaml").write_text("shopping: [milk]\n")
    for override, fragments in cases:
        options = dict(zip(["--real", "--preset", "--intrinsics", "--out"], [real_dir, "kinect_v1", "nyuv2", out]))
        extra = []
        for i in range(0, len(override), 2):
            if override[i] in options:
                options[override[i]] = override[i + 1]
            else:
                extra += override[i : i + 2]
        args = [
            "noise",
            "fit",
            *[x for kv in options.items() for x in kv],
            "--rooms",
            "1",
            "--frames-per-room",
            "1",
            *extra,
        ]
        for flags in ((), ("--overwrite",)) if override[1] == tmp_path / "notes.yaml" else ((),):
            one_line_error(cli(*args, *flags), *(fragments or ("notes.yaml", "exists")))
    assert not out.exists() and (tmp_path / "notes.yaml").read_text() == "shopping: [milk]\n"
    no_camera = cli("noise", "fit", "--real", real_dir, "--preset", "kinect_v1", "--out", out)
    one_line_error(no_camera, "no camera", "--intrinsics")
    one_line_error(cli("noise", "fit", "--real", real_dir, "--preset", "kinect_v1"), "--out")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "a_raw.png"), np.ones((48, 64), np.uint16))
    cv2.imwrite(str(mixed / "b_raw.png"), np.ones((60, 80), np.uint16))
    cv2.imwrite(str(mixed / "c_raw.png"), np.ones((60, 80), np.uint8))
    one_line_error(
        cli("noise", "fit", "--real", mixed, "--preset", "kinect_v1", "--intrinsics", "nyuv2", "--out", out),
        "c_raw.png",
        "8-bit",
    )
    (mixed / "c_raw.png").unlink()
    one_line_error(
        cli("noise", "fit", "--real", mixed, "--preset", "kinect_v1", "--intrinsics", "nyuv2", "--out", out),
        "mixes image sizes",
    )
    assert Path(out).exists() is False
