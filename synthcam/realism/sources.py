"""Frames to measure, from generated shards or a folder of real depth PNGs, one at a time.

Each source is a :class:`FrameSource`: the camera of its frames, how many it yields and whether they
carry labels; iterating it decodes one :class:`MeasureFrame` at a time. Generated depth is read as
stored (uint16 millimetres) and real PNGs hold millimetres too, so both sides are measured alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthcam.realism.measures import MeasureFrame
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

DEPTHS = ("noisy", "clean")
"""Which generated depth to judge: the noisy sensor depth or the clean rendered depth."""
DEFAULT_MAX_FRAMES = 1000
"""Generated frames read at most by default, spread evenly over the shards."""


@dataclass(frozen=True)
class FrameSource:
    """Frames to measure: ``count`` frames of one camera, ``labelled`` of them with labels; iterate
    for :class:`MeasureFrame` values."""

    intrinsics: Intrinsics
    count: int
    has_reference: bool
    has_labels: bool
    read: Callable[[], Iterator[MeasureFrame]]
    labelled: int = 0
    """Frames carrying labels (all of them for shards read with labels)."""

    def __iter__(self) -> Iterator[MeasureFrame]:
        return self.read()

    def __len__(self) -> int:
        return self.count


def _spread(total: int, wanted: int) -> np.ndarray:
    """Sorted indices of ``min(total, wanted)`` frames spread evenly over ``0 .. total - 1``."""
    if wanted >= total:
        return np.arange(total)
    return np.unique(np.floor((np.arange(wanted) + 0.5) * total / wanted).astype(np.int64))


def shard_source(
    path: str | Path, depth: str = "noisy", labels: bool = False, max_frames: int = DEFAULT_MAX_FRAMES
) -> FrameSource:
    """The frames of a dataset directory written by ``synthcam generate`` (or of one shard).

    depth : ``"noisy"`` judges the stored sensor depth, ``"clean"`` the clean depth; the clean depth
    is the reference either way. labels : attach class40 mapped to the 13 classes. max_frames : read
    at most this many frames, spread evenly over all the shards' frames. Raises
    :class:`SynthcamError` (a :class:`~synthcam_core.errors.ShardError`) when the path holds no readable
    shards or shards of different cameras.
    """
    from synthcam_core.labels import class40_to_13
    from synthcam_shards.shard_file import ShardFile, find_shards

    if depth not in DEPTHS:
        raise SynthcamError(f"unknown generated depth {depth!r}; choose one of {', '.join(DEPTHS)}")
    if max_frames < 1:
        raise SynthcamError(f"max_frames must be at least 1, got {max_frames}")
    paths = find_shards(Path(path))
    shards: list[ShardFile] = []
    for shard_path in paths:  # headers checked once; a closed ShardFile reopens cheaply to read
        shard = ShardFile(shard_path)
        shard.close()
        if shards and shard.intrinsics != shards[0].intrinsics:
            raise SynthcamError(
                f"{shard_path} has another camera ({shard.width}x{shard.height}) than "
                f"{paths[0].name}; measure shards of one dataset"
            )
        shards.append(shard)
    counts = [len(shard) for shard in shards]
    chosen = _spread(sum(counts), max_frames)
    if not len(chosen):
        raise SynthcamError(f"{path} holds no frames; generate some first")
    starts = np.concatenate([[0], np.cumsum(counts)])
    lut = class40_to_13() if labels else None
    stored = "depth_mm" if depth == "noisy" else "depth_clean_mm"
    fields = ("depth_mm", "depth_clean_mm", "class40") if labels else ("depth_mm", "depth_clean_mm")

    def read() -> Iterator[MeasureFrame]:
        for k, shard in enumerate(shards):
            mine = chosen[(chosen >= starts[k]) & (chosen < starts[k + 1])] - starts[k]
            try:
                for i in mine:
                    frame = shard.read_frame(int(i), fields)
                    judged = frame[stored].astype(np.float32) * np.float32(0.001)
                    reference = frame["depth_clean_mm"].astype(np.float32) * np.float32(0.001)
                    yield MeasureFrame(judged, reference, lut[frame["class40"]] if lut is not None else None)
            finally:
                shard.close()

    return FrameSource(shards[0].intrinsics, len(chosen), True, labels, read, len(chosen) if labels else 0)


def real_source(folder, labels: bool = False) -> FrameSource:
    """The frames of a :class:`~synthcam_core.real_frames.RealFolder`: its depth judged, its filled depth
    the reference (a filled folder is its own reference; a raw folder has one when every raw frame
    has a filled partner), and with ``labels`` the 13-class labels of the frames that have them
    (``labelled`` of the source's ``count``; :class:`SynthcamError` when none has)."""
    labelled = sum((folder.path / f"{stem}_label13.png").is_file() for stem in folder.stems) if labels else 0
    if labels and not labelled:
        raise SynthcamError(
            f"{folder.path} holds no 13-class labels (NAME_label13.png beside NAME_raw.png or "
            f"NAME_depth.png); drop --labels or add label PNGs"
        )
    has_reference = folder.has_reference  # a filled folder is its own reference

    def read() -> Iterator[MeasureFrame]:
        for frame in folder.frames(labels=labels):
            yield MeasureFrame(
                frame.depth, frame.reference if has_reference else None, frame.label13 if labels else None
            )

    return FrameSource(folder.intrinsics, len(folder), has_reference, labels, read, labelled)
