"""``synthcam evaluate`` as the other commands: --data, --json PATH or -, choices, --quiet; the run's
validation split (--split val) read from what the checkpoint recorded; no process-wide side effects."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from tiny_runs import tiny_config

from cli.evaluate import DATASET_CHOICES, SPLIT_CHOICES
from segnet.checkpoint import load_checkpoint
from segnet.config import TrainConfig
from segnet.evaluate import SPLITS, evaluate
from segnet.train import train
from segnet.train_data import EVAL_DATASETS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUIET = dict(progress=False, log=lambda s: None, tensorboard=False)


def tiny(**kw) -> TrainConfig:
    return tiny_config(**{**dict(dropout=0.3), **kw})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(tiny(), out, **QUIET)
    return out / "last.pt"


@pytest.fixture(scope="module")
def shard_run(tmp_path_factory):
    """Three rooms of two frames as shards, and a run on them that holds one shard out."""
    from click.testing import CliRunner

    from cli.main import main

    base = tmp_path_factory.mktemp("shards")
    data = base / "data"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--rooms",
            "3",
            "--frames-per-room",
            "2",
            "--resolution",
            "64x48",
            "--renderer",
            "raycast",
            "--workers",
            "1",
            "--out",
            str(data),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    train(tiny(dataset="shards", data=str(data), val_fraction=0.3, batch_size=2), base / "run", **QUIET)
    return data, base / "run" / "last.pt"


def test_the_choices_are_the_registries():
    assert DATASET_CHOICES == EVAL_DATASETS and SPLIT_CHOICES == SPLITS


def test_segnet_does_not_import_synthcam_and_evaluate_not_train():
    code = (
        "import sys, segnet.evaluate; print('segnet.train' in sys.modules); import segnet.train, segnet.checkpoint; "
        "print([m for m in sys.modules if m == 'synthcam' or m.startswith('synthcam.')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["False", "[]"]


def test_json_to_standard_output(run, cli):
    result = cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--json", "-", "--quiet")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)  # nothing but the JSON on standard output
    assert scores["classes"] == 13 and scores["encoding"] == "DH" and scores["split"] == "test"
    assert "class-avg acc" in result.stderr  # the tables went to standard error


def test_quiet_draws_no_progress_bar(run, cli):
    loud = cli("evaluate", "--checkpoint", run, "--dataset", "synthetic")
    quiet = cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", "--quiet")
    assert loud.exit_code == quiet.exit_code == 0
    assert "frames/s" in loud.stderr or "frames]" in loud.stderr
    assert quiet.stderr == ""


def test_data_and_its_former_name(run, cli, one_line_error, tmp_path):
    missing = tmp_path / "nowhere"
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "shards", "--data", missing), str(missing), "does not exist"
    )
    one_line_error(cli("evaluate", "--checkpoint", run, "--dataset", "shards", "--path", missing), str(missing))
    one_line_error(
        cli("evaluate", "--checkpoint", run, "--dataset", "shards", "--path", missing, "--data", missing),
        "--path",
        "--data",
    )
    one_line_error(cli("evaluate", "--checkpoint", run, "--dataset", "shards"), "--data")


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--dataset", "kitti"], "'kitti' is not one of"),
        (["--split", "dev"], "'dev' is not one of"),
        (["--classes", "12"], "'12' is not one of"),
    ],
)
def test_enumerations_list_their_choices(run, cli, one_line_error, args, fragment):
    one_line_error(cli("evaluate", "--checkpoint", run, "--dataset", "synthetic", *args), fragment)


def test_validation_split_of_the_synthetic_rooms(run, cli, tmp_path):
    state = load_checkpoint(run)
    preds = tmp_path / "preds"
    result = cli(
        "evaluate",
        "--checkpoint",
        run,
        "--dataset",
        "synthetic",
        "--split",
        "val",
        "--predictions",
        preds,
        "--json",
        tmp_path / "v.json",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "v.json").read_text())
    assert scores["split"] == "val" and scores["frames"] == len(state["data_split"]["val_frames"])
    assert sorted(p.name for p in preds.iterdir()) == [f"val_{i:06d}.png" for i in state["data_split"]["val_frames"]]
    history = state["history"][-1]  # the scores of training's validation pass, recomputed
    assert scores["train"]["miou"] == pytest.approx(history["val_miou"], abs=1e-9)
    assert scores["train"]["class_avg_acc"] == pytest.approx(history["val_class_avg_acc"], abs=1e-9)


def test_validation_shards_come_from_the_checkpoint(shard_run, cli, one_line_error, tmp_path):
    data, checkpoint = shard_run
    split = load_checkpoint(checkpoint)["data_split"]
    assert split["data"] == str(data.resolve()) and len(split["val_shards"]) == 1
    out = tmp_path / "val.json"
    result = cli("evaluate", "--checkpoint", checkpoint, "--dataset", "shards", "--split", "val", "--json", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["frames"] == 2 and scores["path"] == str(data.resolve()) and scores["split"] == "val"
    whole = evaluate(checkpoint, "shards", str(data), None)
    assert whole["frames"] == 6 and whole["split"] == "all"

    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    again = evaluate(checkpoint, "shards", str(moved), None, split="val")
    assert again["train"]["confusion"] == scores["train"]["confusion"]
    (moved / split["val_shards"][0]).unlink()
    (moved / "manifest.json").unlink(missing_ok=True)
    one_line_error(
        cli("evaluate", "--checkpoint", checkpoint, "--dataset", "shards", "--split", "val", "--data", moved),
        split["val_shards"][0],
        "validation shard",
    )
    one_line_error(
        cli("evaluate", "--checkpoint", checkpoint, "--dataset", "shards", "--split", "test", "--data", data),
        "no test split",
        "--split val",
    )
    one_line_error(
        cli("evaluate", "--checkpoint", checkpoint, "--dataset", "synthetic", "--split", "val"), "--dataset shards"
    )


def test_a_checkpoint_without_a_recorded_split(run, cli, one_line_error, tmp_path):
    state = torch.load(run, weights_only=True)
    del state["data_split"]
    old = tmp_path / "old.pt"
    torch.save(state, old)
    one_line_error(
        cli("evaluate", "--checkpoint", old, "--dataset", "synthetic", "--split", "val"), "records no validation split"
    )
    assert cli("evaluate", "--checkpoint", old, "--dataset", "synthetic", "--quiet").exit_code == 0


def test_evaluation_leaves_the_callers_generator_alone_and_repeats(run):
    torch.manual_seed(5)
    before = torch.get_rng_state().clone()
    first = evaluate(run, "synthetic", "", None, mc_samples=3)  # dropout samples
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(10)
    assert evaluate(run, "synthetic", "", None, mc_samples=3)["train"]["confusion"] == first["train"]["confusion"]
