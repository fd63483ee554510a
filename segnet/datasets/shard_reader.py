"""Torch access to a directory of shards: :class:`ShardDataset`, the I/O-friendly
:class:`ShardOrderSampler` and the pass-through :func:`collate_frames`.

Samples follow the layout of :mod:`synthcam_core.sample` (depth (1, H, W) float32 metres, label (H, W)
int64, intrinsics, gravity, camera height, pose, index). The HDF5 handles of
:class:`synthcam_shards.shard_file.ShardFile` open lazily in each process, so the dataset is safe with
``DataLoader`` workers. Opening a shard checks its layout and sizes and verifies its header digest
(label tables, names, intrinsics, attributes) and every frame's pose, timestamp and trajectory-id
checksum (the poses the samples carry come from there); every read verifies the frames' image
checksums; so a damaged shard raises :class:`~synthcam_core.errors.ShardError` naming the shard and frame.

Fast path (what ``synthcam train`` uses)::

    ds = ShardDataset(path, compact=True)
    sampler = ShardOrderSampler(ds, seed=0, block=4)  # runs of 4 consecutive frames, shuffled
    loader = DataLoader(ds, batch_size=16, sampler=sampler, collate_fn=collate_frames, num_workers=2,
                        persistent_workers=True)
    for batch in loader:
        batch = expand({k: v.to(device, non_blocking=True) for k, v in batch.items()})

The DataLoader hands each batch's indices to :meth:`ShardDataset.__getitems__`, which reads every
run of consecutive frames of one shard with one HDF5 read per field straight into the batch
tensors; :func:`collate_frames` passes that batch through instead of stacking sample copies.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, default_collate, get_worker_info

from segnet.datasets.batch_memory import pooled_empty
from synthcam_core.errors import ShardError, SynthcamError
from synthcam_core.sample import (
    CAMERA_HEIGHT,
    DEPTH,
    DEPTH_MM,
    GRAVITY,
    INDEX,
    INTRINSICS,
    LABEL,
    POSE,
    check_classes,
    window_intrinsics,
    window_pixels,
)
from synthcam_shards.manifest import find_shards
from synthcam_shards.shard_file import ShardFile

#: Open HDF5 handles per process; beyond this the least recently read shard is closed (reopened on demand).
MAX_OPEN_SHARDS = 64
DEPTH_CHOICES = {"noisy": "depth", "clean": "depth_clean"}
_COMPACT_FIELD = {"depth": "depth_mm", "depth_clean": "depth_clean_mm"}


class BatchSource(Protocol):
    """A dataset that reads a whole batch at once (:class:`ShardDataset`,
    :class:`segnet.datasets.clip_reader.ClipDataset`)."""

    def read_batch(self, index: np.ndarray, shared: bool) -> dict[str, torch.Tensor]:
        """The batch dict of items ``index`` (leading axis = items; images in shared memory if ``shared``)."""
        ...


class FrameBatch(Sequence):
    """What :meth:`ShardDataset.__getitems__` returns: the samples of a list of indices, read when
    first needed. :func:`collate_frames` takes the whole batch (:meth:`collated`) as read, without
    copying; torch's default collate indexes it as a sequence of sample dicts (views into the batch)
    and stacks copies of them as for any dataset. ``dataset``: any :class:`BatchSource`."""

    def __init__(self, dataset: BatchSource, index: np.ndarray):
        self.dataset, self.indices = dataset, index
        self._batch: dict[str, torch.Tensor] | None = None

    def collated(self, shared: bool = False) -> dict[str, torch.Tensor]:
        """The batch dict (leading axis = samples); ``shared``: allocate its images in shared memory
        (cheaper to send from a DataLoader worker). Read once; later calls return the same dict."""
        if self._batch is None:
            self._batch = self.dataset.read_batch(self.indices, shared)
        return self._batch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        return {key: value[k] for key, value in self.collated().items()}


def collate_frames(samples) -> dict[str, torch.Tensor]:
    """``collate_fn`` for a DataLoader over a :class:`ShardDataset` (or any :class:`BatchSource`
    whose ``__getitems__`` returns a :class:`FrameBatch`): the batch that
    ``__getitems__`` reads, as it is (in a worker: into shared memory, so it is never copied), or
    torch's default collate for anything else (a list of samples of another dataset)."""
    if isinstance(samples, FrameBatch):
        return samples.collated(shared=get_worker_info() is not None)
    return default_collate(samples)


def empty_batch(spec: dict[str, tuple[tuple[int, ...], torch.dtype]], shared: bool) -> dict[str, torch.Tensor]:
    """Uninitialised tensors ``{key: (shape, dtype)}``; ``shared``: for sending from a DataLoader
    worker, in a reused shared-memory segment (:mod:`segnet.datasets.batch_memory`) when one is free (else
    torch moves them to fresh shared memory when it sends them)."""
    if shared:
        batch = pooled_empty(spec)
        if batch is not None:
            return batch
    return {key: torch.empty(shape, dtype=dtype) for key, (shape, dtype) in spec.items()}


def check_indices(indices: Sequence[int], size: int, what: str) -> np.ndarray:
    """``indices`` as an (n,) int64 array; ``IndexError`` for one outside ``0 .. size - 1`` (a dataset
    of ``size`` ``what``, e.g. ``"frames"``)."""
    index = np.asarray(indices, dtype=np.int64).reshape(-1)
    bad = index[(index < 0) | (index >= size)]
    if len(bad):
        raise IndexError(f"index {int(bad[0])} out of range for a dataset of {size} {what}")
    return index


class ShardDataset(Dataset):
    """All frames of the shards at ``path`` (a shard, or a directory of shards), by global index.

    depth : ``"noisy"`` (the sensor-model depth) or ``"clean"`` (the rendered depth);
    classes : 40, 13 or 37 (through the tables stored in each shard); crop : optional
    ``(top, left, height, width)``; resize : optional ``(height, width)`` after the crop;
    verify : check each frame's CRC32 on read (cheap; off only to measure its cost).
    compact : return uint16 ``depth_mm`` and uint8 ``label`` (a quarter of the bytes through the
    DataLoader); call :func:`synthcam_core.sample.expand` on the batch, ideally after moving it to the GPU.
    Global index ``k`` is frame ``k - offsets[s]`` of shard ``s``, shards in :func:`find_shards` order.
    ``window``: (rows, cols) int64 stored pixel of each returned row and column (crop, resize), or None;
    ``out_size``: (height, width) of the returned images.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        depth: str = "noisy",
        classes: int = 40,
        crop: Sequence[int] | None = None,
        resize: Sequence[int] | None = None,
        verify: bool = True,
        compact: bool = False,
    ):

        if depth not in DEPTH_CHOICES:
            raise SynthcamError(f"unknown depth {depth!r}; valid choices: {', '.join(DEPTH_CHOICES)}")
        self.classes = check_classes(classes)
        self.depth, self.crop, self.resize, self.verify, self.compact = depth, crop, resize, verify, compact
        self.shards: list[ShardFile] = []
        for shard_path in find_shards(Path(path)):
            shard = ShardFile(shard_path)
            shard.close()  # reopened lazily by whichever process reads it
            self.shards.append(shard)
        sizes = {(s.height, s.width) for s in self.shards}
        if len(sizes) > 1:
            raise ShardError(f"{path} mixes image sizes {sorted(sizes)}; read each resolution as its own dataset")
        height, width = sizes.pop()
        self.window = window_pixels(crop, resize, height, width)  # checks crop and resize
        self.out_size = (height, width) if self.window is None else (len(self.window[0]), len(self.window[1]))
        self.offsets = np.concatenate([[0], np.cumsum([len(s) for s in self.shards])]).astype(np.int64)
        self._luts = [self._lut(s) for s in self.shards]
        intr = [[s.intrinsics.fx, s.intrinsics.fy, s.intrinsics.cx, s.intrinsics.cy] for s in self.shards]
        self._intrinsics = np.stack([window_intrinsics(k, crop, resize, height, width) for k in intr])
        depth_field = DEPTH_CHOICES[depth]
        self._fields = (_COMPACT_FIELD[depth_field], "class40")

    def _lut(self, shard: ShardFile) -> np.ndarray | None:
        """(41,) class40 -> chosen class id (uint8 compact, else int64) from the shard's tables; None for 40."""
        if self.classes == 40:
            return None
        table = {13: shard.class40_to_13, 37: shard.class40_to_37}[self.classes]
        return np.asarray(table, dtype=np.uint8 if self.compact else np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number, frame within that shard) of a global index."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} frames")
        s = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return s, int(index - self.offsets[s])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return FrameBatch(self, self._check([index]))[0]

    def __getitems__(self, indices: Sequence[int]) -> FrameBatch:
        """The samples of ``indices`` (in that order) as a :class:`FrameBatch` (torch's DataLoader
        calls this with each batch's indices; pair it with ``collate_fn=collate_frames``)."""
        return FrameBatch(self, self._check(indices))

    def _check(self, indices: Sequence[int]) -> np.ndarray:
        return check_indices(indices, len(self), "frames")

    @property
    def open_shards(self) -> list[int]:
        """Positions (in :attr:`shards`) of the shards this process holds open, least recently read first."""
        return list(self.__dict__.get("_recent", ()))

    def _note_open(self, s: int) -> None:
        """Keep at most :data:`MAX_OPEN_SHARDS` HDF5 handles open in this process (least recently read closed first)."""
        recent = self.__dict__.setdefault("_recent", OrderedDict())
        recent[s] = None
        recent.move_to_end(s)
        while len(recent) > MAX_OPEN_SHARDS:
            self.shards[recent.popitem(last=False)[0]].close()

    def read_batch(self, index: np.ndarray, shared: bool) -> dict[str, torch.Tensor]:
        """The batch dict of global indices ``index`` (images in shared memory if ``shared``):
        :meth:`batch_spec` tensors filled by :meth:`read_into`."""
        batch = empty_batch(self.batch_spec(len(index)), shared)
        self.read_into(batch, index)
        return batch

    def batch_spec(self, size: int) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """``{key: (shape, dtype)}`` of a batch of ``size`` samples (the sample layout, leading axis = samples)."""
        height, width = self.out_size
        return {
            DEPTH_MM if self.compact else DEPTH: (
                (size, 1, height, width),
                torch.uint16 if self.compact else torch.float32,
            ),
            LABEL: ((size, height, width), torch.uint8 if self.compact else torch.int64),
            INTRINSICS: ((size, 4), torch.float32),
            GRAVITY: ((size, 3), torch.float32),
            CAMERA_HEIGHT: ((size,), torch.float32),
            POSE: ((size, 4, 4), torch.float32),
            INDEX: ((size,), torch.int64),
        }

    def read_into(self, batch: dict[str, torch.Tensor], index: np.ndarray) -> None:
        """Fill ``batch`` (tensors of :meth:`batch_spec` ``(len(index))``, other keys ignored) with the
        samples of global indices ``index``.

        Each run of consecutive frames of one shard is read with one HDF5 read per field (see
        :meth:`ShardFile.read_frames`); compact samples without crop or resize are decompressed
        straight into the batch tensors.
        """
        shard_of = np.searchsorted(self.offsets, index, side="right") - 1
        frame = index - self.offsets[shard_of]
        size = len(index)
        depth_key = DEPTH_MM if self.compact else DEPTH
        depth_np, label_np = batch[depth_key].numpy()[:, 0], batch[LABEL].numpy()
        poses = np.empty((size, 4, 4), dtype=np.float64)
        ends = np.flatnonzero((np.diff(shard_of) != 0) | (np.diff(frame) != 1)) + 1
        for a, b in zip([0, *ends.tolist()], [*ends.tolist(), size]):
            s, first = int(shard_of[a]), int(frame[a])
            shard, lut = self.shards[s], self._luts[s]
            self._note_open(s)
            out = {}
            if self.compact and self.window is None:
                out[self._fields[0]] = depth_np[a:b]
                if lut is None:
                    out["class40"] = label_np[a:b]
            read = shard.read_frames(first, first + b - a, self._fields, verify=self.verify, out=out)
            poses[a:b] = shard.poses[first : first + b - a]
            mm, class40 = read[self._fields[0]], read["class40"]
            if self.window is not None:
                rows, cols = self.window
                mm, class40 = mm[:, rows[:, None], cols], class40[:, rows[:, None], cols]
            if self.compact:
                if self._fields[0] not in out:
                    depth_np[a:b] = mm
            else:
                np.divide(mm, np.float32(1000.0), out=depth_np[a:b])  # = synthcam_shards.format.mm_to_depth
            if lut is not None:
                np.take(lut, class40, out=label_np[a:b], mode="clip")
            elif "class40" not in out:
                label_np[a:b] = class40
        down = -poses[:, 2, :3]  # world down (0, 0, -1) in the camera frame: R^T (0, 0, -1)
        gravity = down / np.linalg.norm(down, axis=1, keepdims=True)
        for key, value in (
            (INTRINSICS, self._intrinsics[shard_of]),
            (GRAVITY, gravity),
            (CAMERA_HEIGHT, poses[:, 2, 3]),
            (POSE, poses),
            (INDEX, index),
        ):
            batch[key].numpy()[...] = value  # casts float64 to float32


class ShardOrderSampler(Sampler[int]):
    """Global indices in an I/O-friendly order: blocks of ``block`` consecutive frames of one shard
    (frames inside a block stay in storage order, so a batch holds runs of consecutive frames that
    :meth:`ShardDataset.__getitems__` reads in one go), in a seeded random order.

    by_shard : True walks the shards one at a time in a seeded random order, each shard's blocks
    shuffled (consecutive reads stay in one file); False shuffles the blocks of all shards together
    (batches mix rooms, as training wants). With ``block=1, by_shard=False`` this is a plain shuffle.
    dataset : anything with ``offsets`` ((S + 1,) first global index of each shard, then the total),
    e.g. a :class:`ShardDataset`. Call :meth:`set_epoch` before each epoch to draw a new order (the
    order is a function of ``(seed, epoch)`` only). ``shuffle=False`` walks frames in storage order.
    Consecutive frames of a trajectory look alike: a large ``block`` makes a batch less diverse.
    """

    def __init__(self, dataset, seed: int = 0, shuffle: bool = True, block: int = 1, by_shard: bool = True):
        if int(block) < 1:
            raise SynthcamError(f"block must be at least 1 frame, got {block}")
        self.offsets = np.asarray(dataset.offsets, dtype=np.int64)
        self.seed, self.shuffle, self.block, self.by_shard, self.epoch = seed, shuffle, int(block), by_shard, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _blocks(self, start: int, stop: int) -> np.ndarray:
        """(n, 2) [first, stop) of the blocks of frames start..stop-1."""
        first = np.arange(start, stop, self.block, dtype=np.int64)
        return np.stack([first, np.minimum(first + self.block, stop)], axis=1)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(len(self)))
        rng = np.random.default_rng([self.seed, self.epoch])
        n_shards = len(self.offsets) - 1
        if self.by_shard:
            parts = []
            for s in rng.permutation(n_shards):
                blocks = self._blocks(int(self.offsets[s]), int(self.offsets[s + 1]))
                parts.append(blocks[rng.permutation(len(blocks))])
            blocks = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
        else:
            blocks = np.concatenate(
                [self._blocks(int(self.offsets[s]), int(self.offsets[s + 1])) for s in range(n_shards)]
            )
            blocks = blocks[rng.permutation(len(blocks))]
        if self.block == 1:
            return iter(blocks[:, 0].tolist())
        frames = (blocks[:, :1] + np.arange(self.block)).ravel()
        return iter(frames[frames < np.repeat(blocks[:, 1], self.block)].tolist())
