"""Noise files: round trip, strict reading (each bad case one error line), and ``generate --noise-file``
giving the same shard bytes as the equivalent ``--noise/--noise-param`` flags."""

import json

import h5py
import pytest

from synthcam.noise_file import (
    MAX_NOISE_FILE_BYTES,
    NoiseFile,
    noise_file_text,
    read_noise_file,
    write_noise_file,
    written_by_synthcam,
)
from synthcam_core.errors import SynthcamError

GOOD = "# a sensor\npreset: kinect_v1\nparams:\n  range.z_max: 7.25\n  incidence.theta0_deg: 66\n"
TINY = [
    "--rooms",
    "1",
    "--frames-per-room",
    "2",
    "--resolution",
    "64x48",
    "--seed",
    "3",
    "--renderer",
    "raycast",
    "--workers",
    "1",
]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_round_trip(tmp_path, suffix):
    noise = NoiseFile(
        "kinect_v2",
        {"range.z_max": 6.5, "flying.probability": 0.25},
        {"real": "/data/x", "distance_before": 3.5, "distance_after": 1.25, "params": ["range.z_max"]},
    )
    path = tmp_path / f"n{suffix}"
    write_noise_file(path, noise, comment="written by a test\nsecond line")
    assert read_noise_file(path) == noise
    assert written_by_synthcam(path)
    text = path.read_text()
    assert text == noise_file_text(noise, suffix, "written by a test\nsecond line")
    assert text.startswith("# written by a test\n# second line\n") == (suffix != ".json")
    if suffix == ".json":
        assert json.loads(text)["params"] == {"range.z_max": 6.5, "flying.probability": 0.25}
    hand = read_noise_file(write(tmp_path, "hand.yaml", GOOD))
    assert hand == NoiseFile("kinect_v1", {"range.z_max": 7.25, "incidence.theta0_deg": 66.0})
    assert isinstance(hand.params["incidence.theta0_deg"], float)  # as --noise-param gives it
    assert hand.model().stages["range"].z_max == 7.25 and not written_by_synthcam(tmp_path / "hand.yaml")
    assert read_noise_file(write(tmp_path, "bare.yaml", "preset: none\n")) == NoiseFile("none", {})
    assert read_noise_file(write(tmp_path, "nullp.yaml", "preset: d435\nparams:\n")) == NoiseFile("d435", {})


BAD = [
    ("n.txt", "preset: kinect_v1\n", [".yaml, .yml or .json", "rename"]),
    ("n.yaml", "preset: kinect_v1\nparams: {a: 1\n", ["not valid YAML", "line", "fix the syntax"]),
    ("n.json", '{"preset": "kinect_v1",}', ["not valid JSON", "line 1"]),
    ("n.yaml", "- kinect_v1\n", ["must be a mapping", "'preset'"]),
    ("n.yaml", "", ["must be a mapping"]),
    ("n.yaml", "preset: kinect_v1\nparam:\n  range.z_max: 5\n", ["unknown top-level key", "'param'", "'params'"]),
    ("n.yaml", "params: {range.z_max: 5}\n", ["needs 'preset'", "kinect_v1"]),
    ("n.yaml", "preset: 5\n", ["needs 'preset'", "got 5"]),
    ("n.yaml", "preset: kinect_v9\n", ["unknown noise preset 'kinect_v9'", "valid presets", "kinect_v2"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  rnage.z_max: 5\n", ["unknown parameter 'rnage.z_max'", "range.z_max"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  range.zmax: 5\n", ["unknown parameter 'range.zmax'", "valid parameters"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  range.z_max: far\n", ["'range.z_max' needs a number", "'far'"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  range.z_max: true\n", ["'range.z_max' needs a number"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  range.z_max: .nan\n", ["finite number"]),
    ("n.json", '{"preset": "kinect_v1", "params": {"range.z_max": Infinity}}', ["finite number"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  range.z_max: 0.1\n", ["range.z_max=0.1", "z_min < z_max"]),
    ("n.yaml", "preset: kinect_v1\nparams: [1, 2]\n", ["'params' must map"]),
    ("n.yaml", "preset: kinect_v1\nparams:\n  5: 1\n", ["parameter name 5 is not text"]),
    ("n.yaml", "preset: kinect_v1\nfit: yes\n", ["'fit' must be a mapping"]),
    ("n.yaml", "preset: kinect_v1\npreset: kinect_v2\n", ["'preset' twice", "keep only one"]),
    ("n.json", '{"preset": "kinect_v1", "preset": "none"}', ["'preset' twice"]),
    (
        "n.yaml",
        "preset: kinect_v1\nparams:\n  range.z_max: &z 5\n  range.z_min: *z\n",
        ["YAML alias", "line 4", "not allowed in noise files"],
    ),
    ("n.yaml", "preset: kinect_v1\nfit: " + "[" * 5000 + "]" * 5000 + "\n", ["too deeply"]),
    ("n.yaml", b"preset: \xff\xfe\n", ["not UTF-8"]),
    ("n.yaml", "preset: kinect_v1\n#" + "x" * MAX_NOISE_FILE_BYTES + "\n", ["larger than 64 KiB"]),
]


@pytest.mark.parametrize("name,text,fragments", BAD)
def test_bad_noise_files_are_refused_naming_the_file(tmp_path, name, text, fragments):
    path = write(tmp_path, name, text)
    with pytest.raises(SynthcamError) as info:
        read_noise_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert not written_by_synthcam(path)


def test_missing_file_and_directory(tmp_path):
    for path in (tmp_path / "nope.yaml", tmp_path / "dir.yaml"):
        if path.name == "dir.yaml":
            path.mkdir()
        with pytest.raises(SynthcamError, match="does not exist or is not a file"):
            read_noise_file(path)


def shard_bytes(out):
    return (out / "room_00000.h5").read_bytes()


def test_generate_with_noise_file_equals_the_flags_and_repeats_its_bytes(cli, tmp_path):
    noise = write(
        tmp_path,
        "sensor.yaml",
        "preset: kinect_v2\nparams:\n  range.z_max: 3.0\n  flying.probability: 0.9\nfit: {real: somewhere}\n",
    )
    runs = {
        "file": ["--noise-file", noise],
        "file_again": ["--noise-file", noise, "--noise", "kinect_v2"],  # an equal --noise is allowed
        "flags": ["--noise", "kinect_v2", "--noise-param", "flying.probability=0.9", "--noise-param", "range.z_max=3"],
        "default": [],
    }
    for name, extra in runs.items():
        result = cli("generate", *TINY, "--out", tmp_path / name, *extra)
        assert result.exit_code == 0, result.output
    assert shard_bytes(tmp_path / "file") == shard_bytes(tmp_path / "file_again") == shard_bytes(tmp_path / "flags")
    assert (tmp_path / "file" / "manifest.json").read_bytes() == (tmp_path / "flags" / "manifest.json").read_bytes()
    assert shard_bytes(tmp_path / "file") != shard_bytes(tmp_path / "default")
    with h5py.File(tmp_path / "file" / "room_00000.h5", "r") as f:
        config = json.loads(f.attrs["config"])
        described = json.loads(f.attrs["noise"])
    assert config["noise"] == "kinect_v2" and config["noise_params"] == {"range.z_max": 3.0, "flying.probability": 0.9}
    assert described["stages"]["range"]["z_max"] == 3.0 and "sensor.yaml" not in json.dumps(config)


def test_noise_param_overrides_the_file(cli, tmp_path):
    noise = write(tmp_path, "sensor.yaml", "preset: kinect_v1\nparams:\n  range.z_max: 3.0\n  jitter.sigma_px: 0.2\n")
    over = cli("generate", *TINY, "--out", tmp_path / "over", "--noise-file", noise, "--noise-param", "range.z_max=6")
    flags = cli(
        "generate",
        *TINY,
        "--out",
        tmp_path / "flags",
        "--noise-param",
        "jitter.sigma_px=0.2",
        "--noise-param",
        "range.z_max=6",
    )
    assert over.exit_code == 0 and flags.exit_code == 0, (over.output, flags.output)
    assert shard_bytes(tmp_path / "over") == shard_bytes(tmp_path / "flags")


def test_generate_noise_file_errors(cli, tmp_path, one_line_error):
    noise = write(tmp_path, "sensor.yaml", "preset: kinect_v1\nparams:\n  range.z_max: 3.0\n")
    one_line_error(
        cli("generate", *TINY, "--out", tmp_path / "a", "--noise-file", noise, "--noise", "kinect_v2"),
        "--noise kinect_v2 disagrees with --noise-file",
        "sensor.yaml",
        "kinect_v1",
    )
    one_line_error(
        cli("generate", *TINY, "--out", tmp_path / "b", "--noise-file", tmp_path / "missing.yaml"),
        "missing.yaml",
        "does not exist",
    )
    bad = write(tmp_path, "bad.yaml", "preset: kinect_v1\nparams:\n  speckle.sigma: 1\n")
    one_line_error(
        cli("generate", *TINY, "--out", tmp_path / "c", "--noise-file", bad),
        "bad.yaml",
        "unknown parameter 'speckle.sigma'",
        "valid parameters",
    )
    one_line_error(
        cli("generate", *TINY, "--out", tmp_path / "d", "--noise-file", noise, "--noise-param", "range.zz=1"),
        "unknown parameter 'range.zz'",
    )
    field = write(
        tmp_path, "field.yaml", "preset: kinect_v1\nparams:\n  range.zmax: 6\n"
    )  # a known stage, no such field
    one_line_error(
        cli("generate", *TINY, "--out", tmp_path / "e", "--noise-file", field),
        "field.yaml",
        "unknown parameter 'range.zmax'",
        "range.z_max",
    )
    assert not any((tmp_path / d).exists() for d in "abcde")
