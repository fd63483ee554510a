"""Training of depth-only SegNet models: data, augmentation, class balancing, loop, checkpoints.

Shape of the module (after torchvision's segmentation reference): :func:`open_dataset`,
:func:`split_indices`, :class:`TrainView` (augmentation), :func:`median_frequency_weights`,
:func:`train_one_epoch`, :func:`validate`, :func:`train` (the whole run; ``synthcam train`` calls it).

Run directory (``out``): ``config.json``, ``last.pt`` after every epoch, ``best.pt`` (highest
validation class-average accuracy, SceneNet's headline metric; lowest training loss without a
validation split), ``history.json``, TensorBoard logs in ``tb/`` and ``curves.png`` at the end.
A checkpoint is a dict with ``model``, ``optimizer``, ``scheduler``, ``epoch`` (epochs completed),
``config``, ``model_spec``, ``class_weights``, ``history``, ``best`` and ``rng`` (torch CPU/CUDA
states) so ``resume=True`` continues the identical run.

Determinism: model initialisation and dropout use the global torch generator (seeded with
``config.seed`` and restored on resume); the shuffling order of epoch ``e`` comes from a generator
seeded with (seed, e), and the augmentation of frame ``i`` in epoch ``e`` from
``numpy.random.default_rng([seed, e, i])``, independent of worker count.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from segnet.encodings import check_encoding, encode_batch
from segnet.models import MODELS, ModelSpec, build
from synthcam.sample import (CAMERA_HEIGHT, DEPTH, DEPTH_MM, DEPTH_SCALE, GRAVITY, INTRINSICS, LABEL, check_classes,
                             crop_and_resize, expand)
from synthcam.errors import SynthcamError

DATASETS = ("shards", "nyuv2", "sunrgbd", "synthetic")
"""Valid ``dataset`` kinds: generated shards, the real-data readers, or analytic in-memory rooms."""

OPTIMIZERS = ("adamw", "sgd")


@dataclass
class TrainConfig:
    """Every setting of a training run; saved as ``config.json`` and inside every checkpoint."""

    data: str = ""  #: path of the shards directory or real dataset (unused for ``synthetic``)
    dataset: str = "shards"  #: one of :data:`DATASETS`
    encoding: str = "DHA"  #: D, DH, DHA or HHA
    classes: int = 13  #: class space 13, 37 or 40
    model: str = "segnet"  #: segnet or segnet-basic
    model_width: float = 1.0  #: channel multiplier
    dropout: float = 0.0  #: > 0: Bayesian SegNet dropout variant
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3  #: peak learning rate; polynomial decay (power 0.9) per iteration to 0
    optimizer: str = "adamw"  #: adamw or sgd (momentum 0.9)
    weight_decay: float = 1e-4
    height: int = 240  #: training crop height in pixels
    width: int = 320  #: training crop width in pixels
    val_fraction: float = 0.1  #: fraction of shards (groups) held out for validation
    augment: bool = True  #: flip, scale+crop, depth-scale jitter
    scale_range: tuple[float, float] = (1.0, 1.5)  #: zoom range above the scale at which the crop covers the frame
    depth_jitter: float = 0.05  #: depth (and camera height) multiplied by 1 + U(-j, j)
    balance: bool = True  #: median-frequency class weights
    balance_frames: int = 200  #: frames sampled to estimate the class frequencies
    depth: str = "noisy"  #: shards: noisy or clean depth
    synthetic_frames: int = 64  #: frames of the ``synthetic`` dataset
    num_workers: int = 0
    seed: int = 0
    device: str = "cpu"  #: cpu or cuda (bf16 autocast + channels_last on cuda)
    compile: bool = False  #: torch.compile the model (cuda)
    init: str = ""  #: checkpoint whose weights initialise the model (fine-tuning)

    def validate(self) -> None:
        """Raise a one-line :class:`SynthcamError` for any invalid setting."""
        check_encoding(self.encoding)
        check_classes(self.classes)
        if self.model not in MODELS:
            raise SynthcamError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.model_width <= 0 or not 0.0 <= self.dropout < 1.0:
            raise SynthcamError(f"model width must be positive and dropout in [0, 1); got {self.model_width}, {self.dropout}")
        if self.dataset not in DATASETS:
            raise SynthcamError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset != "synthetic" and not self.data:
            raise SynthcamError(f"--data PATH is needed for dataset {self.dataset}")
        if self.dataset != "synthetic" and not Path(self.data).exists():
            raise SynthcamError(f"data path {self.data} does not exist; pass the directory of shards or the dataset path")
        if self.optimizer not in OPTIMIZERS:
            raise SynthcamError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        for name in ("epochs", "batch_size", "height", "width"):
            if getattr(self, name) < 1:
                raise SynthcamError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SynthcamError(f"val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.lr <= 0:
            raise SynthcamError(f"lr must be positive, got {self.lr}")
        if self.num_workers < 0:
            raise SynthcamError(f"num-workers must be >= 0, got {self.num_workers}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise SynthcamError(f"unknown device {self.device!r}; choose cpu or cuda")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise SynthcamError("--device cuda but no CUDA GPU is visible; use --device cpu")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if "scale_range" in d:
            d["scale_range"] = tuple(d["scale_range"])
        return cls(**d)


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


def train_one_epoch(ctx: StepContext, loader, optimizer, scheduler, on_step: Callable[[int, float], None] | None = None) -> dict:
    """One pass over ``loader``; returns loss, pixel accuracy, images, data-wait and compute seconds.

    Data wait is the time spent waiting for the next batch; compute is the rest of the epoch's wall
    time (on cuda, after a final synchronisation). Statistics stay on the device until the end.
    """
    ctx.model.train()
    dev = ctx.device
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.int64)
    labelled = torch.zeros((), device=dev, dtype=torch.int64)
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
        steps += 1
        images += label.shape[0]
        if on_step is not None:
            on_step(steps, loss.detach())
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - start
    return {"loss": float(loss_sum) / max(steps, 1), "acc": float(correct) / max(int(labelled), 1),
            "images": images, "data_wait_s": wait, "compute_s": elapsed - wait, "epoch_s": elapsed,
            "images_per_s": images / elapsed if elapsed > 0 else 0.0}


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

def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` with torch.save to a temporary name, then rename (never a half file)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint dict written by :func:`train`; a missing or foreign file raises SynthcamError."""
    path = Path(path)
    if not path.is_file():
        raise SynthcamError(f"checkpoint {path} does not exist; pass a .pt file written by 'synthcam train'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise SynthcamError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or "model" not in state or "model_spec" not in state:
        raise SynthcamError(f"{path} is not a checkpoint written by 'synthcam train'")
    return state


def model_from_checkpoint(state: dict) -> torch.nn.Module:
    """The model of a checkpoint with its weights loaded (CPU, eval mode)."""
    model = build(ModelSpec(**state["model_spec"]))
    model.load_state_dict(state["model"])
    return model.eval()


def init_from_checkpoint(model: torch.nn.Module, path: str | Path) -> list[str]:
    """Load a checkpoint's weights for fine-tuning; returns the names of re-initialised tensors.

    The architecture must match, except the final classifier: when the class count differs (e.g.
    40 -> 13 classes), the classifier keeps its fresh initialisation. Any other mismatch raises.
    """
    source = load_checkpoint(path)["model"]
    own = model.state_dict()
    skipped = []
    for key, value in source.items():
        if key not in own:
            raise SynthcamError(f"--init {path}: its model has tensor {key} that this model lacks; use the same --model and --width")
        if own[key].shape != value.shape:
            if key.startswith("classifier."):
                skipped.append(key)
                continue
            raise SynthcamError(f"--init {path}: {key} has shape {tuple(value.shape)} there but {tuple(own[key].shape)} here; "
                                "use the same --model, --width and --encoding")
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


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    fig.savefig(path, dpi=100)
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


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, stop_after: int | None = None,
          progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train (or, with ``resume``, continue) the run in ``out_dir``; returns the last epoch's record.

    With ``resume`` the run's saved config is used, except ``epochs``, ``device`` and
    ``num_workers`` which come from ``config``. ``stop_after`` ends this call after that many more
    epochs (a later ``resume`` continues exactly where it stopped).
    """
    from tqdm import tqdm

    out = Path(out_dir)
    if resume:
        state = load_checkpoint(out / "last.pt")
        saved = TrainConfig.from_dict(state["config"])
        saved.epochs, saved.device, saved.num_workers = config.epochs, config.device, config.num_workers
        config = saved
    config.validate()
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1) + "\n")

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
    spec = ModelSpec(config.model, check_encoding(config.encoding), config.classes, config.model_width, config.dropout)
    model = build(spec)
    if config.init and not resume:
        reset = init_from_checkpoint(model, config.init)
        if reset:
            log(f"--init: re-initialised {', '.join(reset)} (class count differs)")
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
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        weights_np = np.asarray(state["class_weights"], dtype=np.float32)
        history, best, start_epoch = list(state["history"]), float(state["best"]), int(state["epoch"])
        _set_rng_state(state["rng"])
    elif config.balance:
        weights_np = median_frequency_weights(dataset, train_idx, config.classes, config.balance_frames,
                                              np.random.default_rng([config.seed, 3]))
    else:
        weights_np = np.ones(config.classes, dtype=np.float32)
    weights = torch.as_tensor(weights_np, device=device)
    run_model = torch.compile(model) if config.compile else model
    ctx = StepContext(run_model, config.encoding, device, weights, autocast=cuda, channels_last=cuda)

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(out / "tb"))
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

            stats = train_one_epoch(ctx, loader, optimizer, scheduler, on_step)
            bar.close()
            record = {"epoch": epoch + 1, "train_loss": stats["loss"], "train_acc": stats["acc"],
                      "lr": scheduler.get_last_lr()[0], "images_per_s": stats["images_per_s"],
                      "data_wait_s": stats["data_wait_s"], "compute_s": stats["compute_s"]}
            if len(val_view):
                val = validate(ctx, _loader(val_view, config.batch_size, False, config.num_workers, config.seed, 0, cuda),
                               config.classes)
                record.update(val_loss=val["loss"], val_global_acc=val["global_acc"],
                              val_class_avg_acc=val["class_avg_acc"], val_miou=val["miou"])
                metric = val["class_avg_acc"] if val["class_avg_acc"] == val["class_avg_acc"] else -math.inf
            else:
                metric = -stats["loss"]
            history.append(record)
            for key, value in record.items():
                if key != "epoch":
                    writer.add_scalar(key.replace("_", "/", 1), value, epoch + 1)
            writer.flush()
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "epoch": epoch + 1, "config": asdict(config), "model_spec": spec.as_dict(),
                     "class_weights": weights_np.tolist(), "history": history, "best": max(best, metric), "rng": _rng_state()}
            save_checkpoint(out / "last.pt", state)
            if metric > best:
                best = metric
                save_checkpoint(out / "best.pt", state)
            log(_epoch_line(record, config.epochs))
    finally:
        writer.close()
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    if history:
        save_curves(history, out / "curves.png")
    return record


def _epoch_line(r: dict, epochs: int) -> str:
    line = (f"epoch {r['epoch']}/{epochs}: loss {r['train_loss']:.4f}, acc {100 * r['train_acc']:.1f} %, "
            f"{r['images_per_s']:.1f} img/s (data wait {r['data_wait_s']:.1f} s, compute {r['compute_s']:.1f} s)")
    if "val_loss" in r:
        line += (f"; val loss {r['val_loss']:.4f}, global {100 * r['val_global_acc']:.1f} %, "
                 f"class-avg {100 * r['val_class_avg_acc']:.1f} %, mIoU {100 * r['val_miou']:.1f} %")
    return line
