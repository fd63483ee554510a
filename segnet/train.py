"""Training of depth-only SegNet models: data, augmentation, class balancing, loop, checkpoints.

Shape of the module (after torchvision's segmentation reference): :func:`open_dataset`,
:func:`split_indices`, :class:`TrainView` (augmentation), :func:`median_frequency_weights`,
:func:`train_one_epoch`, :func:`validate`, :func:`train` (the whole run; ``synthcam train`` calls it).

Run directory (``out``): ``config.json``, ``last.pt`` after every epoch, ``best.pt`` (highest
validation class-average accuracy, SceneNet's headline metric; lowest training loss without a
validation split), ``history.json``, TensorBoard logs in ``tb/`` and ``curves.png`` at the end.
A checkpoint is a dict with ``model``, ``optimizer``, ``scheduler``, ``epoch`` (epochs completed),
``config``, ``model_spec``, ``class_weights``, ``history``, ``best`` and ``rng`` (torch CPU/CUDA
states) so ``resume=True`` continues the identical run. Checkpoints hold only tensors and plain
values and are read with torch's weights-only reader, every entry checked (:func:`load_checkpoint`,
:mod:`segnet.checkpoint`); run files are written under exclusive temporary names and renamed. The
settings are bounded by :mod:`segnet.limits`; a non-finite loss stops the run before it saves.

Determinism: model initialisation and dropout use the global torch generator (seeded with
``config.seed`` and restored on resume); the shuffling order of epoch ``e`` comes from a generator
seeded with (seed, e), and the augmentation of frame ``i`` in epoch ``e`` from
``numpy.random.default_rng([seed, e, i])``, independent of worker count.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from segnet.checkpoint import first_line, not_a_checkpoint, read_state, save_state, write_atomic, write_text
from segnet.checkpoint import load_optimizer_state, load_scheduler_state
from segnet.encodings import check_encoding, encode_batch
from segnet.limits import (MAX_BALANCE_FRAMES, MAX_BATCH_PIXELS, MAX_BATCH_SIZE, MAX_DEPTH_JITTER, MAX_EPOCHS, MAX_LR,
                           MAX_MODEL_WIDTH, MAX_NUM_WORKERS, MAX_SEED, MAX_SIDE, MAX_SYNTHETIC_FRAMES, MAX_WEIGHT_DECAY,
                           MAX_ZOOM)
from segnet.models import MODELS, ModelSpec, build
from synthcam.sample import (CAMERA_HEIGHT, DEPTH, DEPTH_MM, DEPTH_SCALE, GRAVITY, INTRINSICS, LABEL, check_classes,
                             crop_and_resize, expand)
from synthcam.errors import SynthcamError

DATASETS = ("shards", "nyuv2", "sunrgbd", "synthetic")
"""Valid ``dataset`` kinds: generated shards, the real-data readers, or analytic in-memory rooms."""

OPTIMIZERS = ("adamw", "sgd")

DEPTHS = ("noisy", "clean")
"""Which shard depth to train on."""

_DEVICE = re.compile(r"cpu|cuda(:\d{1,3})?")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_type(name: str, value: object, default: object) -> object:
    """``value`` of setting ``name`` as the type of its default (int given for a float is widened);
    any other type raises a one-line :class:`SynthcamError`."""
    flag = name.replace("_", "-")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 2**1000
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:  # the (low, high) tuple of scale_range
        ok = (isinstance(value, (tuple, list)) and len(value) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 2**1000 for v in value))
        value = tuple(float(v) for v in value) if ok else value
    if not ok:
        raise SynthcamError(f"setting {flag} must be {_KIND_NAMES.get(type(default), 'a pair of numbers')}, "
                            f"got {type(value).__name__}")
    return value


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number below 2**1000", str: "a string"}


def _in_range(name: str, value: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise unless ``value`` is finite and inside [low, high] (open ends where asked)."""
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise SynthcamError(f"{name.replace('_', '-')} must be a finite number in {left}{low:g}, {high:g}{right}, got {value}")


@dataclass
class TrainConfig:
    """Every setting of a training run; saved as ``config.json`` and inside every checkpoint."""

    data: str = ""  #: path of the shards directory or real dataset (unused for ``synthetic``)
    dataset: str = "shards"  #: one of :data:`DATASETS`
    encoding: str = "DHA"  #: D, DH, DHA or HHA
    classes: int = 13  #: class space 13, 37 or 40
    model: str = "segnet"  #: segnet or segnet-basic
    model_width: float = 1.0  #: channel multiplier, (0, MAX_MODEL_WIDTH]
    dropout: float = 0.0  #: > 0: Bayesian SegNet dropout variant
    epochs: int = 10  #: 1..MAX_EPOCHS
    batch_size: int = 8  #: 1..MAX_BATCH_SIZE
    lr: float = 1e-3  #: peak learning rate, (0, MAX_LR]; polynomial decay (power 0.9) per iteration to 0
    optimizer: str = "adamw"  #: adamw or sgd (momentum 0.9)
    weight_decay: float = 1e-4  #: [0, MAX_WEIGHT_DECAY]
    height: int = 240  #: training crop height in pixels, 1..MAX_SIDE
    width: int = 320  #: training crop width in pixels, 1..MAX_SIDE
    val_fraction: float = 0.1  #: fraction of shards (groups) held out for validation
    augment: bool = True  #: flip, scale+crop, depth-scale jitter
    scale_range: tuple[float, float] = (1.0, 1.5)  #: zoom range above the scale at which the crop covers the frame
    depth_jitter: float = 0.05  #: depth (and camera height) multiplied by 1 + U(-j, j)
    balance: bool = True  #: median-frequency class weights
    balance_frames: int = 200  #: frames sampled to estimate the class frequencies
    depth: str = "noisy"  #: shards: noisy or clean depth
    synthetic_frames: int = 64  #: frames of the ``synthetic`` dataset
    num_workers: int = 0
    seed: int = 0  #: 0..MAX_SEED
    device: str = "cpu"  #: cpu or cuda (bf16 autocast + channels_last on cuda)
    compile: bool = False  #: torch.compile the model (cuda)
    init: str = ""  #: checkpoint whose weights initialise the model (fine-tuning)

    def check_values(self) -> None:
        """Raise a one-line :class:`SynthcamError` for a setting of the wrong type or out of range.

        Needs nothing but the values (no files, no devices): also applied to the config stored in a
        checkpoint. See the ``MAX_*`` constants of this module for the limits.
        """
        for f in fields(self):
            setattr(self, f.name, _check_type(f.name, getattr(self, f.name), f.default))
        check_encoding(self.encoding)
        check_classes(self.classes)
        if self.model not in MODELS:
            raise SynthcamError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.dataset not in DATASETS:
            raise SynthcamError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.optimizer not in OPTIMIZERS:
            raise SynthcamError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.depth not in DEPTHS:
            raise SynthcamError(f"unknown depth {self.depth!r}; choose one of {', '.join(DEPTHS)}")
        if not _DEVICE.fullmatch(self.device):
            raise SynthcamError(f"unknown device {self.device!r}; choose cpu, cuda or cuda:N")
        _in_range("model_width", self.model_width, 0.0, MAX_MODEL_WIDTH, low_open=True)
        _in_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _in_range("lr", self.lr, 0.0, MAX_LR, low_open=True)
        _in_range("weight_decay", self.weight_decay, 0.0, MAX_WEIGHT_DECAY)
        _in_range("val_fraction", self.val_fraction, 0.0, 1.0, high_open=True)
        _in_range("depth_jitter", self.depth_jitter, 0.0, MAX_DEPTH_JITTER)
        low, high = self.scale_range
        _in_range("scale_range", low, 0.0, MAX_ZOOM, low_open=True)
        _in_range("scale_range", high, low, MAX_ZOOM)
        for name, low_int, high_int in (("epochs", 1, MAX_EPOCHS), ("batch_size", 1, MAX_BATCH_SIZE),
                                        ("height", 1, MAX_SIDE), ("width", 1, MAX_SIDE),
                                        ("synthetic_frames", 1, MAX_SYNTHETIC_FRAMES),
                                        ("balance_frames", 1, MAX_BALANCE_FRAMES),
                                        ("num_workers", 0, MAX_NUM_WORKERS), ("seed", 0, MAX_SEED)):
            value = getattr(self, name)
            if not low_int <= value <= high_int:
                shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:20]}... ({len(str(value))} digits)"
                raise SynthcamError(f"{name.replace('_', '-')} must be in {low_int}..{high_int}, got {shown}")
        pixels = self.batch_size * self.height * self.width
        if pixels > MAX_BATCH_PIXELS:
            raise SynthcamError(f"a batch of {self.batch_size} crops of {self.width}x{self.height} is {pixels} pixels, "
                                f"more than the {MAX_BATCH_PIXELS} allowed; lower --batch-size or --height/--width")

    def validate(self) -> None:
        """:meth:`check_values`, then the data path and device of this machine; one-line errors."""
        self.check_values()
        if self.dataset != "synthetic" and not self.data:
            raise SynthcamError(f"--data PATH is needed for dataset {self.dataset}")
        if self.dataset != "synthetic" and not Path(self.data).exists():
            raise SynthcamError(f"data path {self.data} does not exist; pass the directory of shards or the dataset path")
        cores = usable_cores()
        if self.num_workers > cores:
            raise SynthcamError(f"num-workers must be at most {cores} (the usable CPU cores), got {self.num_workers}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise SynthcamError("--device cuda but no CUDA GPU is visible; use --device cpu")
        if self.device.startswith("cuda:") and int(self.device[5:]) >= torch.cuda.device_count():
            raise SynthcamError(f"--device {self.device}: this machine has {torch.cuda.device_count()} CUDA GPUs")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config of a ``config`` dict (as saved in checkpoints), checked by :meth:`check_values`.

        Missing settings take their defaults; an unknown setting or a value of the wrong type
        raises a one-line :class:`SynthcamError`.
        """
        if not isinstance(d, dict):
            raise SynthcamError(f"a config must be a dict of settings, got {type(d).__name__}")
        known = {f.name: f.default for f in fields(cls)}
        for key in d:
            if key not in known:
                raise SynthcamError(f"unknown setting {str(key)[:40]!r}")
        config = cls(**{k: _check_type(k, v, known[k]) for k, v in d.items()})
        config.check_values()
        return config


# --------------------------------------------------------------------------------------- data

def open_dataset(kind: str, path: str, split: str, classes: int, depth: str = "noisy", *,
                 synthetic_frames: int = 64, synthetic_size: tuple[int, int] = (48, 64), seed: int = 0,
                 compact: bool = False):
    """The Dataset for ``kind`` (see :data:`DATASETS`) in the shared sample layout; ``compact``:
    shards give compact samples (see :func:`synthcam.sample.expand`), other kinds ignore it."""
    if kind == "synthetic":
        from segnet.synthetic import SyntheticRooms

        return SyntheticRooms(synthetic_frames, width=synthetic_size[1], height=synthetic_size[0],
                              classes=classes, seed=seed + (0 if split == "train" else 10_000))
    if kind in ("shards", "nyuv2", "sunrgbd"):
        from segnet.datasets import make_dataset

        if kind == "shards":
            return make_dataset("shards", path, None, classes, depth=depth, compact=compact)
        return make_dataset(kind, path, split, classes)
    raise SynthcamError(f"unknown dataset {kind!r}; choose one of {', '.join(DATASETS)}")


def sample_groups(dataset) -> np.ndarray:
    """(N,) group id per sample (shard / trajectory / room) for leakage-free splits.

    Uses ``dataset.groups`` when the dataset has it (the synthetic rooms), the shard of each frame
    for the shard reader (from its ``offsets``), otherwise every sample is its own group.
    """
    groups = getattr(dataset, "groups", None)
    offsets = getattr(dataset, "offsets", None)
    if groups is None and offsets is not None:
        groups = np.repeat(np.arange(len(offsets) - 1), np.diff(np.asarray(offsets)))
    if groups is None:
        return np.arange(len(dataset))
    groups = np.asarray(groups)
    if groups.shape != (len(dataset),):
        raise ValueError(f"dataset.groups has shape {groups.shape}, expected ({len(dataset)},)")
    return groups


def split_indices(groups: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) sample indices: ``ceil(val_fraction * groups)`` whole groups go to validation."""
    n = len(groups)
    if val_fraction <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    unique = np.unique(groups)
    if len(unique) < 2:
        raise SynthcamError("a validation split needs at least 2 shards (trajectories); add data or pass --val-fraction 0")
    rng = np.random.default_rng([seed, 7])
    n_val = min(len(unique) - 1, max(1, math.ceil(val_fraction * len(unique))))
    val_groups = rng.permutation(unique)[:n_val]
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def hflip(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mirror a sample left-right: depth (or compact depth_mm), label, cx -> W - cx, gravity x -> -x
    (pose is kept)."""
    out = dict(sample)
    width = sample[LABEL].shape[-1]
    key = DEPTH if DEPTH in sample else DEPTH_MM
    depth = sample[key]
    if depth.dtype == torch.uint16:  # torch has no uint16 flip; the same bits as int16
        out[key] = depth.view(torch.int16).flip(-1).view(torch.uint16)
    else:
        out[key] = depth.flip(-1)
    out[LABEL] = sample[LABEL].flip(-1)
    k = sample[INTRINSICS].clone()
    k[2] = width - k[2]
    out[INTRINSICS] = k
    g = sample[GRAVITY].clone()
    g[0] = -g[0]
    out[GRAVITY] = g
    return out


class TrainView(torch.utils.data.Dataset):
    """``base[indices[i]]`` brought to ``size`` = (height, width), with optional augmentation.

    Without augmentation a frame is resized (nearest) to ``size``. With it: a zoom ``f = f0 * U(lo,
    hi)`` where ``f0`` makes the crop just cover the frame, a random ``size`` crop at that zoom
    (nearest resampling; intrinsics follow), a horizontal flip with probability 0.5 (:func:`hflip`)
    and a depth-scale factor ``1 + U(-j, j)`` applied to depth and camera height (a uniformly scaled
    world). Call :meth:`set_epoch` before each epoch; draws come from ``default_rng([seed, epoch, i])``.
    Compact samples (uint16 ``depth_mm``) stay compact: the depth factor travels as ``depth_scale``
    for :func:`synthcam.sample.expand`, which gives the same float depth as scaling here.
    ``offsets`` (for :class:`~synthcam.reader.ShardOrderSampler`): runs of view indices that are
    consecutive frames of one shard of ``base``, or None when ``base`` has no shards.
    """

    def __init__(self, base, indices: np.ndarray, size: tuple[int, int], augment: bool = False, seed: int = 0,
                 scale_range: tuple[float, float] = (1.0, 1.5), depth_jitter: float = 0.05) -> None:
        self.base, self.indices, self.size = base, np.asarray(indices, dtype=np.int64), tuple(size)
        self.augment, self.seed, self.scale_range, self.depth_jitter = augment, seed, scale_range, depth_jitter
        self.epoch = 0
        self.offsets = None
        base_offsets = getattr(base, "offsets", None)
        if base_offsets is not None:
            shard = np.searchsorted(np.asarray(base_offsets), self.indices, side="right")
            ends = np.flatnonzero((np.diff(shard) != 0) | (np.diff(self.indices) != 1)) + 1
            self.offsets = np.concatenate([[0], ends, [len(self.indices)]]).astype(np.int64)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self._view(int(i), self.base[int(self.indices[i])])

    def __getitems__(self, items: list[int]) -> list[dict[str, torch.Tensor]]:
        """The samples of a batch; a base with ``__getitems__`` (the shard reader) reads them in one go."""
        read = getattr(self.base, "__getitems__", None)
        index = [int(self.indices[i]) for i in items]
        samples = read(index) if read is not None else [self.base[k] for k in index]
        return [self._view(int(i), sample) for i, sample in zip(items, samples)]

    def _view(self, i: int, sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        index = int(self.indices[i])
        out_h, out_w = self.size
        h, w = sample[LABEL].shape[-2:]
        if not self.augment:
            return crop_and_resize(sample, resize=(out_h, out_w)) if (h, w) != (out_h, out_w) else sample
        rng = np.random.default_rng([self.seed, self.epoch, index])
        zoom = max(out_h / h, out_w / w) * rng.uniform(*self.scale_range)
        win_h, win_w = min(h, max(1, round(out_h / zoom))), min(w, max(1, round(out_w / zoom)))
        top, left = int(rng.integers(0, h - win_h + 1)), int(rng.integers(0, w - win_w + 1))
        sample = crop_and_resize(sample, crop=(top, left, win_h, win_w), resize=(out_h, out_w))
        if rng.random() < 0.5:
            sample = hflip(sample)
        if self.depth_jitter > 0:
            s = 1.0 + rng.uniform(-self.depth_jitter, self.depth_jitter)
            if DEPTH in sample:
                sample[DEPTH] = sample[DEPTH] * s
            else:
                sample[DEPTH_SCALE] = torch.tensor(s, dtype=torch.float32)
            sample[CAMERA_HEIGHT] = sample[CAMERA_HEIGHT] * s
        return sample


def median_frequency_weights(dataset, indices: np.ndarray, num_classes: int, frames: int,
                             rng: np.random.Generator) -> np.ndarray:
    """(C,) float32 median-frequency class weights (Eigen & Fergus, as used by SegNet).

    freq(c) = pixels of class c / all pixels of the images in which c occurs, over up to ``frames``
    frames drawn without replacement from ``indices``; weight(c) = median(freq) / freq(c), the
    median taken over the classes that occur. Classes that never occur in the sample get weight 1.
    """
    indices = np.asarray(indices)
    if len(indices) > frames:
        indices = np.sort(rng.choice(indices, size=frames, replace=False))
    class_pixels = np.zeros(num_classes, dtype=np.float64)
    image_pixels = np.zeros(num_classes, dtype=np.float64)
    for index in indices:
        label = dataset[int(index)][LABEL].reshape(-1).to(torch.int64)
        counts = torch.bincount(label.clamp(0, num_classes), minlength=num_classes + 1)[1:].double().numpy()
        class_pixels += counts
        image_pixels += np.where(counts > 0, label.numel(), 0)
    present = class_pixels > 0
    weights = np.ones(num_classes, dtype=np.float64)
    if present.any():
        freq = class_pixels[present] / image_pixels[present]
        weights[present] = np.median(freq) / freq
    return weights.astype(np.float32)


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


def _forward(ctx: StepContext, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    if DEPTH_MM in batch:  # compact shards: widen depth and label on the device
        batch = expand({k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()})
    x = encode_batch(ctx.encoding, batch, ctx.device)
    if ctx.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    label = batch[LABEL].to(ctx.device, non_blocking=True)
    with torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16, enabled=ctx.autocast):
        logits = ctx.model(x)
    return logits, label


FINITE_CHECK_EVERY = 10
"""Training steps between two host-side checks for a non-finite loss (each check is one device
synchronisation; the loss is watched on the device at every step and the epoch's end is checked)."""


def train_one_epoch(ctx: StepContext, loader, optimizer, scheduler, on_step: Callable[[int, float], None] | None = None) -> dict:
    """One pass over ``loader``; returns loss, pixel accuracy, images, data-wait and compute seconds.

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
            on_step(steps, loss.detach())
        if steps % FINITE_CHECK_EVERY == 0 and int(first_bad):
            break
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - start
    bad_step = int(first_bad) or None
    return {"loss": float(loss_sum) / max(steps, 1), "acc": float(correct) / max(int(labelled), 1),
            "images": images, "data_wait_s": wait, "compute_s": elapsed - wait, "epoch_s": elapsed,
            "images_per_s": images / elapsed if elapsed > 0 else 0.0, "nonfinite_step": bad_step}


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


# --------------------------------------------------------------------------------------- checkpoints

CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "config", "model_spec", "class_weights", "history",
                   "best", "rng")
"""The entries of every checkpoint :func:`train` writes (and the only ones :func:`load_checkpoint` accepts)."""

RUN_FILES = ("last.pt", "best.pt", "config.json", "history.json", "curves.png")
"""Files of a run directory; a new run never starts in a directory that holds any of them."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` with torch.save under a fresh temporary name, then rename (never a half
    file, never a file this tool did not create; see :func:`segnet.checkpoint.write_atomic`)."""
    save_state(path, state)


def _spec_of(config: TrainConfig) -> ModelSpec:
    """The model a run with ``config`` trains."""
    return ModelSpec(config.model, check_encoding(config.encoding), config.classes, config.model_width, config.dropout)


def _check_model_weights(weights: object, path: Path) -> None:
    """Refuse a model state that is not a dict of named tensors, or holds non-finite weights."""
    if not isinstance(weights, dict) or not weights:
        raise not_a_checkpoint(path, "its model entry is not a dict of named tensors")
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise not_a_checkpoint(path, "its model entry is not a dict of named tensors")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise not_a_checkpoint(path, f"its weight {key[:60]} holds NaN or infinite values (a diverged run)")


def _check_run_entries(state: dict, config: TrainConfig, path: Path) -> None:
    """Refuse epoch, best, class weights, history and RNG entries of the wrong kind or range."""
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= MAX_EPOCHS:
        raise not_a_checkpoint(path, f"its epoch must be an integer in 0..{MAX_EPOCHS}")
    best = state["best"]
    if not isinstance(best, (int, float)) or isinstance(best, bool) or math.isnan(best):
        raise not_a_checkpoint(path, "its best metric is not a number")
    weights = state["class_weights"]
    if (not isinstance(weights, list) or len(weights) != config.classes
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0 for w in weights)):
        raise not_a_checkpoint(path, f"its class_weights must be {config.classes} positive finite numbers")
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        raise not_a_checkpoint(path, "its history must list one record per completed epoch")
    for record in history:
        if (not isinstance(record, dict) or not {"epoch", "train_loss", "train_acc"} <= set(record)
                or not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                           for k, v in record.items())):
            raise not_a_checkpoint(path, "its history records must map names to numbers")
    rng = state["rng"]
    reference = torch.get_rng_state()
    if not isinstance(rng, dict) or not set(rng) <= {"torch", "cuda"} or not _is_rng(rng.get("torch"), reference.numel()):
        raise not_a_checkpoint(path, "its rng entry is not a torch generator state")
    cuda = rng.get("cuda", [])
    if not isinstance(cuda, list) or not all(_is_rng(s, None) for s in cuda):
        raise not_a_checkpoint(path, "its rng entry is not a torch generator state")
    for key in ("optimizer", "scheduler"):
        if not isinstance(state[key], dict):
            raise not_a_checkpoint(path, f"its {key} entry is not a dict")


def _is_rng(value: object, size: int | None) -> bool:
    """Whether ``value`` is a 1-D uint8 generator state (of ``size`` bytes when given)."""
    return (isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1
            and (size is None or value.numel() == size))


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint dict written by :func:`train`, every entry checked; ``config`` is returned as
    the checked settings (a plain dict, see :meth:`TrainConfig.from_dict`).

    Read with torch's weights-only reader (:func:`segnet.checkpoint.read_state`): nothing in the
    file can run code. A missing file, a file that is not a checkpoint, a missing or unknown entry,
    a config of wrong types, unknown settings or values out of range, a model_spec that is not the
    config's model, or NaN/infinite weights raise a one-line :class:`SynthcamError`.
    """
    path = Path(path)
    state = read_state(path)
    if not isinstance(state, dict):
        raise not_a_checkpoint(path, f"it holds a {type(state).__name__}, not a dict of run state")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise not_a_checkpoint(path, f"it lacks the entry {missing[0]!r}")
    unknown = [str(key) for key in state if key not in CHECKPOINT_KEYS]
    if unknown:
        raise not_a_checkpoint(path, f"it has an unknown entry {unknown[0][:40]!r}")
    try:
        config = TrainConfig.from_dict(state["config"])
    except SynthcamError as exc:
        raise not_a_checkpoint(path, f"its config: {exc}") from None
    if not isinstance(state["model_spec"], dict) or state["model_spec"] != _spec_of(config).as_dict():
        raise not_a_checkpoint(path, "its model_spec is not the model its config describes")
    _check_model_weights(state["model"], path)
    _check_run_entries(state, config, path)
    state["config"] = asdict(config)
    state["model_spec"] = _spec_of(config).as_dict()
    return state


def _load_weights(model: torch.nn.Module, weights: dict, path: str | Path) -> None:
    """``model.load_state_dict(weights)`` (strict); a mismatch raises a one-line SynthcamError."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise not_a_checkpoint(path, f"its weights do not fit its model: {first_line(exc)}") from None


def model_from_checkpoint(state: dict, path: str | Path = "checkpoint") -> torch.nn.Module:
    """The model of a checkpoint (from :func:`load_checkpoint`) with its weights loaded (CPU, eval mode)."""
    model = build(ModelSpec(**state["model_spec"]))
    _load_weights(model, state["model"], path)
    return model.eval()


def init_from_checkpoint(model: torch.nn.Module, path: str | Path, state: dict | None = None) -> list[str]:
    """Load a checkpoint's weights for fine-tuning; returns the names of re-initialised tensors.

    The architecture must match, except the final classifier: when the class count differs (e.g.
    40 -> 13 classes), the classifier keeps its fresh initialisation. Any other mismatch raises.
    ``state``: the checkpoint at ``path`` when already read with :func:`load_checkpoint`.
    """
    source = (state if state is not None else load_checkpoint(path))["model"]
    own = model.state_dict()
    skipped = []
    for key, value in source.items():
        if key not in own:
            raise SynthcamError(f"--init {path}: its model has tensor {key[:60]} that this model lacks; use the same --model and --width")
        if own[key].shape != value.shape:
            if key.startswith("classifier."):
                skipped.append(key)
                continue
            raise SynthcamError(f"--init {path}: {key} has shape {tuple(value.shape)} there but {tuple(own[key].shape)} here; "
                                "use the same --model, --width and --encoding")
        if own[key].dtype != value.dtype:
            raise SynthcamError(f"--init {path}: {key} is {value.dtype} there but {own[key].dtype} here; "
                                "pass a checkpoint written by 'synthcam train'")
        own[key] = value
    missing = set(own) - set(source)
    if missing:
        raise SynthcamError(f"--init {path}: the checkpoint lacks {sorted(missing)[0]}; use the same --model")
    model.load_state_dict(own)
    return skipped


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, path: str | Path) -> None:
    """Restore the generator states of a checked checkpoint; a state torch refuses raises one line."""
    try:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise not_a_checkpoint(path, f"its rng state does not load: {first_line(exc)}") from None


def _finite_model(model: torch.nn.Module) -> bool:
    """Whether every floating parameter and buffer of ``model`` is finite (one host sync)."""
    checks = [torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()]
    return bool(torch.stack(checks).all()) if checks else True


def save_curves(history: list[dict], path: Path) -> None:
    """Plot loss and accuracy per epoch (train and validation) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if any("val_loss" in h for h in history):
        ax_loss.plot(epochs, [h.get("val_loss", np.nan) for h in history], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="weighted cross entropy", title="loss")
    ax_acc.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label="train pixel acc")
    for key, name in (("val_global_acc", "val global acc"), ("val_class_avg_acc", "val class-avg acc"), ("val_miou", "val mIoU")):
        if any(key in h for h in history):
            ax_acc.plot(epochs, [100 * h.get(key, np.nan) for h in history], "o-", label=name)
    ax_acc.set(xlabel="epoch", ylabel="%", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    try:
        write_atomic(path, lambda file: fig.savefig(file, format="png", dpi=100))
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------- driver

READ_BLOCK = 2
"""Consecutive frames of a shard that the training order keeps together (read in one go); small,
since consecutive frames of a trajectory look alike and batches should stay varied."""


def _loader(dataset, batch_size: int, shuffle: bool, workers: int, seed: int, epoch: int, pin: bool):
    """The epoch's DataLoader. Shard-backed views are shuffled in blocks of :data:`READ_BLOCK`
    frames across all shards (seeded by (seed, epoch)); other datasets by a seeded generator.
    A new loader (and new workers) per epoch, since the view's epoch is set in this process."""
    from synthcam.reader import ShardOrderSampler

    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    sampler = None
    if shuffle and getattr(dataset, "offsets", None) is not None:
        sampler = ShardOrderSampler(dataset, seed=seed, block=READ_BLOCK, by_shard=False)
        sampler.set_epoch(epoch)
        shuffle = False
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, sampler=sampler,
                                       num_workers=workers, generator=generator, pin_memory=pin, drop_last=False,
                                       prefetch_factor=4 if workers else None)


def _check_out(out: Path, resume: bool) -> None:
    """Refuse an ``out`` that is a file, a new run in a directory that already holds run files
    (:data:`RUN_FILES`; they are never replaced by a new run), and a resume without ``last.pt`` or
    with a run file that is not a regular file."""
    if out.exists() and not out.is_dir():
        raise SynthcamError(f"--out {out} is a file; pass a directory for the run")
    if not resume:
        for name in RUN_FILES:
            if (out / name).exists() or (out / name).is_symlink():
                raise SynthcamError(f"{out} already holds {name} of a run; pass --resume to continue it or choose another --out")
        return
    if not (out / "last.pt").exists():
        raise SynthcamError(f"nothing to resume: {out / 'last.pt'} does not exist")
    for name in RUN_FILES:
        if name != "last.pt" and (out / name).exists() and not (out / name).is_file():
            raise SynthcamError(f"{out / name} is not a file this run wrote; move it away, then --resume again")


def _diverged(config: TrainConfig, out: Path, epoch: int, step: int | None, what: str) -> SynthcamError:
    """The one-line error for a run whose loss or weights stopped being finite."""
    at = f"epoch {epoch}, step {step}" if step else f"epoch {epoch}"
    saved = out / "last.pt"
    keep = (f"; last.pt and best.pt keep epoch {epoch - 1}, so a new run with --init {saved} starts from them"
            if saved.is_file() and epoch > 1 else "; no checkpoint was written")
    return SynthcamError(f"training diverged: {what} at {at}{keep}; lower --lr (it is {config.lr:g}) "
                         f"or check the data")


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, stop_after: int | None = None,
          progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train (or, with ``resume``, continue) the run in ``out_dir``; returns the last epoch's record.

    With ``resume`` the run's saved config is used, except ``epochs``, ``device`` and
    ``num_workers`` which come from ``config``. ``stop_after`` ends this call after that many more
    epochs (a later ``resume`` continues exactly where it stopped).

    A new run never starts in a directory holding run files. ``config.json`` and the TensorBoard
    log are written with the first completed epoch. A non-finite training or validation loss, or
    non-finite weights, stop the run with a one-line :class:`SynthcamError` before anything of that
    epoch is saved: ``last.pt`` and ``best.pt`` only ever hold finite weights.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    _check_out(out, resume)
    if resume:
        state = load_checkpoint(out / "last.pt")
        saved = TrainConfig.from_dict(state["config"])
        saved.epochs, saved.device, saved.num_workers = config.epochs, config.device, config.num_workers
        config = saved
    config.validate()
    init_state = load_checkpoint(config.init) if config.init and not resume else None

    device = torch.device(config.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    size = (config.height, config.width)
    dataset = open_dataset(config.dataset, config.data, "train", config.classes, config.depth,
                           synthetic_frames=config.synthetic_frames, synthetic_size=size, seed=config.seed, compact=True)
    if len(dataset) == 0:
        raise SynthcamError(f"no training frames found in {config.data}")
    train_idx, val_idx = split_indices(sample_groups(dataset), config.val_fraction, config.seed)
    train_view = TrainView(dataset, train_idx, size, config.augment, config.seed, config.scale_range, config.depth_jitter)
    val_view = TrainView(dataset, val_idx, size, augment=False)

    torch.manual_seed(config.seed)
    spec = _spec_of(config)
    model = build(spec)
    if init_state is not None:
        reset = init_from_checkpoint(model, config.init, init_state)
        if reset:
            log(f"--init: re-initialised {', '.join(reset)} (class count differs)")
    if resume:
        _load_weights(model, state["model"], out / "last.pt")
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                      fused=True if cuda else None)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_view) / config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1.0 - s / total) ** 0.9)

    history: list[dict] = []
    best = -math.inf
    start_epoch = 0
    if resume:
        load_optimizer_state(optimizer, state["optimizer"], out / "last.pt")
        load_scheduler_state(scheduler, state["scheduler"], out / "last.pt")
        weights_np = np.asarray(state["class_weights"], dtype=np.float32)
        history, best, start_epoch = list(state["history"]), float(state["best"]), int(state["epoch"])
        _set_rng_state(state["rng"], out / "last.pt")
    elif config.balance:
        weights_np = median_frequency_weights(dataset, train_idx, config.classes, config.balance_frames,
                                              np.random.default_rng([config.seed, 3]))
    else:
        weights_np = np.ones(config.classes, dtype=np.float32)
    weights = torch.as_tensor(weights_np, device=device)
    run_model = torch.compile(model) if config.compile else model
    ctx = StepContext(run_model, config.encoding, device, weights, autocast=cuda, channels_last=cuda)

    from torch.utils.tensorboard import SummaryWriter

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"cannot create --out {out}: {exc.strerror}; choose a writable directory") from None
    writers: list = []  # the TensorBoard writer, opened with the first completed epoch
    last_epoch = config.epochs if stop_after is None else min(config.epochs, start_epoch + stop_after)
    record: dict = history[-1] if history else {}
    try:
        for epoch in range(start_epoch, last_epoch):
            train_view.set_epoch(epoch)
            loader = _loader(train_view, config.batch_size, True, config.num_workers, config.seed, epoch, cuda)
            bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                       disable=not progress, dynamic_ncols=True, leave=False)

            def on_step(step: int, loss: torch.Tensor) -> None:
                bar.update(1)
                if step % 10 == 1 and progress:
                    bar.set_postfix(loss=f"{float(loss):.3f}")

            try:
                stats = train_one_epoch(ctx, loader, optimizer, scheduler, on_step)
            finally:
                bar.close()
            if stats["nonfinite_step"] is not None:
                raise _diverged(config, out, epoch + 1, stats["nonfinite_step"], "the training loss is NaN or infinite")
            if not _finite_model(model):
                raise _diverged(config, out, epoch + 1, None, "the weights became NaN or infinite")
            record = {"epoch": epoch + 1, "train_loss": stats["loss"], "train_acc": stats["acc"],
                      "lr": scheduler.get_last_lr()[0], "images_per_s": stats["images_per_s"],
                      "data_wait_s": stats["data_wait_s"], "compute_s": stats["compute_s"]}
            if len(val_view):
                val = validate(ctx, _loader(val_view, config.batch_size, False, config.num_workers, config.seed, 0, cuda),
                               config.classes)
                if not math.isfinite(val["loss"]):
                    raise _diverged(config, out, epoch + 1, None, "the validation loss is NaN or infinite")
                record.update(val_loss=val["loss"], val_global_acc=val["global_acc"],
                              val_class_avg_acc=val["class_avg_acc"], val_miou=val["miou"])
                metric = val["class_avg_acc"] if math.isfinite(val["class_avg_acc"]) else -math.inf
            else:
                metric = -stats["loss"]
            history.append(record)
            if not writers:
                write_text(out / "config.json", json.dumps(asdict(config), indent=1) + "\n")
                writers.append(SummaryWriter(log_dir=str(out / "tb")))
            for key, value in record.items():
                if key != "epoch":
                    writers[0].add_scalar(key.replace("_", "/", 1), value, epoch + 1)
            writers[0].flush()
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "epoch": epoch + 1, "config": asdict(config), "model_spec": spec.as_dict(),
                     "class_weights": weights_np.tolist(), "history": history, "best": max(best, metric), "rng": _rng_state()}
            save_checkpoint(out / "last.pt", state)
            if metric > best:
                best = metric
                save_checkpoint(out / "best.pt", state)
            log(_epoch_line(record, config.epochs))
    finally:
        for writer in writers:
            writer.close()
    if history:
        write_text(out / "history.json", _strict_json(history))
        save_curves(history, out / "curves.png")
    return record


def _strict_json(history: list[dict]) -> str:
    """``history`` as standard JSON: an undefined metric (NaN, e.g. class-average accuracy of a
    validation split without labelled pixels) becomes null."""
    clean = [{k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in r.items()} for r in history]
    return json.dumps(clean, indent=1, allow_nan=False) + "\n"


def _epoch_line(r: dict, epochs: int) -> str:
    line = (f"epoch {r['epoch']}/{epochs}: loss {r['train_loss']:.4f}, acc {100 * r['train_acc']:.1f} %, "
            f"{r['images_per_s']:.1f} img/s (data wait {r['data_wait_s']:.1f} s, compute {r['compute_s']:.1f} s)")
    if "val_loss" in r:
        line += (f"; val loss {r['val_loss']:.4f}, global {100 * r['val_global_acc']:.1f} %, "
                 f"class-avg {100 * r['val_class_avg_acc']:.1f} %, mIoU {100 * r['val_miou']:.1f} %")
    return line
