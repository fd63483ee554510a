"""Torch datasets with one sample layout (:mod:`synthcam_core.sample`): synthetic shards, NYUv2, SUN RGB-D,
and a folder of labelled real depth PNGs (``real``); clips of consecutive synthetic frames (with optical
flow when the shards hold it) through :class:`ClipDataset`.

``make_dataset(name, path, split, classes, **kw)`` picks a reader from :data:`DATASETS` by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from torch.utils.data import Dataset

from segnet.datasets.clip_reader import ClipDataset, ClipSampler, expand_clip
from segnet.datasets.errors import DatasetError
from segnet.datasets.nyuv2 import NYUv2Dataset
from segnet.datasets.real_folder import RealFolderDataset
from segnet.datasets.shard_reader import ShardDataset
from segnet.datasets.sunrgbd import SUNRGBDDataset

DATASETS: dict[str, Callable[..., Dataset]] = {
    "nyuv2": NYUv2Dataset,
    "sunrgbd": SUNRGBDDataset,
    "shards": ShardDataset,
    "real": RealFolderDataset,
}
"""Reader classes by name."""


def make_dataset(name: str, path: str | os.PathLike, split: str | None = None, classes: int = 40, **kw) -> Dataset:
    """The ``name`` reader over ``path``; ``split`` for NYUv2 and SUN RGB-D (a shard directory or a real
    folder is its own split, so ``split`` must be None for ``"shards"`` and ``"real"``); further keywords
    go to the reader (depth, crop, resize, ...)."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    if name in ("shards", "real"):
        if split is not None:
            what = "a shard directory" if name == "shards" else "a real folder"
            raise DatasetError(f"{what} has no splits (got split={split!r}); pass one directory per split")
        return DATASETS[name](path, classes=classes, **kw)
    return DATASETS[name](path, split=split or "train", classes=classes, **kw)


__all__ = [
    "DATASETS",
    "ClipDataset",
    "ClipSampler",
    "DatasetError",
    "NYUv2Dataset",
    "RealFolderDataset",
    "SUNRGBDDataset",
    "ShardDataset",
    "expand_clip",
    "make_dataset",
]
