"""Training data: opening a dataset, leakage-free splits, augmentation and class balancing.

:func:`open_dataset` gives the Dataset of a kind (shards, NYUv2, SUN RGB-D, analytic rooms, a folder
of real PNGs) in the shared sample layout (:mod:`synthcam_core.sample`); :func:`sample_groups` and
:func:`split_indices` hold out whole shards for validation (:func:`split_record`: which, for the
checkpoints); :class:`TrainView` brings frames to the
training size with the run's seeded augmentation (:func:`hflip` among it), and
:func:`network_size` says at which size a frame of another size is seen as training saw it;
:func:`median_frequency_weights` gives the class weights of the loss.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from segnet.config import DATASETS, REAL_DEPTHS, TrainConfig
from synthcam_core.errors import SynthcamError
from synthcam_core.sample import (
    CAMERA_HEIGHT,
    DEPTH,
    DEPTH_MM,
    DEPTH_SCALE,
    GRAVITY,
    INTRINSICS,
    LABEL,
    crop_and_resize,
)

EVAL_DATASETS = (*DATASETS, "real")
"""Dataset kinds :func:`open_dataset` reads: the training kinds and a folder of labelled real PNGs
(:class:`segnet.datasets.RealFolderDataset`, evaluation only: a handful of frames to train on)."""

REAL_DEPTH_FIELDS = {
    "nyuv2": {"filled": "depths", "raw": "rawDepths"},
    "sunrgbd": {"filled": "depth_bfx", "raw": "depth"},
    "real": {"filled": "filled", "raw": "raw"},
}
"""Each real reader's name of the filled and the raw depth (:data:`segnet.config.REAL_DEPTHS`)."""


def open_dataset(
    kind: str,
    path: str,
    split: str,
    classes: int,
    depth: str = "noisy",
    *,
    real_depth: str = "filled",
    intrinsics: str | None = None,
    gravity: str | None = None,
    synthetic_frames: int = 64,
    synthetic_size: tuple[int, int] = (48, 64),
    seed: int = 0,
    compact: bool = False,
):
    """The Dataset for ``kind`` (see :data:`EVAL_DATASETS`) in the shared sample layout.

    depth : shards' noisy or clean depth; real_depth : the filled or raw depth of NYUv2, SUN RGB-D
    and real folders; intrinsics, gravity : a real folder's camera and gravity
    (:class:`segnet.datasets.RealFolderDataset`); ``compact``: shards give compact samples (see
    :func:`synthcam_core.sample.expand`), other kinds ignore it. ``split`` is ignored by shards and real
    folders (each is its own split).
    """
    if kind not in EVAL_DATASETS:
        raise SynthcamError(f"unknown dataset {kind!r}; choose one of {', '.join(EVAL_DATASETS)}")
    if real_depth not in REAL_DEPTHS:
        raise SynthcamError(f"unknown real depth {real_depth!r}; choose one of {', '.join(REAL_DEPTHS)}")
    if kind == "synthetic":
        from segnet.synthetic import SyntheticRooms

        return SyntheticRooms(
            synthetic_frames,
            width=synthetic_size[1],
            height=synthetic_size[0],
            classes=classes,
            seed=seed + (0 if split == "train" else 10_000),
        )
    from segnet.datasets import make_dataset

    if kind == "shards":
        return make_dataset("shards", path, None, classes, depth=depth, compact=compact)
    field = REAL_DEPTH_FIELDS[kind][real_depth]
    if kind == "real":
        return make_dataset("real", path, None, classes, depth=field, intrinsics=intrinsics, gravity=gravity)
    return make_dataset(kind, path, split, classes, depth=field)


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
        raise SynthcamError(
            "a validation split needs at least 2 shards (trajectories); add data or pass --val-fraction 0"
        )
    rng = np.random.default_rng([seed, 7])
    n_val = min(len(unique) - 1, max(1, math.ceil(val_fraction * len(unique))))
    val_groups = rng.permutation(unique)[:n_val]
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def split_record(config: TrainConfig, dataset, val_idx: np.ndarray) -> dict:
    """Which frames a run validates on, for its checkpoints (``data_split``, see
    :func:`segnet.checkpoint.check_data_split`): the data's absolute path and, for shards, the file
    names of the validation shards, else the validation frames' positions in the training split."""
    data = str(Path(config.data).resolve()) if config.dataset != "synthetic" else ""
    if getattr(dataset, "shards", None) is not None and getattr(dataset, "offsets", None) is not None:
        shard_of = np.searchsorted(dataset.offsets, val_idx, side="right") - 1
        return {"data": data, "val_shards": [dataset.shards[s].path.name for s in sorted(set(shard_of.tolist()))]}
    return {"data": data, "val_frames": [int(i) for i in val_idx]}


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


def cover_zoom(height: int, width: int, size: tuple[int, int]) -> float:
    """The scale at which a ``size`` = (height, width) window just covers a height x width frame in
    one direction: max(size_h / height, size_w / width), the smallest zoom of the augmentation."""
    return max(size[0] / height, size[1] / width)


def network_size(height: int, width: int, size: tuple[int, int], keep_aspect: bool = True) -> tuple[int, int]:
    """(h, w) at which a height x width frame is given to a network trained on ``size`` crops.

    keep_aspect (a run with augmentation): the frame scaled by :func:`cover_zoom`, its aspect kept,
    (round(height * s), round(width * s)): the scale of training's least-zoomed crops, with the
    whole frame in view. A frame of the training aspect lands exactly on ``size``; another aspect
    exceeds ``size`` in one direction (the models take any size). Without ``keep_aspect`` (a run
    without augmentation, which squashed every frame to ``size``): ``size``.
    """
    if not keep_aspect:
        return int(size[0]), int(size[1])
    s = cover_zoom(height, width, size)
    return max(int(size[0]), round(height * s)), max(int(size[1]), round(width * s))


class TrainView(torch.utils.data.Dataset):
    """``base[indices[i]]`` brought to ``size`` = (height, width), with optional augmentation.

    Without augmentation a frame is resized (nearest) to ``size``. With it: a zoom ``f = f0 * U(lo,
    hi)`` where ``f0`` makes the crop just cover the frame, a random ``size`` crop at that zoom
    (nearest resampling; intrinsics follow), a horizontal flip with probability 0.5 (:func:`hflip`)
    and a depth-scale factor ``1 + U(-j, j)`` applied to depth and camera height (a uniformly scaled
    world). Call :meth:`set_epoch` before each epoch; draws come from ``default_rng([seed, epoch, i])``.
    Compact samples (uint16 ``depth_mm``) stay compact: the depth factor travels as ``depth_scale``
    for :func:`synthcam_core.sample.expand`, which gives the same float depth as scaling here.
    ``offsets`` (for :class:`~segnet.datasets.shard_reader.ShardOrderSampler`): runs of view indices that are
    consecutive frames of one shard of ``base``, or None when ``base`` has no shards.
    """

    def __init__(
        self,
        base,
        indices: np.ndarray,
        size: tuple[int, int],
        augment: bool = False,
        seed: int = 0,
        scale_range: tuple[float, float] = (1.0, 1.5),
        depth_jitter: float = 0.05,
    ) -> None:
        self.base, self.indices = base, np.asarray(indices, dtype=np.int64)
        self.size: tuple[int, int] = (size[0], size[1])
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
        zoom = cover_zoom(h, w, self.size) * rng.uniform(*self.scale_range)
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


def median_frequency_weights(
    dataset, indices: np.ndarray, num_classes: int, frames: int, rng: np.random.Generator
) -> np.ndarray:
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
