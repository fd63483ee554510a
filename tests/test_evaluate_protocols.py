"""Evaluation protocols: the network at the training resolution (checked against resizing by hand),
native resolution, frame subsets, the real-folder dataset kind, and the height channel's source."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch

import segnet.train
from segnet.checkpoint import load_checkpoint, model_from_checkpoint
from segnet.config import TrainConfig
from segnet.encodings import encode
from segnet.eval_pictures import LEGEND_WIDTH
from segnet.eval_protocols import run_protocol
from segnet.evaluate import parse_frames
from segnet.metrics import confusion_matrix
from segnet.synthetic import SyntheticRooms
from segnet.train import train
from segnet.train_data import network_size, open_dataset
from synthcam_core.errors import SynthcamError
from synthcam_core.palette import class_colors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN_SIZE = (24, 32)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run trained at 32x24 for one epoch, as 'synthcam train' makes it."""
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        dataset="synthetic",
        synthetic_frames=8,
        model="segnet-basic",
        model_width=0.25,
        height=TRAIN_SIZE[0],
        width=TRAIN_SIZE[1],
        batch_size=4,
        encoding="DHA",
        classes=13,
        epochs=1,
        lr=5e-3,
        val_fraction=0.0,
        balance=False,
    )
    train(config, out, progress=False, log=lambda s: None)
    return out / "last.pt"


def write_folder(folder, size, frames=3, seed=3, gravity_file=True, labels=(13,)):
    """Frames of analytic rooms as a real folder: NAME_depth.png (mm), NAME_label13.png, intrinsics.yaml
    and (optionally) gravity.yaml with each frame's true down vector."""
    folder.mkdir()
    rooms = SyntheticRooms(frames, width=size[1], height=size[0], classes=13, seed=seed)
    lines = []
    for i in range(frames):
        s = rooms[i]
        cv2.imwrite(str(folder / f"f{i}_depth.png"), np.round(s["depth"][0].numpy() * 1000).astype(np.uint16))
        if 13 in labels:
            cv2.imwrite(str(folder / f"f{i}_label13.png"), s["label"].numpy().astype(np.uint8))
        g = s["gravity"].tolist()
        lines.append(f"f{i}: [{g[0]!r}, {g[1]!r}, {g[2]!r}]")
    k = rooms.intrinsics
    (folder / "intrinsics.yaml").write_text(f"fx: {k.fx!r}\nfy: {k.fy!r}\ncx: {k.cx!r}\ncy: {k.cy!r}\n")
    if gravity_file:
        (folder / "gravity.yaml").write_text("\n".join(lines) + "\n")
    return folder


def nearest(n_in: int, n_out: int) -> np.ndarray:
    return np.minimum(np.floor((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.int64), n_in - 1)


def by_hand(model, sample, size) -> torch.Tensor:
    """Resize depth (nearest, pixel centres) and intrinsics to ``size``, estimate the floor, run the
    network, take the arg max, resize the prediction back: every step written out here."""
    h, w = sample["label"].shape
    rows, cols = nearest(h, size[0]), nearest(w, size[1])
    depth = sample["depth"][0][rows][:, cols]
    fx, fy, cx, cy = (float(v) for v in sample["intrinsics"])
    sx, sy = size[1] / w, size[0] / h
    k = torch.tensor([[fx * sx, fy * sy, cx * sx, cy * sy]], dtype=torch.float32)
    x = encode("DHA", depth[None, None], k, sample["gravity"][None], torch.tensor([math.nan]))
    with torch.no_grad():
        pred = model(x).argmax(dim=1)[0] + 1
    return pred[nearest(size[0], h)][:, nearest(size[1], w)]


def test_network_size_keeps_the_training_aspect():
    assert network_size(480, 640, (240, 320)) == (240, 320)
    assert network_size(530, 730, (240, 320)) == (240, 331)  # zoom 240/530: the whole frame at the crops' scale
    assert network_size(600, 600, (240, 320)) == (320, 320)
    assert network_size(530, 730, (240, 320), keep_aspect=False) == (240, 320)  # runs without augmentation squashed


@pytest.mark.parametrize("size,expected", [((48, 64), (24, 32)), ((48, 80), (24, 40))])
def test_training_resolution_matches_resizing_by_hand(run, tmp_path, cli, size, expected):
    """A model trained at 32x24, evaluated on 64x48 and 80x48 frames: the train protocol's
    predictions are those of the input resized by hand; the JSON scores are those predictions'."""
    folder = write_folder(tmp_path / "real", size)
    state = load_checkpoint(run)
    config = TrainConfig.from_dict(state["config"])
    model = model_from_checkpoint(state, run)
    data = open_dataset("real", str(folder), "test", 13)
    assert network_size(*size, TRAIN_SIZE) == expected
    matrix = np.zeros((13, 13), dtype=np.int64)
    differs = 0
    for i in range(len(data)):
        s = data[i]
        gt, pred, full = run_protocol("train", model, config, [s], torch.device("cpu"))
        hand = by_hand(model, s, expected)
        assert pred.shape == (1, *size) and torch.equal(pred[0], hand)
        assert torch.equal(gt[0], s["label"])
        native = run_protocol("native", model, config, [s], torch.device("cpu"))[1]
        differs += int((native[0] != hand).sum())
        matrix += confusion_matrix(s["label"], hand, 13)
    assert differs > 0  # native resolution is another protocol, not the same numbers
    out = tmp_path / "scores.json"
    result = cli(
        "evaluate",
        "--checkpoint",
        run,
        "--dataset",
        "real",
        "--data",
        folder,
        "--classes",
        "13",
        "--batch-size",
        "1",
        "--json",
        out,
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["protocols"] == ["train"] and scores["frames"] == 3 and scores["real_depth"] == "filled"
    assert np.array_equal(np.asarray(scores["train"]["confusion"]), matrix)


def test_frame_subset_scores_only_those_frames(run, tmp_path, cli):
    folder = write_folder(tmp_path / "real", (48, 64))
    data = open_dataset("real", str(folder), "test", 13)
    state = load_checkpoint(run)
    model = model_from_checkpoint(state, run)
    matrix = sum(confusion_matrix(data[i]["label"], by_hand(model, data[i], TRAIN_SIZE), 13) for i in (2, 0))
    listing = tmp_path / "frames.txt"
    listing.write_text("# frames to score\n2\n0  # the first\n")
    for spec in ("2,0", f"@{listing}"):
        out = tmp_path / "subset.json"
        result = cli(
            "evaluate",
            "--checkpoint",
            run,
            "--dataset",
            "real",
            "--data",
            folder,
            "--classes",
            "13",
            "--frames",
            spec,
            "--json",
            out,
        )
        assert result.exit_code == 0, result.output
        scores = json.loads(out.read_text())
        assert scores["frames"] == 2 and scores["frame_indices"] == [2, 0]
        assert np.array_equal(np.asarray(scores["train"]["confusion"]), matrix)


def test_parse_frames():
    assert parse_frames("1,2,9") == (1, 2, 9)
    assert parse_frames(" 0, 5 ,3") == (0, 5, 3)
    for spec, fragment in (
        ("1,1", "twice"),
        ("a", "not a frame index"),
        ("-1", "not a frame index"),
        ("1.5", "not a frame index"),
        ("", "names no frames"),
        (",", "names no frames"),
        ("1" * 13, "not a frame index"),
    ):
        with pytest.raises(SynthcamError, match=fragment):
            parse_frames(spec)


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ("5", "frame 5 is out of range"),
        ("0,0", "twice"),
        ("one", "not a frame index"),
        ("", "names no frames"),
        ("@missing.txt", "does not exist"),
    ],
)
def test_bad_frames_are_one_line(run, tmp_path, cli, one_line_error, spec, fragment):
    folder = write_folder(tmp_path / "real", (48, 64))
    result = cli(
        "evaluate",
        "--checkpoint",
        run,
        "--dataset",
        "real",
        "--data",
        folder,
        "--classes",
        "13",
        "--frames",
        spec.replace("missing", str(tmp_path / "missing")),
    )
    one_line_error(result, "--frames", fragment)


def test_frames_file_too_large_or_binary_is_one_line(run, tmp_path, cli, one_line_error, monkeypatch):
    import segnet.evaluate

    monkeypatch.setattr(segnet.evaluate, "MAX_FRAMES_FILE_BYTES", 16)
    big = tmp_path / "big.txt"
    big.write_text("1\n" * 9)
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--frames", f"@{big}"), "larger than 16 bytes"
    )
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe1")
    one_line_error(cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--frames", f"@{binary}"), "not text")
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--frames", f"@{tmp_path}"), "is a directory"
    )


def test_frames_out_of_range_of_a_split_names_the_split(run, cli, one_line_error):
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--frames", "0,8"),
        "frame 8 is out of range",
        "synthetic dataset has 8 frames, indices 0..7",
    )


def test_real_only_options_are_refused_elsewhere(run, cli, one_line_error):
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--intrinsics", "nyuv2"),
        "--intrinsics applies to --dataset real only",
    )
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--gravity", "level"),
        "--gravity applies to --dataset real only",
    )
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--protocol", "full"), "--protocol", "train"
    )


def test_real_folder_errors_are_one_line(run, tmp_path, cli, one_line_error):
    folder = write_folder(tmp_path / "real", (48, 64))
    base = ("evaluate", "--checkpoint", run, "--dataset", "real", "--data", folder, "--classes", "13")
    one_line_error(cli(*base, "--real-depth", "raw"), "holds no raw depth PNGs")
    one_line_error(cli(*base, "--gravity", "nyuv2"), "not named by a NYUv2 frame number")
    unlabelled = write_folder(tmp_path / "unlabelled", (48, 64), labels=())
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "real", "--data", unlabelled, "--classes", "13"),
        "no filled depth frame with labels for 13 classes",
    )
    one_line_error(cli(*base, "--intrinsics", "1,2,3"), "neither a camera name")


def test_every_protocol_and_the_png_of_the_first(run, tmp_path, cli):
    folder = write_folder(tmp_path / "real", (48, 80), frames=2)
    out, preds = tmp_path / "all.json", tmp_path / "preds"
    result = cli(
        "evaluate",
        "--checkpoint",
        run,
        "--dataset",
        "real",
        "--data",
        folder,
        "--classes",
        "13",
        "--protocol",
        "all",
        "--json",
        out,
        "--predictions",
        preds,
    )
    assert result.exit_code == 0, result.output
    for title in ("training resolution (32x24)", "native resolution", "SceneNet protocol"):
        assert title in result.output
    scores = json.loads(out.read_text())
    assert (
        scores["train"]["pixels"]
        == scores["native"]["pixels"]
        == 2 * 48 * 80 - sum(int((open_dataset("real", str(folder), "", 13)[i]["label"] == 0).sum()) for i in range(2))
    )
    assert scores["scenenet224"]["pixels"] > scores["train"]["pixels"]  # scored at 224x224
    assert sorted(p.name for p in preds.iterdir()) == [
        "all_000000.png",
        "all_000001.png",
    ]  # a real folder is read whole
    image = cv2.imread(str(preds / "all_000000.png"))[..., ::-1]
    panels = 3 * 80 + 8
    assert image.shape[0] > 48 and image.shape[1] == max(panels, LEGEND_WIDTH)  # the legend strip below
    truth = open_dataset("real", str(folder), "", 13)[0]["label"].numpy()
    np.testing.assert_array_equal(image[:48, 80 + 4 + 80 + 4 : panels], class_colors(13)[truth])


def test_old_checkpoints_keep_the_true_camera_height(run, tmp_path, cli):
    """A checkpoint whose config predates the setting was trained with the true camera height."""
    state = torch.load(run, weights_only=True)
    assert state["config"]["camera_height"] == "estimated"
    del state["config"]["camera_height"], state["config"]["real_depth"]
    old = tmp_path / "old.pt"
    torch.save(state, old)
    assert load_checkpoint(old)["config"]["camera_height"] == "true"
    out = tmp_path / "old.json"
    assert cli("evaluate", "--checkpoint", old, "--dataset", "synthetic", "--json", out).exit_code == 0
    assert json.loads(out.read_text())["camera_height"] == "true"
    assert TrainConfig().camera_height == "estimated" and TrainConfig.from_dict({}).camera_height == "true"
    with pytest.raises(SynthcamError, match="choose one of estimated, true"):
        TrainConfig.from_dict({"camera_height": "guessed"})
    with pytest.raises(SynthcamError, match="choose one of filled, raw"):
        TrainConfig.from_dict({"real_depth": "inpainted"})


def test_training_options_reach_the_run(tmp_path, cli, monkeypatch, one_line_error):
    """--real-depth goes to the reader and --camera-height to the steps and the saved config."""
    seen = {}

    def opened(kind, path, split, classes, depth="noisy", **kw):
        seen.update(kw)
        raise SynthcamError("stop here")

    monkeypatch.setattr(segnet.train, "open_dataset", opened)
    mat = tmp_path / "nyu.mat"
    mat.write_bytes(b"")
    result = cli(
        "train", "--dataset", "nyuv2", "--data", mat, "--real-depth", "raw", "--quiet", "--out", tmp_path / "r"
    )
    assert result.exit_code == 2 and seen["real_depth"] == "raw", result.output
    one_line_error(
        cli("train", "--dataset", "synthetic", "--real-depth", "raw", "--out", tmp_path / "s"),
        "--real-depth applies to --dataset nyuv2, sunrgbd",
    )  # would be silently ignored
    monkeypatch.undo()
    result = cli(
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-frames",
        "4",
        "--model",
        "segnet-basic",
        "--model-width",
        "0.25",
        "--height",
        "24",
        "--width",
        "32",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--no-balance",
        "--camera-height",
        "true",
        "--quiet",
        "--out",
        tmp_path / "t",
    )
    assert result.exit_code == 0, result.output
    assert load_checkpoint(tmp_path / "t" / "last.pt")["config"]["camera_height"] == "true"
    assert json.loads((tmp_path / "t" / "config.json").read_text())["camera_height"] == "true"


@pytest.mark.parametrize("kind,filled,raw", [("nyuv2", "depths", "rawDepths"), ("sunrgbd", "depth_bfx", "depth")])
def test_real_depth_picks_the_reader_field(monkeypatch, kind, filled, raw):
    calls = []
    monkeypatch.setattr("segnet.datasets.make_dataset", lambda *a, **kw: calls.append(kw["depth"]))
    for choice in ("filled", "raw"):
        open_dataset(kind, "x", "test", 13, real_depth=choice)
    assert calls == [filled, raw]
    with pytest.raises(SynthcamError, match="choose one of filled, raw"):
        open_dataset(kind, "x", "test", 13, real_depth="inpainted")


def test_evaluate_takes_the_class_space_from_the_checkpoint(cli, tmp_path, one_line_error):
    """Without --classes the checkpoint's class count is used; a --classes that disagrees is one error line."""
    run = tmp_path / "run40"
    result = cli(
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-frames",
        "4",
        "--classes",
        "40",
        "--model",
        "segnet-basic",
        "--model-width",
        "0.25",
        "--height",
        "24",
        "--width",
        "32",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--no-balance",
        "--quiet",
        "--out",
        run,
    )
    assert result.exit_code == 0, result.output
    result = cli("evaluate", "--checkpoint", run / "last.pt", "--dataset", "synthetic", "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "e.json").read_text())["classes"] == 40
    one_line_error(
        cli("evaluate", "--checkpoint", run / "last.pt", "--dataset", "synthetic", "--classes", "13"),
        "predicts 40 classes",
        "--classes 40",
    )
