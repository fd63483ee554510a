"""Torch access to video clips of a directory of shards: :class:`ClipDataset` (runs of ``clip_length``
consecutive frames of one trajectory) and :class:`ClipSampler`.

A clip is ``T = clip_length`` frames ``i .. i + T - 1`` of one shard with one trajectory id and no
timestamp gap: consecutive timestamps exactly ``1 / frame_rate`` seconds apart (within
:data:`TIME_TOLERANCE_S`), the frame rate read from the shard's ``config`` attribute (key
``"frame_rate"``), else :data:`DEFAULT_FRAME_RATE` (the walk's 25 Hz, every 10th step). Clips start
every ``stride`` frames of each gap-free run of frames (``stride = T`` by default: no frame in two clips).

An item is the sample layout of :mod:`synthcam_core.sample` with a leading T axis: ``depth`` (T, 1, H, W)
float32 metres, ``label`` (T, H, W) int64, ``intrinsics`` (T, 4), ``gravity`` (T, 3), ``camera_height``
(T,), ``pose`` (T, 4, 4) float32, ``index`` (T,) int64 (each frame's global index, as in a
:class:`~segnet.datasets.shard_reader.ShardDataset` of the same path); when the shards hold optical
flow, also ``flow`` (T, 2, H, W) float32 pixels (du, dv) of each frame to the next stored frame (the
last frame of a clip too) and ``flow_mask`` (T, H, W) uint8 codes (0 none, 1 valid, 2 occluded,
3 out of view, for the stored image; a crop does not mark pixels that leave it). Compact clips carry
uint16 ``depth_mm``, uint8 ``label`` and ``flow_stored`` (T, 2, H, W) int16 in 1/64 px (the stored
planes) instead; call :func:`expand_clip` on the batch, ideally on the GPU.

Fast path::

    clips = ClipDataset(path, clip_length=8, compact=True)
    sampler = ClipSampler(clips, seed=0)
    loader = DataLoader(clips, batch_size=4, sampler=sampler, collate_fn=collate_frames, num_workers=2,
                        persistent_workers=True)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader:  # depth_mm (B, T, 1, H, W), ...
            batch = expand_clip({k: v.to(device, non_blocking=True) for k, v in batch.items()})

As for ShardDataset, the DataLoader hands each batch's clip indices to :meth:`ClipDataset.__getitems__`,
which reads each clip with one :meth:`~synthcam_shards.shard_file.ShardFile.read_frames` call per field
straight into preallocated (in a worker: pooled shared-memory) batch tensors of shape (B, T, ...).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from segnet.datasets.shard_reader import FrameBatch, ShardDataset, ShardOrderSampler, check_indices, empty_batch
from synthcam_core.errors import InputError, ShardError
from synthcam_core.sample import expand
from synthcam_shards.format import FLOW_SCALE
from synthcam_shards.shard_file import ShardFile

FLOW = "flow"
"""Key of the float32 (T, 2, H, W) forward optical flow in pixels (du, dv)."""
FLOW_MASK = "flow_mask"
"""Key of the uint8 (T, H, W) flow mask codes."""
FLOW_STORED = "flow_stored"
"""Key of a compact clip's int16 (T, 2, H, W) flow in 1 / FLOW_SCALE px, as stored (replaces ``flow``)."""
DEFAULT_FRAME_RATE = 2.5
"""Frames per second of a shard whose config has no ``frame_rate``: the 25 Hz walk, every 10th step."""
PLANES = "flow_planes"
"""The shard field read: (T, 2, H, W) int16 flow planes as stored."""
TIME_TOLERANCE_S = 1e-6
"""How far (seconds) a step between consecutive timestamps may be from ``1 / frame_rate`` in a clip."""


def frame_rate(shard: ShardFile) -> float:
    """Frames per second of ``shard``: its ``config`` attribute's ``"frame_rate"``, else
    :data:`DEFAULT_FRAME_RATE`; :class:`ShardError` if that is not a positive finite number."""
    config = shard.attrs.get("config")
    rate = config.get("frame_rate", DEFAULT_FRAME_RATE) if isinstance(config, dict) else DEFAULT_FRAME_RATE
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise ShardError(
            f"{shard.path.name}: config frame_rate {rate!r} is not a positive number of frames per second; "
            "regenerate the shard"
        )
    return float(rate)


def gap_free_runs(timestamps: np.ndarray, trajectory_ids: np.ndarray, rate: float) -> np.ndarray:
    """(R, 2) int64 ``[start, stop)`` of the maximal runs of frames with one trajectory id and
    consecutive timestamps (seconds) ``1 / rate`` apart within :data:`TIME_TOLERANCE_S`."""
    n = len(timestamps)
    if n == 0:
        return np.zeros((0, 2), dtype=np.int64)
    steps = np.diff(np.asarray(timestamps, dtype=np.float64))
    joined = (np.diff(trajectory_ids) == 0) & (np.abs(steps - 1.0 / rate) <= TIME_TOLERANCE_S)
    breaks = np.flatnonzero(~joined) + 1
    return np.stack([np.concatenate([[0], breaks]), np.concatenate([breaks, [n]])], axis=1).astype(np.int64)


def clip_starts(runs: np.ndarray, clip_length: int, stride: int) -> np.ndarray:
    """(C,) int64 first frame of each clip: every ``stride`` frames of each run ``[start, stop)`` of
    ``runs`` while the clip's ``clip_length`` frames fit in the run."""
    starts = [np.arange(a, b - clip_length + 1, stride, dtype=np.int64) for a, b in runs.tolist()]
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a whole number of frames, at least 1; got {value!r}")
    return int(value)


class ClipDataset(Dataset):
    """The clips of ``clip_length`` consecutive frames of the shards at ``path`` (see the module docstring).

    clip_length : frames per clip (T); stride : frames from one clip's start to the next in a run
    (default T). depth, classes, crop, resize, verify, compact : as for
    :class:`~segnet.datasets.shard_reader.ShardDataset` (crop and resize apply to flow too: a
    resize scales it). flow : None (default) = include flow when every shard holds it; True =
    require it; False = leave it out. Clip ``k`` starts at global frame ``starts[k]``;
    ``offsets`` ((S + 1,) first clip of each shard, then the total) lets
    :class:`~segnet.datasets.shard_reader.ShardOrderSampler` walk clips shard by shard.
    Raises :class:`~synthcam_core.errors.InputError` for a clip longer than every gap-free run of
    frames, flow asked of shards without it, or a clip_length or stride below 1.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        clip_length: int = 8,
        stride: int | None = None,
        depth: str = "noisy",
        classes: int = 40,
        crop: Sequence[int] | None = None,
        resize: Sequence[int] | None = None,
        verify: bool = True,
        compact: bool = False,
        flow: bool | None = None,
    ):
        self.clip_length = _positive("clip_length", clip_length)
        self.stride = self.clip_length if stride is None else _positive("stride", stride)
        self.frames = ShardDataset(
            path, depth=depth, classes=classes, crop=crop, resize=resize, verify=verify, compact=compact
        )
        self.compact = compact
        self.flow = self._flow_choice(flow)
        runs = [
            gap_free_runs(s.timestamps, s.trajectory_ids, frame_rate(s)) + self.frames.offsets[k]
            for k, s in enumerate(self.frames.shards)
        ]
        starts = [clip_starts(r, self.clip_length, self.stride) for r in runs]
        self.starts = np.concatenate(starts)
        self.offsets = np.concatenate([[0], np.cumsum([len(s) for s in starts])]).astype(np.int64)
        if not len(self.starts):
            longest = max(int(np.max(r[:, 1] - r[:, 0], initial=0)) for r in runs)
            raise InputError(
                f"clip_length {self.clip_length} is longer than every gap-free run of frames in {path} (the "
                f"longest holds {longest}); use clip_length <= {longest}, or generate with --clip-length "
                f"{self.clip_length}"
            )
        self._flow_scale = self._scale()

    def _flow_choice(self, flow: bool | None) -> bool:
        """Whether items carry flow (see the class docstring)."""
        lacking = [s.path for s in self.frames.shards if not s.has_flow]
        if flow is None:
            return not lacking
        if flow and lacking:
            raise InputError(f"{lacking[0]} holds no optical flow; generate the dataset with --flow")
        return bool(flow)

    def _scale(self) -> np.ndarray:
        """(2, 1, 1) float32 pixels of the returned image per stored flow unit, in u and v."""
        shard, window = self.frames.shards[0], self.frames.window
        crop = self.frames.crop
        height, width = (shard.height, shard.width) if crop is None else (int(crop[2]), int(crop[3]))
        out_h, out_w = self.frames.out_size
        scale = np.array([out_w / width, out_h / height], dtype=np.float32) / FLOW_SCALE
        if self.flow and self.compact and window is not None and (out_h, out_w) != (height, width):
            raise InputError(
                "compact clips keep flow as stored, in pixels of the stored image: resize needs compact=False"
            )
        return scale.reshape(2, 1, 1)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return FrameBatch(self, check_indices([index], len(self), "clips"))[0]

    def __getitems__(self, indices: Sequence[int]) -> FrameBatch:
        """The clips of ``indices`` (in that order) as a
        :class:`~segnet.datasets.shard_reader.FrameBatch` (pair it with ``collate_fn=collate_frames``)."""
        return FrameBatch(self, check_indices(indices, len(self), "clips"))

    def read_batch(self, index: np.ndarray, shared: bool) -> dict[str, torch.Tensor]:
        """The batch dict of clips ``index``: every key (B, T, ...) (images in shared memory if ``shared``)."""
        size, length = len(index), self.clip_length
        frames = (self.starts[index][:, None] + np.arange(length)).ravel()
        spec = {
            k: ((size, length, *shape[1:]), dtype) for k, (shape, dtype) in self.frames.batch_spec(len(frames)).items()
        }
        height, width = self.frames.out_size
        if self.flow:
            flow_key, flow_dtype = (FLOW_STORED, torch.int16) if self.compact else (FLOW, torch.float32)
            spec[flow_key] = ((size, length, 2, height, width), flow_dtype)
            spec[FLOW_MASK] = ((size, length, height, width), torch.uint8)
        batch = empty_batch(spec, shared)
        flat = {key: value.view(len(frames), *value.shape[2:]) for key, value in batch.items()}
        self.frames.read_into(flat, frames)
        if self.flow:
            for k, clip in enumerate(index.tolist()):
                self._read_flow(flat, int(self.starts[clip]), slice(k * length, (k + 1) * length))
        return batch

    def _read_flow(self, flat: dict[str, torch.Tensor], start: int, rows: slice) -> None:
        """Read the flow of the clip starting at global frame ``start`` into ``flat[...][rows]``: the stored
        (T, 2, H, W) int16 planes straight into a compact batch, else widened in one pass to float32 pixels."""
        s = int(np.searchsorted(self.frames.offsets, start, side="right")) - 1
        first = start - int(self.frames.offsets[s])
        window, mask = self.frames.window, flat[FLOW_MASK].numpy()[rows]
        out = {FLOW_MASK: mask} if window is None else {}
        if window is None and self.compact:
            out[PLANES] = flat[FLOW_STORED].numpy()[rows]
        fields = (PLANES, FLOW_MASK)
        read = self.frames.shards[s].read_frames(first, first + self.clip_length, fields, self.frames.verify, out)
        planes = read[PLANES]  # (T, 2, H, W) int16 as stored
        if window is not None:
            pick_rows, pick_cols = window
            planes = planes[:, :, pick_rows[:, None], pick_cols]
            mask[...] = read[FLOW_MASK][:, pick_rows[:, None], pick_cols]
        if not self.compact:
            np.multiply(planes, self._flow_scale, out=flat[FLOW].numpy()[rows])
        elif window is not None:
            flat[FLOW_STORED].numpy()[rows] = planes


def expand_clip(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A compact clip or batch in the standard layout (:func:`synthcam_core.sample.expand` of the
    frames; ``flow_stored`` (..., 2, H, W) int16 1/64 px -> ``flow`` float32 px), on the
    tensors' own device; ``flow_mask`` kept. A standard clip is returned unchanged."""
    out = expand(batch)
    if FLOW_STORED in batch:
        out[FLOW] = batch[FLOW_STORED].to(torch.float32) / FLOW_SCALE
    if FLOW_MASK in batch:
        out[FLOW_MASK] = batch[FLOW_MASK]
    return out


class ClipSampler(ShardOrderSampler):
    """Clip indices of a :class:`ClipDataset` in a seeded random order, a function of ``(seed, epoch)``
    only: call :meth:`set_epoch` before each epoch. by_shard : False (default) shuffles the clips of all
    shards together; True walks the shards in a random order, each shard's clips shuffled.
    ``shuffle=False`` gives the clips in storage order."""

    def __init__(self, dataset: ClipDataset, seed: int = 0, shuffle: bool = True, by_shard: bool = False):
        super().__init__(dataset, seed=seed, shuffle=shuffle, block=1, by_shard=by_shard)
