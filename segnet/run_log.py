"""What a training run reports while it runs: ``history.json``, ``curves.png`` and TensorBoard scalars.

:class:`RunLog` rewrites ``history.json`` and ``curves.png`` after every completed epoch (each
written atomically, :func:`synthcam_core.atomic_file.write_atomic`: a reader never sees half a
file), and writes TensorBoard scalars to ``tb/``: per training step the loss and learning rate
(``step/train_loss``, ``step/lr``, x = global step from 1), per epoch every number of the epoch's
record (``train/loss``, ``val/miou``, ..., x = epoch). TensorBoard is optional (the ``train``
extra): :func:`summary_writer_class` imports it or raises one line naming the extra, and a run
without it (``tensorboard=False``) writes no ``tb/``.

Step losses stay on the device and are written in groups (:meth:`RunLog.step`), so logging adds
no host synchronisation beyond the training loop's own periodic finite-loss check.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from segnet.runfiles import write_text
from synthcam_core.atomic_file import write_atomic
from synthcam_core.extras import require


def summary_writer_class():
    """TensorBoard's ``SummaryWriter``; a missing ``tensorboard`` package raises a one-line
    :class:`synthcam_core.extras.MissingExtraError` naming the ``train`` extra."""
    return require("torch.utils.tensorboard", "train", "TensorBoard logging").SummaryWriter


def strict_json(history: list[dict]) -> str:
    """``history`` as standard JSON: an undefined metric (NaN, e.g. class-average accuracy of a
    validation split without labelled pixels) becomes null."""
    clean = [{k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in r.items()} for r in history]
    return json.dumps(clean, indent=1, allow_nan=False) + "\n"


def save_curves(history: list[dict], path: Path) -> None:
    """Plot loss and accuracy per epoch (train and validation) to ``path`` (PNG)."""
    from matplotlib.figure import Figure  # no pyplot: drawing changes no process-wide backend

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if any("val_loss" in h for h in history):
        ax_loss.plot(epochs, [h.get("val_loss", np.nan) for h in history], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="weighted cross entropy", title="loss")
    ax_acc.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label="train pixel acc")
    for key, name in (
        ("val_global_acc", "val global acc"),
        ("val_class_avg_acc", "val class-avg acc"),
        ("val_miou", "val mIoU"),
    ):
        if any(key in h for h in history):
            ax_acc.plot(epochs, [100 * h.get(key, np.nan) for h in history], "o-", label=name)
    ax_acc.set(xlabel="epoch", ylabel="%", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    write_atomic(path, lambda file: fig.savefig(file, format="png", dpi=100))


def epoch_line(r: dict, epochs: int) -> str:
    """The one-line summary of an epoch's record that ``synthcam train`` prints."""
    line = (
        f"epoch {r['epoch']}/{epochs}: loss {r['train_loss']:.4f}, acc {100 * r['train_acc']:.1f} %, "
        f"{r['images_per_s']:.1f} img/s (data wait {r['data_wait_s']:.1f} s, compute {r['compute_s']:.1f} s)"
    )
    if "val_loss" in r:
        line += (
            f"; val loss {r['val_loss']:.4f}, global {100 * r['val_global_acc']:.1f} %, "
            f"class-avg {100 * r['val_class_avg_acc']:.1f} %, mIoU {100 * r['val_miou']:.1f} %"
        )
    return line


class RunLog:
    """The run directory's running reports (module docstring).

    writer_class : TensorBoard's ``SummaryWriter`` (:func:`summary_writer_class`), None for no
    TensorBoard. first_step : the global step (1-based) this call of the run starts at; TensorBoard
    is told to drop what an earlier, interrupted call logged from that step on (its ``purge_step``;
    epoch numbers stay below it), so a resumed run shows each step once and a new run none of a
    failed one's.
    """

    def __init__(self, out: Path, writer_class, first_step: int = 1) -> None:
        self.out = Path(out)
        self.pending: list[tuple[int, torch.Tensor, float]] = []
        self.writer = None
        if writer_class is not None:
            self.writer = writer_class(log_dir=str(self.out / "tb"), purge_step=first_step)

    def step(self, step: int, loss: torch.Tensor, lr: float, flush: bool = False) -> None:
        """Note a training step's (device) loss and learning rate; with ``flush`` write the noted
        steps (one transfer from the device)."""
        if self.writer is None:
            return
        self.pending.append((step, loss.detach(), lr))
        if flush:
            self.flush_steps()

    def flush_steps(self) -> None:
        """Write the noted step scalars to TensorBoard."""
        if self.writer is None or not self.pending:
            return
        losses = torch.stack([loss.float() for _, loss, _ in self.pending]).cpu().tolist()
        for (step, _, lr), loss in zip(self.pending, losses):
            self.writer.add_scalar("step/train_loss", loss, step)
            self.writer.add_scalar("step/lr", lr, step)
        self.pending.clear()

    def epoch(self, history: list[dict]) -> None:
        """After a completed (and saved) epoch: rewrite ``history.json`` and ``curves.png``, write the
        last record's numbers to TensorBoard."""
        self.flush_steps()
        write_text(self.out / "history.json", strict_json(history))
        save_curves(history, self.out / "curves.png")
        if self.writer is not None:
            record = history[-1]
            for key, value in record.items():
                if key != "epoch":
                    self.writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self.writer.flush()

    def close(self) -> None:
        """Write what is noted and close TensorBoard's file."""
        if self.writer is not None:
            try:
                self.flush_steps()
            finally:
                self.writer.close()
                self.writer = None
