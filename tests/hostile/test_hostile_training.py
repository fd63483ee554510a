"""Hostile and careless input to training and evaluation: crafted and foreign checkpoints, settings
out of range, a loss that turns NaN, and files in --out that the tool did not write (issue 12)."""

from __future__ import annotations

import copy
import errno
import os
import shutil
import zipfile

import pytest
import torch

import segnet.checkpoint
import segnet.evaluate
import segnet.run_dir
import segnet.train
from segnet.config import TrainConfig
from segnet.rng import restore_rng_state
from segnet.train import train
from synthcam_core.errors import SynthcamError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = [
    "--dataset",
    "synthetic",
    "--synthetic-frames",
    "8",
    "--height",
    "32",
    "--width",
    "32",
    "--model",
    "segnet-basic",
    "--model-width",
    "0.125",
    "--batch-size",
    "2",
    "--classes",
    "13",
    "--quiet",
]
"""A run of seconds: 8 analytic frames (2 rooms: one trains, one validates), 2 steps per epoch."""


def tiny_config(**kw) -> TrainConfig:
    base = dict(
        dataset="synthetic",
        synthetic_frames=8,
        height=32,
        width=32,
        model="segnet-basic",
        model_width=0.125,
        batch_size=2,
        classes=13,
        epochs=1,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A run directory of one tiny epoch: last.pt, best.pt, config.json, ..."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("real") / "run"
    train(tiny_config(), out, progress=False, log=lambda line: None)
    return out


@pytest.fixture
def real_state(real_run):
    """A fresh copy of the real checkpoint's dict (read by the test itself, which trusts the file)."""
    return torch.load(real_run / "last.pt", map_location="cpu", weights_only=True)


class RunsCode:
    """Pickles as a call of ``os.mkdir(marker)``: loading it with a full unpickler creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def entry(cli, kind: str, checkpoint, tmp_path):
    """Give ``checkpoint`` to ``evaluate --checkpoint``, ``train --init`` or ``train --resume`` (as last.pt)."""
    if kind == "evaluate":
        return cli("evaluate", "--checkpoint", checkpoint, "--dataset", "synthetic", "--classes", "13")
    if kind == "init":
        return cli("train", *TINY, "--epochs", "1", "--init", checkpoint, "--out", tmp_path / "init_run")
    run = tmp_path / "resume_run"
    run.mkdir(exist_ok=True)
    target = run / "last.pt"
    if os.path.isdir(checkpoint):
        target.mkdir()
    else:
        shutil.copyfile(checkpoint, target)
    return cli("train", *TINY, "--epochs", "2", "--resume", "--out", run)


# ---------------------------------------------------------------------------------- 1: no code runs


@pytest.mark.parametrize("kind", ["evaluate", "init", "resume"])
def test_crafted_checkpoint_runs_no_code(cli, one_line_error, real_state, tmp_path, kind):
    marker = tmp_path / "code_ran"
    real_state["history"] = [RunsCode(marker)]
    path = tmp_path / "crafted.pt"
    torch.save(real_state, path)
    result = entry(cli, kind, path, tmp_path)
    assert not marker.exists(), "loading the checkpoint ran code from it"
    one_line_error(result, "is not a synthcam checkpoint", "Python objects", "synthcam train")


def _random_bytes(path):
    path.write_bytes(os.urandom(4096))


def _foreign_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a checkpoint")


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("make", [_random_bytes, _foreign_zip, _empty], ids=["random", "zip", "empty"])
def test_file_that_is_no_checkpoint_is_one_line(cli, one_line_error, tmp_path, make):
    path = tmp_path / "foreign.pt"
    make(path)
    one_line_error(entry(cli, "evaluate", path, tmp_path), "is not a synthcam checkpoint", "synthcam train")


def test_truncated_checkpoint_is_one_line(cli, one_line_error, real_run, tmp_path):
    path = tmp_path / "cut.pt"
    data = (real_run / "last.pt").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    one_line_error(entry(cli, "init", path, tmp_path), "is not a synthcam checkpoint")


def test_directory_as_last_pt_is_one_line(cli, one_line_error, tmp_path):
    (tmp_path / "a_directory").mkdir()
    one_line_error(
        entry(cli, "resume", tmp_path / "a_directory", tmp_path), "is not a synthcam checkpoint", "directory"
    )


def test_compressed_archive_is_refused_before_torch_reads_it(cli, one_line_error, real_run, tmp_path):
    """A deflated member could unpack to far more than the file's size: refused before reading."""
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(real_run / "last.pt") as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    one_line_error(entry(cli, "evaluate", path, tmp_path), "is not a synthcam checkpoint", "compressed")


# ---------------------------------------------------------------------------------- 9: checkpoint entries


def _without_config(s):
    del s["config"]


def _unknown_setting(s):
    s["config"]["learning_rate"] = 0.1


def _height_as_text(s):
    s["config"]["height"] = "32"


def _nan_lr_setting(s):
    s["config"]["lr"] = float("nan")


def _huge_balance(s):
    s["config"]["balance_frames"] = 10**9


def _spec_not_config(s):
    s["model_spec"]["num_classes"] = 40


def _nan_weight(s):
    key = next(iter(s["model"]))
    s["model"][key] = torch.full_like(s["model"][key], float("nan"))


def _huge_view(s):
    s["model"]["extra"] = torch.zeros(1).expand(1_000_000, 1_000_000)  # 4 bytes stored, 10^12 claimed


def _many_views(s):
    shared = torch.zeros(100_000)
    for i in range(100):  # 400 KB stored once, 40 MB claimed: every pass over the weights would be 100 x longer
        s["model"][f"view{i}"] = shared[:]


def _optimizer_shape(s):
    first = s["optimizer"]["state"][0]
    first["exp_avg"] = torch.zeros(3, 3)


def _scheduler_entry(s):
    s["scheduler"]["step"] = 3  # would shadow the scheduler's method


def _rng_size(s):
    s["rng"]["torch"] = torch.zeros(7, dtype=torch.uint8)


HUGE = 10**400
"""An integer that pickles (and loads with the weights-only reader) but no float can hold."""


def _huge_best(s):
    s["best"] = HUGE


def _huge_class_weight(s):
    s["class_weights"][0] = HUGE


def _huge_history_value(s):
    s["history"][0]["train_loss"] = HUGE


def _huge_optimizer_setting(s):
    s["optimizer"]["param_groups"][0]["lr"] = HUGE


def _huge_scheduler_entry(s):
    s["scheduler"]["base_lrs"] = [HUGE]


def _huge_scheduler_step(s):
    s["scheduler"]["last_epoch"] = HUGE


@pytest.mark.parametrize(
    "mutate,kind,fragment",
    [
        (_without_config, "evaluate", "config"),
        (_without_config, "init", "config"),
        (_without_config, "resume", "config"),
        (_unknown_setting, "evaluate", "learning_rate"),
        (_unknown_setting, "resume", "learning_rate"),
        (_unknown_setting, "init", "learning_rate"),
        (_height_as_text, "evaluate", "height"),
        (_height_as_text, "resume", "height"),
        (_nan_lr_setting, "resume", "lr"),
        (_huge_balance, "resume", "balance-frames"),
        (_spec_not_config, "evaluate", "model_spec"),
        (_nan_weight, "init", "NaN"),
        (_nan_weight, "evaluate", "NaN"),
        (_huge_view, "evaluate", "tensor"),
        (_many_views, "evaluate", "claim more bytes"),
        (_optimizer_shape, "resume", "optimizer"),
        (_scheduler_entry, "resume", "scheduler"),
        (_rng_size, "resume", "rng"),
        (_huge_best, "evaluate", "best"),
        (_huge_class_weight, "evaluate", "class_weights"),
        (_huge_history_value, "resume", "history"),
        (_huge_optimizer_setting, "resume", "optimizer"),
        (_huge_scheduler_entry, "resume", "scheduler"),
        (_huge_scheduler_step, "resume", "scheduler"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_checkpoint_entries_are_checked(cli, one_line_error, real_state, tmp_path, mutate, kind, fragment):
    state = copy.deepcopy(real_state)
    mutate(state)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    one_line_error(entry(cli, kind, path, tmp_path), "is not a synthcam checkpoint", fragment)
    assert not (tmp_path / "resume_run" / "best.pt").exists() and not (tmp_path / "init_run").exists()


def test_checkpoint_that_is_not_a_dict(cli, one_line_error, tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    one_line_error(entry(cli, "evaluate", path, tmp_path), "is not a synthcam checkpoint", "list")


# ---------------------------------------------------------------------------------- 9: settings out of range


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Fail fast (not a user error) if a command gets as far as opening data or building a model, so
    a setting that should have been refused up front never allocates anything here."""

    def refuse(*args, **kwargs):
        raise RuntimeError("got past the checks of the settings")

    monkeypatch.setattr(segnet.train, "open_dataset", refuse)
    monkeypatch.setattr(segnet.train, "build", refuse)
    monkeypatch.setattr(segnet.checkpoint, "build", refuse)
    monkeypatch.setattr(segnet.evaluate, "open_dataset", refuse)
    monkeypatch.setattr(torch.utils.data, "DataLoader", refuse)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--lr", "nan"], "lr"),
        (["--lr", "inf"], "lr"),
        (["--lr", "1e30"], "lr"),
        (["--weight-decay", "nan"], "weight-decay"),
        (["--weight-decay", "-1"], "weight-decay"),
        (["--model-width", "inf"], "model-width"),
        (["--model-width", "nan"], "model-width"),
        (["--model-width", "1e6"], "model-width"),
        (["--batch-size", str(10**9)], "batch-size"),
        (["--height", "100000"], "height"),
        (["--width", "100000"], "width"),
        (["--batch-size", "1024", "--height", "4096", "--width", "4096"], "pixels"),
        (["--epochs", str(10**12), "--stop-after", "1"], "epochs"),
        (["--synthetic-frames", str(10**12)], "synthetic-frames"),
        (["--num-workers", "1000"], "num-workers"),
        (["--seed", "-1"], "seed"),
        (["--seed", str(2**70)], "seed"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_training_setting_out_of_range_is_one_line(cli, one_line_error, no_heavy_work, tmp_path, args, fragment):
    out = tmp_path / "run"
    result = cli("train", *TINY, "--epochs", "1", *args, "--out", out)
    one_line_error(result, fragment)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--lr", "nan"], "lr must be a finite number"),
        (["--dropout", "nan"], "dropout must be a finite number"),
        (["--val-fraction", "inf"], "val-fraction must be a finite number"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_non_finite_setting_is_called_non_finite(cli, one_line_error, no_heavy_work, tmp_path, args, fragment):
    """NaN is a float: the message says the value must be finite, not that it is of the wrong type."""
    one_line_error(cli("train", *TINY, "--epochs", "1", *args, "--out", tmp_path / "run"), fragment)


def test_non_finite_scale_range_in_a_checkpoint_is_called_non_finite():
    with pytest.raises(SynthcamError, match="scale-range must be a finite number"):
        TrainConfig.from_dict({"dataset": "synthetic", "scale_range": [float("nan"), 1.5]})


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--batch-size", str(10**9)], "batch-size"),
        (["--num-workers", "1000"], "num-workers"),
        (["--mc-samples", str(10**9)], "mc-samples"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_evaluation_setting_out_of_range_is_one_line(cli, one_line_error, real_run, no_heavy_work, args, fragment):
    result = cli("evaluate", "--checkpoint", real_run / "last.pt", "--dataset", "synthetic", *args)
    one_line_error(result, fragment)


def test_predictions_directory_that_cannot_be_made_is_one_line(cli, one_line_error, real_run, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("user data")
    result = cli(
        "evaluate",
        "--checkpoint",
        real_run / "last.pt",
        "--dataset",
        "synthetic",
        "--predictions",
        blocker / "predictions",
    )
    one_line_error(result, "--predictions", str(blocker / "predictions"))
    assert blocker.read_text() == "user data"


def test_json_that_cannot_be_written_is_one_line(cli, one_line_error, real_run, tmp_path):
    link = tmp_path / "scores.json"
    link.symlink_to(tmp_path / "missing" / "scores.json")  # its parent exists, its target's does not
    result = cli("evaluate", "--checkpoint", real_run / "last.pt", "--dataset", "synthetic", "--json", link)
    one_line_error(result, "--json", str(link))


def test_json_link_that_loops_is_an_error_line(cli, real_run, tmp_path):
    loop = tmp_path / "scores.json"
    loop.symlink_to(loop)
    result = cli("evaluate", "--checkpoint", real_run / "last.pt", "--dataset", "synthetic", "--json", loop)
    assert result.exit_code == 2 and "Traceback" not in result.output, (result.output, result.exception)
    last = result.output.strip().splitlines()[-1]  # the scores are printed before the file is written
    assert last.startswith("error: ") and "--json" in last and str(loop) in last, last


# ---------------------------------------------------------------------------------- 9: NaN loss


def _nan_loss_from(monkeypatch, epoch: int, step: int, training: bool = True):
    """Make the loss NaN from ``step`` (1-based) of ``epoch`` on, in training or in validation only.

    The tiny run has 2 training and 2 validation batches per epoch."""
    real = segnet.train.weighted_loss
    calls = {True: 0, False: 0}

    def loss(logits, label, weights):
        in_training = torch.is_grad_enabled()
        calls[in_training] += 1
        value = real(logits, label, weights)
        n = calls[in_training]
        if in_training == training and ((n - 1) // 2 + 1, (n - 1) % 2 + 1) >= (epoch, step):
            return value * float("nan")
        return value

    monkeypatch.setattr(segnet.train, "weighted_loss", loss)


def _finite(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["epoch"], all(bool(torch.isfinite(t).all()) for t in state["model"].values() if t.is_floating_point())


def test_nan_loss_stops_run_and_keeps_last_good_checkpoint(cli, monkeypatch, tmp_path):
    _nan_loss_from(monkeypatch, epoch=2, step=1)
    out = tmp_path / "run"
    result = cli("train", *TINY, "--epochs", "3", "--out", out)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()  # epoch 1's line, then the error
    assert len(lines) == 2 and lines[0].startswith("epoch 1/3") and lines[1].startswith("error: "), result.output
    for fragment in ("epoch 2, step 1", "--lr", "--init"):
        assert fragment in lines[1], lines[1]
    assert _finite(out / "last.pt") == (1, True)
    assert _finite(out / "best.pt") == (1, True)


def test_nan_loss_message_says_what_best_pt_holds(cli, monkeypatch, tmp_path):
    """best.pt holds the best epoch, not the last one: the message must not claim otherwise."""
    real = segnet.train.validate
    epochs = []

    def worse_each_epoch(ctx, loader, num_classes):
        result = real(ctx, loader, num_classes)
        epochs.append(len(epochs) + 1)
        result["class_avg_acc"] = 1.0 / epochs[-1]  # epoch 1 stays the best
        return result

    monkeypatch.setattr(segnet.train, "validate", worse_each_epoch)
    _nan_loss_from(monkeypatch, epoch=3, step=1)
    out = tmp_path / "run"
    result = cli("train", *TINY, "--epochs", "3", "--out", out)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    message = result.output.strip().splitlines()[-1]
    assert _finite(out / "last.pt") == (2, True) and _finite(out / "best.pt") == (1, True)
    assert "last.pt keeps epoch 2" in message and "best.pt keep epoch 2" not in message, message


def test_nan_loss_in_first_epoch_writes_nothing_and_can_be_rerun(cli, one_line_error, monkeypatch, tmp_path):
    _nan_loss_from(monkeypatch, epoch=1, step=2)
    out = tmp_path / "run"
    one_line_error(cli("train", *TINY, "--epochs", "1", "--out", out), "epoch 1, step 2", "--lr")
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists() and not (out / "config.json").exists()
    monkeypatch.undo()
    assert cli("train", *TINY, "--epochs", "1", "--out", out).exit_code == 0  # the same --out, after lowering --lr


def test_nan_validation_loss_saves_no_best(cli, one_line_error, monkeypatch, tmp_path):
    _nan_loss_from(monkeypatch, epoch=1, step=1, training=False)
    out = tmp_path / "run"
    one_line_error(cli("train", *TINY, "--epochs", "1", "--out", out), "validation loss", "epoch 1")
    assert not (out / "best.pt").exists() and not (out / "last.pt").exists()


# ---------------------------------------------------------------------------------- files the tool did not write


def test_checkpoint_temp_name_never_writes_through_a_user_link(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("user data")
    (out / "last.pt.tmp").symlink_to(precious)
    (out / "best.pt.tmp").symlink_to(precious)
    result = cli("train", *TINY, "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    assert precious.read_text() == "user data"
    assert (out / "last.pt.tmp").is_symlink() and (out / "best.pt.tmp").is_symlink()
    assert not list(out.glob("*.synthcam-partial")) and not list(out.glob(".*.synthcam-partial"))


@pytest.mark.parametrize("name", ["best.pt", "config.json", "history.json"])
def test_new_run_never_replaces_a_user_file_in_out(cli, one_line_error, tmp_path, name):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_text("user data")
    one_line_error(cli("train", *TINY, "--epochs", "1", "--out", out), name, "--out")
    assert (out / name).read_text() == "user data"


def test_resume_with_a_directory_for_best_pt_is_refused_up_front(cli, one_line_error, real_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copyfile(real_run / "last.pt", out / "last.pt")
    (out / "best.pt").mkdir()
    one_line_error(cli("train", *TINY, "--epochs", "2", "--resume", "--out", out), "best.pt")
    state = torch.load(out / "last.pt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1  # nothing was trained before the refusal


def test_resume_on_a_machine_with_fewer_gpus_restores_the_states_it_can(monkeypatch):
    """A run saved on a 2-GPU machine holds 2 CUDA generator states; one GPU here takes the first.

    The CUDA calls are stood in for (this suite runs on CPU); the stand-in fails as torch does when
    a state names a device this machine lacks."""
    loaded = []

    def set_rng_state_all(states):
        for index, cuda_state in enumerate(states):
            if index >= torch.cuda.device_count():
                raise IndexError("tuple index out of range")
            loaded.append(cuda_state)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", set_rng_state_all)
    cpu_state = torch.get_rng_state()
    cuda_states = [torch.zeros(16, dtype=torch.uint8), torch.ones(16, dtype=torch.uint8)]
    restore_rng_state({"torch": cpu_state, "cuda": cuda_states}, "last.pt")
    assert len(loaded) == 1 and loaded[0] is cuda_states[0]


# ---------------------------------------------------------------------------------- disk full


class _FillsUp:
    """A file that takes ``room`` bytes, then fails every write with ENOSPC (a full disk, as torch
    sees it through the file object it is given)."""

    def __init__(self, file, room: int):
        self.file, self.room = file, room

    def write(self, data) -> int:
        size = len(memoryview(data).cast("B"))
        if size > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= size
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def _disk_full_at_save(monkeypatch, nth: int) -> None:
    """The ``nth`` torch.save (1-based, counted over the run's checkpoint writes) and every later
    one finds the disk full after 1000 bytes."""
    real = torch.save
    calls = []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        return real(obj, _FillsUp(f, 1000) if len(calls) >= nth else f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


@pytest.mark.parametrize("nth, name", [(1, "best.pt"), (2, "last.pt")])  # best.pt is saved first
def test_disk_full_in_first_epoch_leaves_a_directory_that_can_be_rerun(
    cli, one_line_error, monkeypatch, tmp_path, nth, name
):
    _disk_full_at_save(monkeypatch, nth)
    out = tmp_path / "run"
    line = one_line_error(
        cli("train", *TINY, "--epochs", "1", "--out", out),
        str(out / name),
        "No space left on device",
        "free disk space",
    )
    assert "enforce" not in line and ".cc" not in line, line
    assert not [name for name in segnet.run_dir.RUN_FILES if (out / name).exists()], sorted(os.listdir(out))
    assert not list(out.glob(".*.synthcam-partial"))
    monkeypatch.undo()
    result = cli("train", *TINY, "--epochs", "1", "--out", out)  # the same command, with room on the disk
    assert result.exit_code == 0, result.output
    assert (out / "last.pt").is_file() and (out / "config.json").is_file()


def test_disk_full_in_a_later_epoch_keeps_the_run_resumable(cli, one_line_error, monkeypatch, tmp_path):
    _disk_full_at_save(monkeypatch, 3)  # epoch 1 saves best.pt and last.pt; epoch 2's first save fails
    out = tmp_path / "run"
    result = cli("train", *TINY, "--epochs", "2", "--out", out)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()  # epoch 1's line, then the error
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and lines[1].startswith("error: "), result.output
    for fragment in ("cannot write", str(out), "No space left on device", "free disk space"):
        assert fragment in lines[1], lines[1]
    assert "enforce" not in lines[1] and ".cc" not in lines[1], lines[1]
    monkeypatch.undo()
    assert torch.load(out / "last.pt", map_location="cpu", weights_only=True)["epoch"] == 1
    result = cli("train", *TINY, "--epochs", "2", "--resume", "--out", out)
    assert result.exit_code == 0, result.output


def test_run_files_without_a_checkpoint_do_not_send_the_user_to_resume(cli, one_line_error, tmp_path):
    """A directory left by an older version (config.json of a run that saved no checkpoint): the
    message says to move it away, not to --resume (which has nothing to resume)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    line = one_line_error(cli("train", *TINY, "--epochs", "1", "--out", out), "config.json", "another --out")
    assert "--resume" not in line, line
    assert (out / "config.json").read_text() == "{}"
