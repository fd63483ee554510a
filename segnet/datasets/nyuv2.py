"""NYU Depth v2 (labeled subset) reader over the official ``nyu_depth_v2_labeled.mat``.

The file is MATLAB v7.3, i.e. HDF5, read with h5py. h5py shows MATLAB's axes reversed: the
480x640x1449 MATLAB arrays ``depths``, ``rawDepths`` (float32 metres) and ``labels`` (uint16,
894-class ids, 0 = unlabelled) are stored as (1449, 640, 480), so a frame is ``f[name][i].T``.
Labels go 894 -> 40 (Gupta et al.) -> 13 or 37 through the packaged tables; the split is the
standard 795/654 of ``splits.mat``; gravity comes from ``camera_rotations_NYU.txt``; the intrinsics
are the RGB camera's (the labeled depth is registered to RGB).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from segnet.datasets.errors import DatasetError
from segnet.datasets.tables import gravity_from_rtilt, nyuv2_camera_rotations, nyuv2_split_indices
from synthcam_core.camera import Intrinsics
from synthcam_core.labels import class894_to_40
from synthcam_core.sample import check_classes, check_window, class40_lut, crop_and_resize, make_sample

NYUV2_FRAMES = 1449
NYUV2_HW = (480, 640)
DEPTH_NAMES = ("depths", "rawDepths")
SPLITS = ("train", "test", "all")


class NYUv2Dataset(Dataset):
    """The 1449 labeled NYUv2 frames (or the 795 train / 654 test of them) as samples.

    path : ``nyu_depth_v2_labeled.mat``; split : ``"train"``, ``"test"`` or ``"all"``;
    classes : 13, 37 or 40; depth : ``"depths"`` (in-painted) or ``"rawDepths"`` (0 = missing);
    crop : optional ``(top, left, height, width)`` in pixels of the 640x480 frame; resize : optional
    ``(height, width)`` applied after the crop. The HDF5 file is opened lazily, once per process, so
    the dataset is safe in ``DataLoader`` workers. Samples follow :mod:`synthcam_core.sample`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = "train",
        classes: int = 40,
        depth: str = "depths",
        crop: Sequence[int] | None = None,
        resize: Sequence[int] | None = None,
    ):
        self.path = Path(path)
        if split not in SPLITS:
            raise DatasetError(f"unknown NYUv2 split {split!r}; valid splits: {', '.join(SPLITS)}")
        if depth not in DEPTH_NAMES:
            raise DatasetError(f"unknown NYUv2 depth {depth!r}; valid choices: {', '.join(DEPTH_NAMES)}")
        self.split, self.classes, self.depth_name = split, check_classes(classes), depth
        check_window(crop, resize, *NYUV2_HW)
        self.crop, self.resize = crop, resize
        self._check_file()
        self.frames = np.arange(NYUV2_FRAMES) if split == "all" else nyuv2_split_indices()[split]
        self._lut = class40_lut(self.classes)[class894_to_40()]  # (895,) 894-id -> chosen class id
        self._rotations = nyuv2_camera_rotations()
        cam = Intrinsics.nyuv2()
        self._intrinsics = np.array([cam.fx, cam.fy, cam.cx, cam.cy], dtype=np.float32)
        self._file = None
        self._pid = None

    def _open(self):
        import h5py

        if not self.path.is_file():
            raise DatasetError(f"{self.path} does not exist; pass the path of nyu_depth_v2_labeled.mat")
        try:
            return h5py.File(self.path, "r")
        except OSError:
            raise DatasetError(
                f"{self.path} is not an HDF5 (MATLAB v7.3) file; pass the original nyu_depth_v2_labeled.mat"
            ) from None

    def _check_file(self) -> None:
        """Raise a DatasetError naming the file unless it has the expected datasets, shapes and dtypes."""
        expected = {self.depth_name: np.float32, "labels": np.uint16}
        with self._open() as f:
            for name, dtype in expected.items():
                if name not in f:
                    raise DatasetError(
                        f"{self.path} has no dataset {name!r} (found: {', '.join(sorted(f.keys()))}); "
                        "pass the original nyu_depth_v2_labeled.mat"
                    )
                shape = (NYUV2_FRAMES, NYUV2_HW[1], NYUV2_HW[0])
                if f[name].shape != shape or f[name].dtype != dtype:
                    raise DatasetError(
                        f"{self.path}: dataset {name!r} is {f[name].shape} {f[name].dtype}, expected "
                        f"{shape} {np.dtype(dtype)} (MATLAB 480x640x1449 read through HDF5); "
                        "pass the original nyu_depth_v2_labeled.mat"
                    )

    def _handle(self):
        """This process's open file (DataLoader workers each open their own)."""
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = self._open(), os.getpid()
        return self._file

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self.frames):
            raise IndexError(f"index {index} out of range for {len(self.frames)} NYUv2 {self.split} frames")
        frame = int(self.frames[index])
        f = self._handle()
        depth = np.ascontiguousarray(f[self.depth_name][frame].T)
        labels = f["labels"][frame].T
        if labels.max(initial=0) >= len(self._lut):
            raise DatasetError(
                f"{self.path}: frame {frame + 1} has label {int(labels.max())} beyond the 894 NYUv2 "
                "classes; the file is damaged"
            )
        label = self._lut[labels]
        depth[~np.isfinite(depth)] = 0.0
        sample = make_sample(depth, label, self._intrinsics, gravity_from_rtilt(self._rotations[frame]), index)
        return crop_and_resize(sample, self.crop, self.resize)
