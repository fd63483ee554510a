"""Settings of a training run: :class:`TrainConfig` and the checks of its values.

Owns the valid kinds of dataset, optimizer, depth and device, the type and range checks of every
setting (limits in :mod:`segnet.limits`) and the checks against this machine (data path, usable
CPU cores, CUDA devices). A saved ``config`` dict (``config.json``, every checkpoint) comes back
through :meth:`TrainConfig.from_dict`, checked the same way. Imports nothing heavy at module level
(torch and the model registry are imported by the checks that need them).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from segnet.limits import (
    MAX_BALANCE_FRAMES,
    MAX_BATCH_PIXELS,
    MAX_BATCH_SIZE,
    MAX_DEPTH_JITTER,
    MAX_EPOCHS,
    MAX_LR,
    MAX_MODEL_WIDTH,
    MAX_NUM_WORKERS,
    MAX_SEED,
    MAX_SIDE,
    MAX_SYNTHETIC_FRAMES,
    MAX_WEIGHT_DECAY,
    MAX_ZOOM,
)
from synthcam_core.errors import SynthcamError

DATASETS = ("shards", "nyuv2", "sunrgbd", "synthetic")
"""Valid ``dataset`` kinds: generated shards, the real-data readers, or analytic in-memory rooms."""

OPTIMIZERS = ("adamw", "sgd")

DEPTHS = ("noisy", "clean")
"""Which shard depth to train on."""

REAL_DEPTHS = ("filled", "raw")
"""Which depth of a real dataset to read: filled (in-painted; NYUv2 ``depths``, SUN RGB-D
``depth_bfx``, a real folder's ``NAME_depth.png``) or raw sensor depth with its holes (NYUv2
``rawDepths``, SUN RGB-D ``depth``, ``NAME_raw.png``)."""

LEGACY_DEFAULTS = {"camera_height": "true"}
"""Settings whose default changed, with the value a saved config that lacks them was trained with
(runs made before the height channel estimated the floor on generated frames used the true height)."""

_DEVICE = re.compile(r"cpu|cuda(:\d{1,3})?")


def check_device_name(device: object) -> None:
    """Raise a one-line :class:`SynthcamError` unless ``device`` is ``cpu``, ``cuda`` or ``cuda:N``."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise SynthcamError(f"unknown device {device!r}; choose cpu, cuda or cuda:N")


def check_device(device: object) -> None:
    """:func:`check_device_name`, then that this machine has the CUDA device it names; one-line errors."""
    check_device_name(device)
    assert isinstance(device, str)  # check_device_name refuses anything else
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise SynthcamError("--device cuda but no CUDA GPU is visible; use --device cpu")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise SynthcamError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA GPUs")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_type(name: str, value: Any, default: object) -> Any:
    """``value`` of setting ``name`` as the type of its default (int given for a float is widened);
    any other type raises a one-line :class:`SynthcamError`."""
    flag = name.replace("_", "-")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = _is_real(value)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:  # the (low, high) tuple of scale_range
        ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_real(v) for v in value)
        value = tuple(float(v) for v in value) if ok else value
    if not ok:
        raise SynthcamError(
            f"setting {flag} must be {_KIND_NAMES.get(type(default), 'a pair of numbers')}, got {type(value).__name__}"
        )
    return value


def _is_real(value: object) -> bool:
    """Whether ``value`` is a float (NaN and infinities included: the range checks refuse those by
    name) or an int below 2**1000 in size (so that ``float(value)`` holds it)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and abs(value) < 2**1000)


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number below 2**1000", str: "a string"}


def _in_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> None:
    """Raise unless ``value`` is finite and inside [low, high] (open ends where asked)."""
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise SynthcamError(
            f"{name.replace('_', '-')} must be a finite number in {left}{low:g}, {high:g}{right}, got {value}"
        )


def _setting(default, help: str):
    """A field with its command-line help text (``synthcam train`` builds its options from these)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; saved as ``config.json`` (and ``config.yaml``) and inside every
    checkpoint. Frozen: a changed copy is ``dataclasses.replace(config, field=value)``."""

    data: str = _setting(
        "",
        "Directory of shards, or the NYUv2 .mat / SUN RGB-D root for --dataset nyuv2|sunrgbd (unused for synthetic).",
    )
    dataset: str = _setting("shards", "Dataset kind: shards, nyuv2, sunrgbd, or synthetic (analytic rooms, no files).")
    encoding: str = _setting("DHA", "Input encoding: D, DH, DHA or HHA.")
    classes: int = _setting(13, "Class space: 13, 37 or 40.")
    model: str = _setting("segnet", "segnet (VGG16-BN) or segnet-basic.")
    model_width: float = _setting(1.0, "Channel multiplier of the model.")
    dropout: float = _setting(0.0, "Bayesian SegNet dropout probability (SceneNet's DO rows use 0.5).")
    epochs: int = _setting(10, "Total epochs of the run.")
    batch_size: int = _setting(8, "Frames per batch; batch size x height x width is at most 2**26 pixels.")
    lr: float = _setting(1e-3, "Peak learning rate (polynomial decay, power 0.9, per iteration to 0).")
    optimizer: str = _setting("adamw", "adamw or sgd (momentum 0.9).")
    weight_decay: float = _setting(1e-4, "Weight decay of the optimizer.")
    height: int = _setting(240, "Training crop height in pixels.")
    width: int = _setting(320, "Training crop width in pixels.")
    val_fraction: float = _setting(0.1, "Fraction of shards (groups) held out for validation (0 = none).")
    augment: bool = _setting(True, "Flip, scale+crop and depth-scale jitter.")
    scale_range: tuple[float, float] = _setting(
        (1.0, 1.5), "Zoom range above the scale at which the crop covers the frame."
    )
    depth_jitter: float = _setting(0.05, "Depth (and camera height) multiplied by 1 + U(-j, j).")
    balance: bool = _setting(True, "Median-frequency class weights.")
    balance_frames: int = _setting(200, "Frames sampled to estimate the class frequencies.")
    depth: str = _setting("noisy", "Which shard depth to train on.")
    real_depth: str = _setting(
        "filled",
        "--dataset nyuv2|sunrgbd: filled (NYUv2 depths, SUN RGB-D depth_bfx) or raw "
        "depth (rawDepths, depth; 0 = missing).",
    )
    camera_height: str = _setting(
        "estimated",
        "Height channel (DH, DHA, HHA): floor estimated from the depth on every "
        "frame, as on real depth, or a generated frame's true camera height "
        "(real frames estimate it either way).",
    )
    synthetic_frames: int = _setting(64, "Frames of --dataset synthetic.")
    num_workers: int = _setting(0, "DataLoader worker processes (at most the usable CPU cores).")
    seed: int = _setting(0, "Seed of the weights, the split, the shuffling and the augmentation.")
    device: str = _setting("cpu", "cpu, cuda or cuda:N (bf16 autocast and channels_last on cuda).")
    compile: bool = _setting(False, "torch.compile the model.")
    init: str = _setting(
        "",
        "Checkpoint whose weights start this run (fine-tuning; a different class count re-initialises the classifier).",
    )

    def check_values(self) -> None:
        """Raise a one-line :class:`SynthcamError` for a setting of the wrong type or out of range.

        Needs nothing but the values (no files, no devices): also applied to the config stored in a
        checkpoint. The limits are the ``MAX_*`` constants of :mod:`segnet.limits`.
        """
        from segnet.encodings import check_camera_height, check_encoding
        from segnet.models import MODELS
        from synthcam_core.sample import check_classes

        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), f.default)
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
        if self.real_depth not in REAL_DEPTHS:
            raise SynthcamError(f"unknown real-depth {self.real_depth!r}; choose one of {', '.join(REAL_DEPTHS)}")
        check_camera_height(self.camera_height)
        check_device_name(self.device)
        _in_range("model_width", self.model_width, 0.0, MAX_MODEL_WIDTH, low_open=True)
        _in_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _in_range("lr", self.lr, 0.0, MAX_LR, low_open=True)
        _in_range("weight_decay", self.weight_decay, 0.0, MAX_WEIGHT_DECAY)
        _in_range("val_fraction", self.val_fraction, 0.0, 1.0, high_open=True)
        _in_range("depth_jitter", self.depth_jitter, 0.0, MAX_DEPTH_JITTER)
        low, high = self.scale_range
        _in_range("scale_range", low, 0.0, MAX_ZOOM, low_open=True)
        _in_range("scale_range", high, low, MAX_ZOOM)
        for name, low_int, high_int in (
            ("epochs", 1, MAX_EPOCHS),
            ("batch_size", 1, MAX_BATCH_SIZE),
            ("height", 1, MAX_SIDE),
            ("width", 1, MAX_SIDE),
            ("synthetic_frames", 1, MAX_SYNTHETIC_FRAMES),
            ("balance_frames", 1, MAX_BALANCE_FRAMES),
            ("num_workers", 0, MAX_NUM_WORKERS),
            ("seed", 0, MAX_SEED),
        ):
            value = getattr(self, name)
            if not low_int <= value <= high_int:
                shown = str(value) if len(str(value)) <= 24 else f"{str(value)[:20]}... ({len(str(value))} digits)"
                raise SynthcamError(f"{name.replace('_', '-')} must be in {low_int}..{high_int}, got {shown}")
        pixels = self.batch_size * self.height * self.width
        if pixels > MAX_BATCH_PIXELS:
            raise SynthcamError(
                f"a batch of {self.batch_size} crops of {self.width}x{self.height} is {pixels} pixels, "
                f"more than the {MAX_BATCH_PIXELS} allowed; lower --batch-size or --height/--width"
            )

    def validate(self) -> None:
        """:meth:`check_values`, then the data path and device of this machine; one-line errors."""
        self.check_values()
        if self.dataset != "synthetic" and not self.data:
            raise SynthcamError(f"--data PATH is needed for dataset {self.dataset}")
        if self.dataset != "synthetic" and not Path(self.data).exists():
            raise SynthcamError(
                f"data path {self.data} does not exist; pass the directory of shards or the dataset path"
            )
        cores = usable_cores()
        if self.num_workers > cores:
            raise SynthcamError(f"num-workers must be at most {cores} (the usable CPU cores), got {self.num_workers}")
        check_device(self.device)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of a ``config`` dict (as saved in checkpoints), checked by :meth:`check_values`.

        Missing settings take their defaults (those of :data:`LEGACY_DEFAULTS`: the value runs of
        earlier versions used); an unknown setting or a value of the wrong type raises a one-line
        :class:`SynthcamError`.
        """
        if not isinstance(d, dict):
            raise SynthcamError(f"a config must be a dict of settings, got {type(d).__name__}")
        known = {f.name: f.default for f in fields(cls)}
        for key in d:
            if key not in known:
                raise SynthcamError(f"unknown setting {str(key)[:40]!r}")
        d = {**LEGACY_DEFAULTS, **d}
        config = cls(**{k: _check_type(k, v, known[k]) for k, v in d.items()})
        config.check_values()
        return config
