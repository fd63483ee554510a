"""Training and evaluation end to end on tiny analytic rooms (CPU): CLI, resume, init, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from tiny_runs import tiny_config as shared_tiny_config

from cli.main import main
from segnet.checkpoint import init_from_checkpoint, load_checkpoint
from segnet.config import TrainConfig
from segnet.encodings import encode_batch
from segnet.models import make_model
from segnet.synthetic import SyntheticRooms
from segnet.train import train
from segnet.train_data import TrainView, median_frequency_weights, sample_groups, split_indices

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = [
    "--dataset",
    "synthetic",
    "--synthetic-frames",
    "16",
    "--model",
    "segnet-basic",
    "--model-width",
    "0.25",
    "--height",
    "24",
    "--width",
    "32",
    "--batch-size",
    "4",
    "--encoding",
    "DHA",
    "--classes",
    "13",
    "--quiet",
]


def tiny_config(**kw) -> TrainConfig:
    """The shared tiny run with DHA input, 2 epochs, dropout 0.2 and the default validation share."""
    return shared_tiny_config(**{**dict(encoding="DHA", epochs=2, dropout=0.2, val_fraction=0.1), **kw})


def test_cli_train_then_evaluate(tmp_path):
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", *TINY, "--epochs", "2", "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert "epoch 2/2" in res.output
    for name in ("last.pt", "best.pt", "curves.png", "config.json", "history.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").iterdir())  # TensorBoard event file
    state = load_checkpoint(run / "last.pt")
    assert {"model", "optimizer", "scheduler", "epoch", "config", "rng", "class_weights"} <= set(state)
    assert state["epoch"] == 2 and state["config"]["encoding"] == "DHA"
    history = json.loads((run / "history.json").read_text())
    assert {"data_wait_s", "compute_s", "val_class_avg_acc"} <= set(history[-1])

    out_json, preds = tmp_path / "eval.json", tmp_path / "preds"
    res = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--checkpoint",
            str(run / "best.pt"),
            "--dataset",
            "synthetic",
            "--classes",
            "13",
            "--protocol",
            "all",
            "--json",
            str(out_json),
            "--predictions",
            str(preds),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "SceneNet protocol" in res.output and "training resolution (32x24)" in res.output and "mIoU" in res.output
    result = json.loads(out_json.read_text())
    assert result["protocols"] == ["train", "native", "scenenet224"] and result["camera_height"] == "estimated"
    assert result["train"]["confusion"] == result["native"]["confusion"]  # synthetic frames come at the training size
    for protocol in ("train", "native", "scenenet224"):
        r = result[protocol]
        assert 0.0 <= r["global_acc"] <= 1.0 and "wall" in r["per_class"]
        assert np.asarray(r["confusion"]).shape == (13, 13)
    assert result["scenenet224"]["pixels"] > 0 and result["frames"] == 16
    assert len(list(preds.glob("*.png"))) == 16

    res = CliRunner().invoke(main, ["train", *TINY, "--epochs", "1", "--out", str(run)])
    assert res.exit_code == 2 and "--resume" in res.output  # refuses to overwrite a run


def test_resume_continues_identical_run(tmp_path):
    quiet = dict(progress=False, log=lambda s: None)
    train(tiny_config(), tmp_path / "straight", **quiet)
    train(tiny_config(), tmp_path / "split", stop_after=1, **quiet)
    assert load_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    train(tiny_config(), tmp_path / "split", resume=True, **quiet)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["history"][-1]["train_loss"] == b["history"][-1]["train_loss"]


def test_init_reinitialises_classifier_for_new_class_count(tmp_path):
    train(tiny_config(epochs=1, dropout=0.0), tmp_path / "src", progress=False, log=lambda s: None)
    source = load_checkpoint(tmp_path / "src" / "last.pt")["model"]
    torch.manual_seed(1)
    model = make_model("segnet-basic", 3, 40, width=0.25)
    reset = init_from_checkpoint(model, tmp_path / "src" / "last.pt")
    assert reset == ["classifier.weight", "classifier.bias"]
    own = model.state_dict()
    assert torch.equal(own["encoder.0.0.weight"], source["encoder.0.0.weight"])
    assert own["classifier.weight"].shape[0] == 40
    res = CliRunner().invoke(
        main,
        [
            "train",
            *TINY[:-3],
            "--classes",
            "40",
            "--epochs",
            "1",
            "--quiet",
            "--init",
            str(tmp_path / "src" / "last.pt"),
            "--out",
            str(tmp_path / "ft"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "re-initialised classifier.weight" in res.output
    wrong = make_model("segnet-basic", 3, 13, width=0.5)
    with pytest.raises(Exception, match="--init"):
        init_from_checkpoint(wrong, tmp_path / "src" / "last.pt")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--encoding", "RGB"], "DHA"),  # the valid names are listed
        (["--model", "unet"], "segnet-basic"),
        (["--classes", "12"], "37"),
        (["--dataset", "shards", "--data", "/nonexistent/shards"], "does not exist"),
        (["--dataset", "shards"], "--data"),
        (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(main, ["train", *TINY, *args, "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert res.output.strip().count("\n") == 0


def test_evaluate_rejects_class_mismatch_and_missing_checkpoint(tmp_path):
    train(tiny_config(epochs=1), tmp_path / "r", progress=False, log=lambda s: None)
    res = CliRunner().invoke(
        main, ["evaluate", "--checkpoint", str(tmp_path / "r" / "last.pt"), "--dataset", "synthetic", "--classes", "40"]
    )
    assert res.exit_code == 2 and "--classes 13" in res.output
    res = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--dataset", "synthetic"])
    assert res.exit_code == 2 and "does not exist" in res.output


class Labels(torch.utils.data.Dataset):
    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"label": torch.as_tensor(self.labels[i])}


def test_median_frequency_weights_by_hand():
    # image 0: 3 px of class 1, 1 px void; image 1: 2 px class 1, 2 px class 2. Class 3 absent.
    data = Labels([np.array([[1, 1], [1, 0]]), np.array([[1, 1], [2, 2]])])
    w = median_frequency_weights(data, np.arange(2), 3, frames=10, rng=np.random.default_rng(0))
    f1, f2 = 5 / 8, 2 / 4
    median = np.median([f1, f2])
    np.testing.assert_allclose(w, [median / f1, median / f2, 1.0], rtol=1e-6)


def test_shard_reader_groups_come_from_offsets():
    class Shards:
        offsets = np.array([0, 3, 5, 9])

        def __len__(self):
            return 9

    np.testing.assert_array_equal(sample_groups(Shards()), [0, 0, 0, 1, 1, 2, 2, 2, 2])


def test_validation_split_keeps_groups_apart():
    groups = np.repeat(np.arange(10), 5)
    train_idx, val_idx = split_indices(groups, 0.2, seed=3)
    assert len(val_idx) == 10 and len(train_idx) == 40
    assert not set(groups[train_idx]) & set(groups[val_idx])
    np.testing.assert_array_equal(split_indices(groups, 0.2, seed=3)[1], val_idx)


@pytest.mark.parametrize(
    "size,scale_range,tol",
    [
        ((48, 64), (1.0, 1.0), 1e-4),  # flip and depth jitter only: exact
        ((24, 32), (1.0, 1.6), 0.05),  # zoom and crop: nearest sampling is off by up to half a source pixel
    ],
)
def test_augmentation_keeps_geometry_consistent(size, scale_range, tol):
    rooms = SyntheticRooms(6, 64, 48, classes=13, seed=4)
    view = TrainView(rooms, np.arange(6), size, augment=True, seed=0, scale_range=scale_range, depth_jitter=0.1)
    floor_id = 5  # NYU13 "floor"
    flips = floors = 0
    for epoch in range(2):
        view.set_epoch(epoch)
        for i in range(6):
            s = view[i]
            assert s["depth"].shape == (1, *size) and s["label"].shape == size
            if size == (48, 64):
                flips += int(torch.equal(s["label"], rooms[i]["label"].flip(-1)))
            height = encode_batch("DH", torch.utils.data.default_collate([s]), camera_height="true")[0, 1]
            floor = s["label"] == floor_id
            if floor.any():  # flipped, zoomed, cropped and depth-scaled: the floor is still at height 0
                floors += 1
                assert float(height[floor].abs().max()) < tol
    assert floors > 3 and (flips > 0 or size != (48, 64))
    s1, s2 = view[2], view[2]
    assert torch.equal(s1["depth"], s2["depth"])  # draws depend on (seed, epoch, index) only


def test_drawing_curves_and_previews_leaves_the_matplotlib_backend_alone(tmp_path):
    """Library calls change no process-wide setting: the caller's matplotlib backend survives save_curves
    and a preview (checked in a fresh process, where no backend was chosen before)."""
    import subprocess
    import sys

    code = f"""
import matplotlib, numpy as np
from pathlib import Path
matplotlib.use("pdf")
from segnet.run_log import save_curves
from synthcam.preview import render_preview
from synthcam_core.labels import class40_names
save_curves([{{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5}}], Path({str(tmp_path / "c.png")!r}))
z = np.full((48, 64), 2.0, np.float32)
render_preview(z, z, np.ones((48, 64), np.uint8), class40_names(), Path({str(tmp_path / "p.png")!r}))
print(matplotlib.get_backend())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (
        out.stdout.strip() == "pdf"
        and (tmp_path / "c.png").stat().st_size > 0
        and (tmp_path / "p.png").stat().st_size > 0
    )
