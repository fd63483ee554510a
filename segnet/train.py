"""Training of depth-only SegNet models: the loop and the run driver.

Shape of the training code (after torchvision's segmentation reference): the settings are
:class:`~segnet.config.TrainConfig` (:mod:`segnet.config`); the data, augmentation and class
balancing are :mod:`segnet.train_data` (:func:`open_dataset`, :func:`split_indices`,
:class:`TrainView`, :func:`median_frequency_weights`); this module holds :func:`train_one_epoch`,
:func:`validate` and :func:`train` (the whole run; ``synthcam train`` calls it).

Run directory (``out``, :mod:`segnet.run_dir`): ``config.json``, ``last.pt`` after every epoch,
``best.pt`` (highest validation class-average accuracy, SceneNet's headline metric; lowest training
loss without a validation split), and, rewritten as the run goes (:mod:`segnet.run_log`), ``history.json``,
``curves.png`` and TensorBoard scalars in ``tb/`` (per step and per epoch; optional).
A checkpoint is a dict with ``model``, ``optimizer``, ``scheduler``, ``epoch`` (epochs completed),
``config``, ``model_spec``, ``class_weights``, ``history``, ``best``, ``rng`` (torch CPU/CUDA
states) so ``resume=True`` continues the identical run, and ``data_split`` (the validation frames,
:func:`segnet.train_data.split_record`) so ``synthcam evaluate --split val`` scores what the run validated on.
Checkpoints hold only tensors and plain values and are read with torch's weights-only reader,
every entry checked (:func:`segnet.checkpoint.load_checkpoint`); run files are written under exclusive temporary names
and renamed (:mod:`segnet.runfiles`). The settings are bounded by :mod:`segnet.limits`; a
non-finite loss stops the run before it saves.

Determinism: model initialisation and dropout use the global torch generator, seeded with
``config.seed`` (restored on resume) inside :func:`segnet.rng.run_scope`, which gives the
caller's generator states back when the run ends; the shuffling order of epoch ``e`` comes from
a generator seeded with (seed, e), and the augmentation of frame ``i`` in epoch ``e`` from
``numpy.random.default_rng([seed, e, i])``, independent of worker count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from segnet.checkpoint import (
    init_from_checkpoint,
    load_checkpoint,
    load_optimizer_state,
    load_scheduler_state,
    load_weights,
    spec_of,
)
from segnet.config import TrainConfig
from segnet.encodings import encode_batch
from segnet.models import build
from segnet.rng import restore_rng_state, rng_state, run_scope
from segnet.run_dir import check_out_dir, diverged, save_epoch
from segnet.run_log import RunLog, epoch_line, summary_writer_class
from segnet.runfiles import make_directory
from segnet.train_data import (
    TrainView,
    median_frequency_weights,
    open_dataset,
    sample_groups,
    split_indices,
    split_record,
)
from synthcam_core.errors import SynthcamError
from synthcam_core.sample import DEPTH_MM, LABEL, expand

# --------------------------------------------------------------------------------------- loop


def weighted_loss(logits: torch.Tensor, label: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Class-weighted mean cross entropy over non-void pixels; label (B, H, W) ids 0..C, 0 ignored.

    Returns 0 (not NaN) for a batch without labelled pixels, without a host synchronisation.
    """
    target = label - 1
    per_pixel = F.cross_entropy(logits.float(), target, weight=weights, ignore_index=-1, reduction="none")
    labelled = target >= 0
    w = weights[target.clamp(min=0)] if weights is not None else torch.ones_like(per_pixel)
    return per_pixel.sum() / (w * labelled).sum().clamp(min=1e-6)


@dataclass
class StepContext:
    """What one training or validation step needs besides the batch."""

    model: torch.nn.Module
    encoding: str
    device: torch.device
    weights: torch.Tensor | None
    autocast: bool  #: bf16 autocast (cuda)
    channels_last: bool
    camera_height: str = "estimated"  #: the height channel's camera height (:func:`segnet.encodings.encode_batch`)


def _forward(ctx: StepContext, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    if DEPTH_MM in batch:  # compact shards: widen depth and label on the device
        batch = expand({k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()})
    x = encode_batch(ctx.encoding, batch, ctx.device, ctx.camera_height)
    if ctx.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    label = batch[LABEL].to(ctx.device, non_blocking=True)
    with torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16, enabled=ctx.autocast):
        logits = ctx.model(x)
    return logits, label


FINITE_CHECK_EVERY = 10
"""Training steps between two host-side checks for a non-finite loss (each check is one device
synchronisation; the loss is watched on the device at every step and the epoch's end is checked)."""


def train_one_epoch(
    ctx: StepContext, loader, optimizer, scheduler, on_step: Callable[[int, torch.Tensor, float], None] | None = None
) -> dict:
    """One pass over ``loader``; returns loss, pixel accuracy, images, data-wait and compute seconds.

    ``on_step(step, loss, lr)`` follows every step: its number in this pass (1-based), the loss (a
    device tensor: reading it is a host synchronisation) and the learning rate the step used.

    Data wait is the time spent waiting for the next batch; compute is the rest of the epoch's wall
    time (on cuda, after a final synchronisation). Statistics stay on the device until the end.
    A non-finite loss ends the pass within :data:`FINITE_CHECK_EVERY` steps; ``nonfinite_step`` of
    the result is then the first such step (1-based), else None.
    """
    ctx.model.train()
    dev = ctx.device
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.int64)
    labelled = torch.zeros((), device=dev, dtype=torch.int64)
    first_bad = torch.zeros((), device=dev, dtype=torch.int64)  # first step with a non-finite loss, 0 = none
    steps = images = 0
    wait = 0.0
    start = time.perf_counter()
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        wait += time.perf_counter() - t0
        logits, label = _forward(ctx, batch)
        loss = weighted_loss(logits, label, ctx.weights)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            pred = logits.argmax(dim=1) + 1
            loss_sum += loss.detach()
            correct += ((pred == label) & (label > 0)).sum()
            labelled += (label > 0).sum()
            first_bad = torch.where((first_bad == 0) & ~torch.isfinite(loss.detach()), steps + 1, first_bad)
        steps += 1
        images += label.shape[0]
        if on_step is not None:
            on_step(steps, loss.detach(), lr)
        if steps % FINITE_CHECK_EVERY == 0 and int(first_bad):
            break
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - start
    bad_step = int(first_bad) or None
    return {
        "loss": float(loss_sum) / max(steps, 1),
        "acc": float(correct) / max(int(labelled), 1),
        "images": images,
        "data_wait_s": wait,
        "compute_s": elapsed - wait,
        "epoch_s": elapsed,
        "images_per_s": images / elapsed if elapsed > 0 else 0.0,
        "nonfinite_step": bad_step,
    }


@torch.no_grad()
def validate(ctx: StepContext, loader, num_classes: int) -> dict:
    """Validation loss and metrics (``segnet.metrics.scores``) over ``loader``."""
    from segnet.metrics import Confusion

    ctx.model.eval()
    confusion = Confusion(num_classes)
    loss_sum, steps = 0.0, 0
    for batch in loader:
        logits, label = _forward(ctx, batch)
        loss_sum += float(weighted_loss(logits, label, ctx.weights))
        confusion.update(label, logits.argmax(dim=1) + 1)
        steps += 1
    result = confusion.scores()
    result["loss"] = loss_sum / max(steps, 1)
    return result


# --------------------------------------------------------------------------------------- driver


def _finite_model(model: torch.nn.Module) -> bool:
    """Whether every floating parameter and buffer of ``model`` is finite (one host sync)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


READ_BLOCK = 2
"""Consecutive frames of a shard that the training order keeps together (read in one go); small,
since consecutive frames of a trajectory look alike and batches should stay varied."""


def _loader(dataset, batch_size: int, shuffle: bool, workers: int, seed: int, epoch: int, pin: bool):
    """The epoch's DataLoader. Shard-backed views are shuffled in blocks of :data:`READ_BLOCK`
    frames across all shards (seeded by (seed, epoch)); other datasets by a seeded generator.
    A new loader (and new workers) per epoch, since the view's epoch is set in this process."""
    from segnet.datasets.shard_reader import ShardOrderSampler

    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    sampler = None
    if shuffle and getattr(dataset, "offsets", None) is not None:
        sampler = ShardOrderSampler(dataset, seed=seed, block=READ_BLOCK, by_shard=False)
        sampler.set_epoch(epoch)
        shuffle = False
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=workers,
        generator=generator,
        pin_memory=pin,
        drop_last=False,
        prefetch_factor=4 if workers else None,
    )


def _data(config: TrainConfig):
    """The run's training and validation views, their dataset and the validation split's record."""
    size = (config.height, config.width)
    dataset = open_dataset(
        config.dataset,
        config.data,
        "train",
        config.classes,
        config.depth,
        real_depth=config.real_depth,
        synthetic_frames=config.synthetic_frames,
        synthetic_size=size,
        seed=config.seed,
        compact=True,
    )
    if len(dataset) == 0:
        raise SynthcamError(f"no training frames found in {config.data}")
    train_idx, val_idx = split_indices(sample_groups(dataset), config.val_fraction, config.seed)
    train_view = TrainView(
        dataset, train_idx, size, config.augment, config.seed, config.scale_range, config.depth_jitter
    )
    val_view = TrainView(dataset, val_idx, size, augment=False)
    return dataset, train_idx, train_view, val_view, split_record(config, dataset, val_idx)


def _step_logger(bar, run_log: RunLog, done: int, progress: bool) -> Callable[[int, torch.Tensor, float], None]:
    """The ``on_step`` of :func:`train_one_epoch` for one epoch: advance the progress ``bar``, log the
    step to ``run_log`` (``done``: the run's steps before this epoch) and show the loss now and then."""

    def on_step(step: int, loss: torch.Tensor, lr: float) -> None:
        bar.update(1)
        run_log.step(done + step, loss, lr, flush=step % FINITE_CHECK_EVERY == 0)
        if step % 10 == 1 and progress:
            bar.set_postfix(loss=f"{float(loss):.3f}")

    return on_step


def _optimizer(config: TrainConfig, model: torch.nn.Module, cuda: bool) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True if cuda else None
        )
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)


def train(
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    tensorboard: bool = True,
) -> dict:
    """Train (or, with ``resume``, continue) the run in ``out_dir``; returns the last epoch's record.

    With ``resume`` the run's saved config is used, except ``epochs``, ``device`` and
    ``num_workers`` which come from ``config``. ``stop_after`` ends this call after that many more
    epochs (a later ``resume`` continues exactly where it stopped). ``tensorboard``: write
    TensorBoard scalars to ``tb/`` (needs the ``train`` extra; a missing package is one error line
    before anything runs).

    A new run never starts in a directory holding run files. ``config.json`` is written with the
    first completed epoch, after its checkpoints; a first epoch whose files cannot be written (a
    full disk) leaves no run file behind (:func:`segnet.run_dir.save_epoch`). ``history.json`` and
    ``curves.png`` are rewritten after every epoch (:class:`segnet.run_log.RunLog`). A non-finite
    training or validation loss, or non-finite weights, stop the run with a one-line
    :class:`SynthcamError` before anything of that epoch is saved: ``last.pt`` and ``best.pt`` only
    ever hold finite weights.

    The run changes no process-wide state: the caller's torch generator states and
    ``torch.backends.cudnn.benchmark`` (on while a cuda run trains) are the same afterwards
    (:func:`segnet.rng.run_scope`).
    """
    out = Path(out_dir)
    check_out_dir(out, resume)
    state = None
    if resume:
        state = load_checkpoint(out / "last.pt")
        config = replace(
            TrainConfig.from_dict(state["config"]),
            epochs=config.epochs,
            device=config.device,
            num_workers=config.num_workers,
        )
    config.validate()
    writer_class = summary_writer_class() if tensorboard else None
    cuda = torch.device(config.device).type == "cuda"
    with run_scope(config.seed, cudnn_benchmark=True if cuda else None):
        return _run(config, out, state, stop_after, progress, log, writer_class)


def _run(
    config: TrainConfig,
    out: Path,
    state: dict | None,
    stop_after: int | None,
    progress: bool,
    log: Callable[[str], None],
    writer_class,
) -> dict:
    """:func:`train` after its checks, inside the run's own generator scope (``state``: the
    checkpoint resumed from, else None)."""
    from tqdm import tqdm

    resume = state is not None
    init_state = load_checkpoint(config.init) if config.init and not resume else None
    device = torch.device(config.device)
    cuda = device.type == "cuda"
    dataset, train_idx, train_view, val_view, split = _data(config)

    torch.manual_seed(config.seed)
    spec = spec_of(config)
    model = build(spec)
    if init_state is not None:
        reset = init_from_checkpoint(model, config.init, init_state)
        if reset:
            log(f"--init: re-initialised {', '.join(reset)} (class count differs)")
    if state is not None:
        load_weights(model, state["model"], out / "last.pt")
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    optimizer = _optimizer(config, model, cuda)
    steps_per_epoch = math.ceil(len(train_view) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1.0 - s / total) ** 0.9)

    history: list[dict] = []
    best = -math.inf
    start_epoch = 0
    if state is not None:
        load_optimizer_state(optimizer, state["optimizer"], out / "last.pt")
        load_scheduler_state(scheduler, state["scheduler"], out / "last.pt")
        weights_np = np.asarray(state["class_weights"], dtype=np.float32)
        history, best, start_epoch = list(state["history"]), float(state["best"]), int(state["epoch"])
        restore_rng_state(state["rng"], out / "last.pt")
    elif config.balance:
        weights_np = median_frequency_weights(
            dataset, train_idx, config.classes, config.balance_frames, np.random.default_rng([config.seed, 3])
        )
    else:
        weights_np = np.ones(config.classes, dtype=np.float32)
    weights = torch.as_tensor(weights_np, device=device)
    # torch.compile of a module is a module (its stubs say only callable)
    run_model = cast(torch.nn.Module, torch.compile(model)) if config.compile else model
    ctx = StepContext(
        run_model,
        config.encoding,
        device,
        weights,
        autocast=cuda,
        channels_last=cuda,
        camera_height=config.camera_height,
    )

    make_directory(out, "--out")
    run_log = RunLog(out, writer_class, first_step=start_epoch * steps_per_epoch + 1)
    fresh = not resume  # no run file of this directory is saved yet (see segnet.run_dir.save_epoch)
    last_epoch = config.epochs if stop_after is None else min(config.epochs, start_epoch + stop_after)
    record: dict = history[-1] if history else {}
    try:
        for epoch in range(start_epoch, last_epoch):
            train_view.set_epoch(epoch)
            loader = _loader(train_view, config.batch_size, True, config.num_workers, config.seed, epoch, cuda)
            bar = tqdm(
                total=len(loader),
                desc=f"epoch {epoch + 1}/{config.epochs}",
                unit="batch",
                disable=not progress,
                dynamic_ncols=True,
                leave=False,
            )
            on_step = _step_logger(bar, run_log, epoch * steps_per_epoch, progress)
            try:
                stats = train_one_epoch(ctx, loader, optimizer, scheduler, on_step)
            finally:
                bar.close()
            if stats["nonfinite_step"] is not None:
                raise diverged(config, out, epoch + 1, stats["nonfinite_step"], "the training loss is NaN or infinite")
            if not _finite_model(model):
                raise diverged(config, out, epoch + 1, None, "the weights became NaN or infinite")
            record = {
                "epoch": epoch + 1,
                "train_loss": stats["loss"],
                "train_acc": stats["acc"],
                "lr": scheduler.get_last_lr()[0],
                "images_per_s": stats["images_per_s"],
                "data_wait_s": stats["data_wait_s"],
                "compute_s": stats["compute_s"],
            }
            if len(val_view):
                val = validate(
                    ctx,
                    _loader(val_view, config.batch_size, False, config.num_workers, config.seed, 0, cuda),
                    config.classes,
                )
                if not math.isfinite(val["loss"]):
                    raise diverged(config, out, epoch + 1, None, "the validation loss is NaN or infinite")
                record.update(
                    val_loss=val["loss"],
                    val_global_acc=val["global_acc"],
                    val_class_avg_acc=val["class_avg_acc"],
                    val_miou=val["miou"],
                )
                metric = val["class_avg_acc"] if math.isfinite(val["class_avg_acc"]) else -math.inf
            else:
                metric = -stats["loss"]
            history.append(record)
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "config": asdict(config),
                "model_spec": spec.as_dict(),
                "class_weights": weights_np.tolist(),
                "history": history,
                "best": max(best, metric),
                "rng": rng_state(),
                "data_split": split,
            }
            save_epoch(out, state, config, improved=metric > best, first=epoch == start_epoch, fresh=fresh)
            fresh = False
            best = max(best, metric)
            run_log.epoch(history)
            log(epoch_line(record, config.epochs))
    finally:
        run_log.close()
    return record
