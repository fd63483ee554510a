"""Config files: ``generate``/``train --config FILE``, the config.yaml every run writes, and the camera option."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_bytes_pinned import dataset_hashes

from synthcam.generate_config import GenerateConfig, camera_at
from synthcam_core.camera import Intrinsics
from synthcam_core.config_file import CONFIG_NAME, is_written_config

GEN = [
    "--rooms",
    "2",
    "--frames-per-room",
    "2",
    "--resolution",
    "64x48",
    "--renderer",
    "raycast",
    "--seed",
    "3",
    "--workers",
    "1",
    "--quiet",
]
TRAIN_YAML = """\
dataset: synthetic
synthetic_frames: 8
model: segnet-basic
model_width: 0.125
height: 24
width: 32
batch_size: 4
epochs: 1
depth_jitter: 0.1  # no option: only a file sets it
"""


def test_generate_from_a_config_file_then_from_its_written_config_gives_the_same_bytes(cli, tmp_path):
    spec = tmp_path / "gen.yaml"
    spec.write_text(
        "rooms: 2\nframes_per_room: 2\nwidth: 64\nheight: 48\nrenderer: raycast\nseed: 3\n"
        "noise_params: {disparity.sigma_units: 0.4}\nroom_types: [office, bedroom]\n"
    )
    first, again, flags = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert cli("generate", "--config", spec, "--workers", "1", "--quiet", "--out", first).exit_code == 0
    written = first / CONFIG_NAME
    assert is_written_config(written) and "sigma_units: 0.4" in written.read_text()
    assert cli("generate", "--config", written, "--workers", "1", "--quiet", "--out", again).exit_code == 0
    assert dataset_hashes(first) == dataset_hashes(again)  # shards, manifest.json and config.yaml
    result = cli(
        "generate",
        *GEN,
        "--noise-param",
        "disparity.sigma_units=0.4",
        "--room-type",
        "office",
        "--room-type",
        "bedroom",
        "--out",
        flags,
    )
    assert result.exit_code == 0, result.output
    assert dataset_hashes(flags) == dataset_hashes(first)  # the same settings as flags


def test_flags_override_the_file_and_the_defaults_keep_the_pinned_bytes(cli, tmp_path):
    from test_bytes_pinned import PINNED

    spec = tmp_path / "gen.yaml"
    spec.write_text("rooms: 2\nframes_per_room: 3\nwidth: 64\nheight: 48\nrenderer: raycast\nseed: 99\n")
    out = tmp_path / "out"
    result = cli("generate", "--config", spec, "--seed", "3", "--workers", "1", "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    got = dataset_hashes(out)
    assert {name: got[name] for name in PINNED} == PINNED  # seed 3 as pinned: the flag won, the bytes are as before
    assert "seed: 3\n" in (out / CONFIG_NAME).read_text() and "camera: nyuv2" in (out / CONFIG_NAME).read_text()


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("rooms: 1\nframes_per_room: 1\ncolour: red\n", ("unknown key 'colour'", "frames_per_room")),
        ("rooms: two\nframes_per_room: 1\n", ("rooms must be an integer", "'two'")),
        ("rooms: 0\nframes_per_room: 1\n", ("rooms must be at least 1",)),
        ("rooms: 1\nframes_per_room: 1\nrenderer: gpu\n", ("unknown renderer 'gpu'",)),
        ("rooms: 1\nframes_per_room: 1\nseed: 1e3\n", ("seed must be an integer", "as text")),
        ("rooms: 1\nframes_per_room: 1\nroom_types: office\n", ("room_types must be a list of strings",)),
        ("rooms: 1\nframes_per_room: 1\ncamera: kinect\n", ("unknown camera 'kinect'", "sunrgbd_kv2")),
        ("rooms: 1\nframes_per_room: 1\ncamera_intrinsics: [1, 2]\n", ("camera_intrinsics", "4 numbers")),
        ("rooms: 1\nframes_per_room: 1\ninputs: {}\n", ("unknown key 'inputs'",)),
        ("rooms: 1\nframes_per_room: 6\nframe_rate: 3\n", ("frame-rate 3.0 Hz", "25, 12.5, 5, 2.5")),
        ("rooms: 1\nframes_per_room: 6\nframe_rate: fast\n", ("frame_rate must be a number",)),
        ("rooms: 1\nframes_per_room: 6\nclip_length: 4\n", ("not a multiple of clip-length 4",)),
        ("rooms: 1\nframes_per_room: 6\nclip_length: 1.5\n", ("clip_length must be an integer",)),
        ("rooms: 1\nframes_per_room: 6\nflow: 1\n", ("flow must be true or false",)),
        ("- 1\n- 2\n", ("must be a YAML mapping",)),
        ("a: &x 1\nb: *x\n", ("alias",)),
        ("rooms: 1\nrooms: 2\n", ("twice",)),
    ],
)
def test_a_bad_generate_config_is_one_line_naming_file_and_key(cli, one_line_error, tmp_path, text, fragments):
    spec = tmp_path / "gen.yaml"
    spec.write_text(text)
    one_line_error(cli("generate", "--config", spec, "--out", tmp_path / "out"), str(spec), *fragments)
    assert not (tmp_path / "out").exists()


def test_config_file_limits(cli, one_line_error, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\n")
    one_line_error(cli("generate", "--config", big, "--out", tmp_path / "o"), "larger than 1 MiB")
    one_line_error(cli("generate", "--config", tmp_path / "none.yaml", "--out", tmp_path / "o"), "does not exist")
    one_line_error(cli("generate", "--frames-per-room", "1", "--out", tmp_path / "o"), "--rooms", "--config")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe rooms")
    one_line_error(cli("generate", "--config", binary, "--out", tmp_path / "o"), "not UTF-8")


def test_a_config_yaml_synthcam_did_not_write_is_never_replaced(cli, one_line_error, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / CONFIG_NAME).write_text("rooms: 1\n")
    one_line_error(cli("generate", *GEN, "--out", out), "config.yaml", "move it away")
    assert (out / CONFIG_NAME).read_text() == "rooms: 1\n" and sorted(p.name for p in out.iterdir()) == [CONFIG_NAME]


def test_camera_option_and_aspect_ratio(cli, one_line_error, tmp_path):
    nyu = Intrinsics.nyuv2()
    assert GenerateConfig(1, 1, width=64, height=48).intrinsics == nyu.scaled(64, 48)  # 4:3: resampled, as always
    wide = GenerateConfig(1, 1, width=640, height=360).intrinsics  # 16:9: cropped, never stretched
    assert (wide.fx, wide.fy, wide.cx) == (nyu.fx, nyu.fy, nyu.cx) and wide.cy == pytest.approx(nyu.cy - 60)
    kv2 = camera_at(Intrinsics(730, 530, 529.5, 529.5, 365.0, 265.0), 640, 480)
    assert kv2.fx == kv2.fy and (kv2.cx, kv2.cy) == pytest.approx((320.0, 240.0))
    assert GenerateConfig(1, 1, camera="sunrgbd_kv2").intrinsics == kv2
    assert "camera" not in GenerateConfig(1, 1).to_dict()  # stored configs (and bytes) as before the option
    assert GenerateConfig(1, 1, camera="sunrgbd_kv2").to_dict()["camera"] == "sunrgbd_kv2"
    own = GenerateConfig(1, 1, width=64, height=48, camera_intrinsics=(50.0, 50.0, 32.0, 24.0)).intrinsics
    assert (own.fx, own.fy, own.cx, own.cy) == (50.0, 50.0, 32.0, 24.0)
    result = cli(
        "generate",
        "--rooms",
        "1",
        "--frames-per-room",
        "1",
        "--resolution",
        "64x48",
        "--renderer",
        "raycast",
        "--camera",
        "sunrgbd_kv2",
        "--quiet",
        "--out",
        tmp_path / "kv2",
    )
    assert result.exit_code == 0, result.output
    assert "camera: sunrgbd_kv2" in (tmp_path / "kv2" / CONFIG_NAME).read_text()
    base = ("generate", "--rooms", "1", "--frames-per-room", "1", "--out", tmp_path / "x")
    one_line_error(cli(*base, "--camera", "kinect"), "unknown camera 'kinect'", "nyuv2")
    one_line_error(cli(*base, "--intrinsics", "nyuv2"), "--camera nyuv2")
    one_line_error(cli(*base, "--intrinsics", "1,2,3"), "fx,fy,cx,cy")
    one_line_error(cli(*base, "--intrinsics", "5,5,3,3"), "do not fit 640x480")
    one_line_error(cli(*base, "--camera", "sunrgbd_kv2", "--intrinsics", "500,500,320,240"), "one of --camera")


def _weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)["model"]


@pytest.mark.usefixtures("one_torch_thread")
def test_train_from_a_config_file_then_from_its_written_config_gives_the_same_weights(cli, tmp_path):
    from segnet.config import TrainConfig

    spec = tmp_path / "train.yaml"
    spec.write_text(TRAIN_YAML)
    first, again = tmp_path / "r1", tmp_path / "r2"
    result = cli("train", "--config", spec, "--quiet", "--out", first)
    assert result.exit_code == 0, result.output
    written = first / CONFIG_NAME
    assert is_written_config(written) and "depth_jitter: 0.1\n" in written.read_text()
    assert cli("train", "--config", written, "--quiet", "--out", again).exit_code == 0
    a, b = _weights(first), _weights(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    history = [torch.load(r / "last.pt", map_location="cpu", weights_only=True)["history"] for r in (first, again)]
    assert [{k: v for k, v in h.items() if not k.endswith("_s") and "img_per" not in k} for h in history[0]] == [
        {k: v for k, v in h.items() if not k.endswith("_s") and "img_per" not in k} for h in history[1]
    ]
    assert written.read_text() == (again / CONFIG_NAME).read_text()
    saved = TrainConfig.from_dict(torch.load(first / "last.pt", map_location="cpu", weights_only=True)["config"])
    assert saved == dataclasses.replace(
        TrainConfig(),
        dataset="synthetic",
        synthetic_frames=8,
        model="segnet-basic",
        model_width=0.125,
        height=24,
        width=32,
        batch_size=4,
        epochs=1,
        depth_jitter=0.1,
    )


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("lr: abc\n", ("lr must be a number", "'abc'")),
        ("lr: 100\n", ("lr must be a finite number",)),
        ("scale_range: [1]\n", ("scale_range must be a list of 2 numbers",)),
        ("augment: 1\n", ("augment must be true or false",)),
        ("optimiser: sgd\n", ("unknown key 'optimiser'", "optimizer")),
        ("encoding: RGB\n", ("encoding",)),
    ],
)
def test_a_bad_train_config_is_one_line_naming_file_and_key(cli, one_line_error, tmp_path, text, fragments):
    spec = tmp_path / "train.yaml"
    spec.write_text(text)
    one_line_error(cli("train", "--config", spec, "--out", tmp_path / "run"), str(spec), *fragments)
    assert not (tmp_path / "run").exists()


def test_train_flags_override_the_file_and_resume_takes_no_config(cli, one_line_error, tmp_path):
    spec = tmp_path / "train.yaml"
    spec.write_text("dataset: synthetic\nlr: 100\n")  # the flag replaces the file's bad value
    one_line_error(cli("train", "--config", spec, "--lr", "nan", "--out", tmp_path / "r"), "lr must be a finite")
    assert str(spec) not in one_line_error(cli("train", "--config", spec, "--lr", "0", "--out", tmp_path / "r"), "lr")
    one_line_error(cli("train", "--config", spec, "--resume", "--out", tmp_path / "r"), "--resume", "--config")
    run = tmp_path / "mine"
    run.mkdir()
    (run / CONFIG_NAME).write_text("lr: 0.1\n")
    one_line_error(cli("train", "--dataset", "synthetic", "--out", run), "config.yaml", "move it away")


def test_train_config_is_frozen_and_options_take_its_defaults():
    from click.testing import CliRunner

    from cli.main import main
    from segnet.config import TrainConfig

    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().lr = 1.0  # type: ignore[misc]
    text = CliRunner().invoke(main, ["train", "--help"], terminal_width=200).output
    for option, default in (
        ("--epochs", TrainConfig.epochs),
        ("--batch-size", TrainConfig.batch_size),
        ("--lr", TrainConfig.lr),
        ("--encoding", TrainConfig.encoding),
    ):
        line = next(line for line in text.splitlines() if line.strip().startswith(option))
        assert f"[default: {default}]" in line or f"default: {default}" in text, (option, line)
    assert "[D|DH|DHA|HHA]" in text and "[adamw|sgd]" in text and "[13|37|40]" in text


def test_choice_lists_equal_their_registries():
    import noise_models
    from cli import choices
    from scene_library.rooms import ROOM_TYPES
    from segnet.encodings import CAMERA_HEIGHTS, ENCODINGS
    from segnet.models import MODELS
    from synthcam.render import RENDERERS
    from synthcam_core.real_frames import CAMERAS, KINDS
    from synthcam_core.sample import CLASS_SPACES

    assert choices.NOISE_PRESETS == tuple(noise_models.PRESETS)
    assert choices.RENDERERS == tuple(RENDERERS) and choices.ROOM_TYPES == tuple(ROOM_TYPES)
    assert choices.CAMERAS == tuple(CAMERAS) and choices.REAL_KINDS == tuple(KINDS)
    assert choices.ENCODINGS == tuple(ENCODINGS) and choices.CAMERA_HEIGHTS == tuple(CAMERA_HEIGHTS)
    assert choices.MODELS == tuple(MODELS) and choices.CLASS_SPACES == tuple(CLASS_SPACES)


def test_json_dash_is_standard_output_on_every_report(cli, tmp_path):
    import json

    result = cli("scenes", "stats", "--per-type", "1", "--resolution", "32x24", "--quiet", "--json", "-")
    assert result.exit_code == 0, result.output
    assert "total" in json.loads(result.stdout) and "total variation distance" in result.stderr
