"""A training run as a library call: no process-wide side effects, reports written as it runs,
optional TensorBoard, and the validation split recorded for ``evaluate --split val``."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from tiny_runs import tiny_config

from segnet.checkpoint import load_checkpoint
from segnet.config import TrainConfig
from segnet.rng import run_scope
from segnet.train import train
from segnet.train_data import open_dataset, sample_groups, split_indices
from synthcam_core.errors import SynthcamError
from synthcam_core.extras import MissingExtraError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QUIET = dict(progress=False, log=lambda s: None)


def tiny(**kw) -> TrainConfig:
    return tiny_config(**{**dict(epochs=2, dropout=0.2), **kw})


def test_a_run_leaves_the_callers_generator_and_cudnn_setting_alone(tmp_path):
    torch.manual_seed(1234)
    before = torch.get_rng_state().clone()
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = not benchmark  # whatever the caller chose survives
    try:
        train(tiny(epochs=1), tmp_path / "a", **QUIET)
        assert torch.equal(torch.get_rng_state(), before)
        assert torch.backends.cudnn.benchmark is (not benchmark)
    finally:
        torch.backends.cudnn.benchmark = benchmark
    draw = torch.rand(3)
    torch.manual_seed(1234)
    assert torch.equal(torch.rand(3), draw)  # the caller's sequence goes on as if no run had happened


def test_the_same_seed_gives_the_same_run_whatever_the_callers_state(tmp_path):
    torch.manual_seed(1)
    train(tiny(epochs=1), tmp_path / "a", **QUIET)
    torch.manual_seed(2)
    torch.rand(100)
    train(tiny(epochs=1), tmp_path / "b", **QUIET)
    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_run_scope_restores_on_error():
    torch.manual_seed(7)
    before = torch.get_rng_state().clone()
    benchmark = torch.backends.cudnn.benchmark
    with pytest.raises(RuntimeError, match="boom"):
        with run_scope(3, cudnn_benchmark=not benchmark):
            assert torch.backends.cudnn.benchmark is (not benchmark)
            torch.rand(10)
            raise RuntimeError("boom")
    assert torch.equal(torch.get_rng_state(), before) and torch.backends.cudnn.benchmark is benchmark


def test_history_and_curves_are_written_after_every_epoch(tmp_path, monkeypatch):
    import segnet.run_log

    seen = []
    real = segnet.run_log.RunLog.epoch

    def epoch(self, history):
        real(self, history)
        seen.append(json.loads((self.out / "history.json").read_text()))
        assert (self.out / "curves.png").stat().st_size > 0

    monkeypatch.setattr(segnet.run_log.RunLog, "epoch", epoch)
    train(tiny(epochs=3), tmp_path / "r", **QUIET)
    assert [[r["epoch"] for r in h] for h in seen] == [[1], [1, 2], [1, 2, 3]]
    assert not list((tmp_path / "r").glob(".*partial"))


def test_tensorboard_scalars_per_step_and_per_epoch(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "r"
    train(tiny(epochs=2), out, **QUIET)
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    steps = [s.step for s in events.Scalars("step/train_loss")]
    assert steps == [1, 2, 3, 4, 5, 6]  # 4 rooms of 4 frames, one held out: 12 frames, 3 batches of 4 per epoch
    lrs = [s.value for s in events.Scalars("step/lr")]
    assert lrs[0] == pytest.approx(5e-3) and lrs == sorted(lrs, reverse=True)  # the lr each step used, decaying
    assert [s.step for s in events.Scalars("val/miou")] == [1, 2]
    history = json.loads((out / "history.json").read_text())
    assert [s.value for s in events.Scalars("train/loss")] == pytest.approx([r["train_loss"] for r in history])


def test_a_resumed_run_logs_each_step_once(tmp_path, monkeypatch):
    """Epoch 2 fails after its steps were logged; the resumed run repeats them, and TensorBoard shows
    each step once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import segnet.train

    out = tmp_path / "r"
    real, calls = segnet.train.validate, []

    def fails_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SynthcamError("validation data went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(segnet.train, "validate", fails_second_time)
    with pytest.raises(SynthcamError, match="went away"):
        train(tiny(epochs=2), out, **QUIET)
    monkeypatch.undo()
    assert load_checkpoint(out / "last.pt")["epoch"] == 1
    train(tiny(epochs=2), out, resume=True, **QUIET)
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    assert [s.step for s in events.Scalars("step/train_loss")] == [1, 2, 3, 4, 5, 6]


def test_without_tensorboard_no_tb_directory(tmp_path):
    train(tiny(epochs=1), tmp_path / "r", tensorboard=False, **QUIET)
    assert (tmp_path / "r" / "history.json").is_file() and not (tmp_path / "r" / "tb").exists()


def test_missing_tensorboard_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails as if not installed
    with pytest.raises(MissingExtraError, match=r"synthcam3d\[train\]") as info:
        train(tiny(epochs=1), tmp_path / "r", **QUIET)
    assert "\n" not in str(info.value) and "TensorBoard" in str(info.value)
    assert not (tmp_path / "r").exists()  # refused before anything ran
    train(tiny(epochs=1), tmp_path / "r", tensorboard=False, **QUIET)  # the way around it


def test_the_validation_split_is_recorded(tmp_path):
    train(tiny(epochs=1), tmp_path / "r", **QUIET)
    state = load_checkpoint(tmp_path / "r" / "last.pt")
    config = tiny()
    rooms = open_dataset("synthetic", "", "train", 13, synthetic_frames=16, synthetic_size=(24, 32), seed=config.seed)
    val = split_indices(sample_groups(rooms), config.val_fraction, config.seed)[1]
    assert state["data_split"] == {"data": "", "val_frames": val.tolist()} and len(val) == 4  # one room of four


def test_a_bad_data_split_is_refused(tmp_path):
    train(tiny(epochs=1), tmp_path / "r", **QUIET)
    state = torch.load(tmp_path / "r" / "last.pt", weights_only=True)
    for bad in (
        {"data": "", "val_shards": ["../x.h5"]},
        {"data": "", "val_frames": [-1]},
        {"data": 3, "val_frames": []},
        {"data": "", "val_frames": [], "val_shards": []},
        ["x"],
    ):
        state["data_split"] = bad
        torch.save(state, tmp_path / "bad.pt")
        with pytest.raises(SynthcamError, match="data_split"):
            load_checkpoint(tmp_path / "bad.pt")
