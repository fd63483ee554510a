"""SUN RGB-D reader over the toolbox folder tree (``SUNRGBD/<sensor>/<source>/<frame>/``).

Per frame folder: ``depth_bfx/<name>.png`` (in-painted) or ``depth/<name>.png`` (raw, 0 = missing),
uint16 stored as a 16-bit rotate left by 3, decoded as ``((v >> 3) | (v << 13)) / 1000`` metres and
clipped at 8 m (SUNRGBDtoolbox ``read3dPoints.m``); ``intrinsics.txt`` (3x3 K, row-major);
``extrinsics/<timestamp>.txt`` (3x4, the last file in sorted order, as the toolbox takes it).

Gravity: the toolbox turns the extrinsics rotation E into ``Rtilt = P E P^T`` with
P = [[1, 0, 0], [0, 0, 1], [0, -1, 0]] (OpenCV camera axes -> (x, forward, up)), and Rtilt levels the
(x, forward, up) camera points. So E levels OpenCV camera points into a frame whose +y points down,
and the camera-frame down vector is ``E.T @ (0, 1, 0)``, E's second row. A level camera (E = I)
gives (0, 1, 0).

Labels, in 37 classes (0 = void), from one of two sources:
- ``label_dir``: the 37-class PNGs ``img-%06d.png`` of ankurhanda/sunrgbd-meta-data, numbered test
  first (1..5050 in ``alltest`` order) then train (5051..10335 in ``alltrain`` order). Exact.
- otherwise each folder's ``seg.mat`` (``seglabel`` H x W indexing the frame's ``names``): a name
  equal to a seg37 name takes its id, else a name in the SUN RGB-D -> NYU40 name table is mapped
  through NYU40 -> 37, else void. An approximation of the official SUNRGBD2Dseg labels.
13 and 40 classes follow from 37 -> NYU40 (classes 1..37 are NYU40's 1..37) -> 13.
The split is the official 5285 train / 5050 test of ``allsplit.mat`` (plus its 2666/2619 train/val).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from segnet.datasets.errors import DatasetError
from segnet.datasets.tables import sunrgbd_split_folders
from synthcam_core.labels import class37_names, class37_to_40, class40_names, class40_to_37, sunrgbd_name_to_40
from synthcam_core.sample import check_classes, check_window, class40_lut, crop_and_resize, make_sample

DEPTH_FOLDERS = ("depth_bfx", "depth")
SPLITS = ("train", "test", "trainval_train", "trainval_val")
MAX_DEPTH_M = 8.0
TEST_FRAMES = 5050  # Handa's label PNGs: test frames are img-000001 .. img-005050, train follow


def decode_depth_png(png: np.ndarray, max_depth: float = MAX_DEPTH_M) -> np.ndarray:
    """(H, W) uint16 SUN RGB-D depth PNG values -> (H, W) float32 metres, 0 = missing, clipped at ``max_depth``."""
    v = png.astype(np.uint16)
    depth = ((v >> 3) | (v << 13)).astype(np.float32) / np.float32(1000.0)
    return np.minimum(depth, np.float32(max_depth))


def gravity_from_extrinsics(extrinsics: np.ndarray) -> np.ndarray:
    """(3,) OpenCV camera-frame down vector from a SUN RGB-D ``extrinsics`` 3x4 (or 3x3) matrix: its second row."""
    down = np.asarray(extrinsics, dtype=np.float64)[1, :3]
    return down / np.linalg.norm(down)


@cache
def _name_to_37() -> dict[str, int]:
    """SUN RGB-D object name -> 37-class id for ``seg.mat`` names (see the module docstring)."""
    table = {name: k for k, name in enumerate(class37_names()) if k > 0}
    to37 = class40_to_37()
    for name, id40 in sunrgbd_name_to_40().items():
        table.setdefault(name, int(to37[id40]))
    for id40, name in enumerate(class40_names()):
        if id40 > 0:
            table.setdefault(name.replace(" ", "_"), int(to37[id40]))
    return table


def _read_matrix(path: Path, rows: int, cols: tuple[int, ...]) -> np.ndarray:
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except (OSError, ValueError):
        raise DatasetError(
            f"{path} is missing or not a whitespace-separated matrix; re-extract the SUN RGB-D frame"
        ) from None
    for c in cols:
        if values.size == rows * c:
            return values.reshape(rows, c)
    raise DatasetError(
        f"{path} holds {values.size} numbers, expected a {rows}x{cols[0]} matrix; re-extract the SUN RGB-D frame"
    )


class SUNRGBDDataset(Dataset):
    """SUN RGB-D frames of one split as samples (see :mod:`synthcam_core.sample`).

    path : the ``SUNRGBD`` folder of the toolbox tree (or its parent); split : ``"train"`` (5285),
    ``"test"`` (5050), ``"trainval_train"`` or ``"trainval_val"``; classes : 13, 37 or 40;
    depth : ``"depth_bfx"`` (in-painted) or ``"depth"`` (raw); label_dir : optional folder of Handa's
    37-class ``img-%06d.png``; crop ``(top, left, height, width)`` and resize ``(height, width)``
    as for every reader (frames differ in size per sensor, so batching needs ``resize``).
    Missing frame files raise a DatasetError naming the file when the frame is read.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = "train",
        classes: int = 37,
        depth: str = "depth_bfx",
        label_dir: str | os.PathLike | None = None,
        crop: Sequence[int] | None = None,
        resize: Sequence[int] | None = None,
        max_depth: float = MAX_DEPTH_M,
    ):
        root = Path(path)
        if (root / "SUNRGBD").is_dir():
            root = root / "SUNRGBD"
        if not root.is_dir():
            raise DatasetError(f"{path} is not a folder; pass the SUNRGBD folder of the SUN RGB-D toolbox tree")
        if split not in SPLITS:
            raise DatasetError(f"unknown SUN RGB-D split {split!r}; valid splits: {', '.join(SPLITS)}")
        if depth not in DEPTH_FOLDERS:
            raise DatasetError(f"unknown SUN RGB-D depth {depth!r}; valid choices: {', '.join(DEPTH_FOLDERS)}")
        self.root, self.split, self.classes, self.depth_folder = root, split, check_classes(classes), depth
        if crop is not None or resize is not None:
            check_window(crop, resize, 10**9, 10**9)  # the fit in each frame is checked when it is read
        self.crop, self.resize, self.max_depth = crop, resize, max_depth
        self.folders = sunrgbd_split_folders()[split]
        first = root / self.folders[0]
        if not first.is_dir():
            raise DatasetError(
                f"{root} lacks the split's first frame folder {self.folders[0]}; pass the SUNRGBD "
                "folder of the toolbox tree (the one holding kv1/, kv2/, realsense/, xtion/)"
            )
        self.label_dir = None if label_dir is None else Path(label_dir)
        if self.label_dir is not None and not self.label_dir.is_dir():
            raise DatasetError(
                f"label_dir {label_dir} is not a folder; pass the folder of the 37-class img-XXXXXX.png labels"
            )
        train_pos = {folder: k for k, folder in enumerate(sunrgbd_split_folders()["train"])}
        if split == "test":
            self._label_numbers = np.arange(1, TEST_FRAMES + 1)
        else:
            self._label_numbers = np.array([TEST_FRAMES + 1 + train_pos[f] for f in self.folders])
        self._lut = class40_lut(self.classes)[class37_to_40()]  # (38,) 37-id -> chosen class id

    def __len__(self) -> int:
        return len(self.folders)

    def _single_file(self, folder: Path, sub: str, pattern: str, last: bool = False) -> Path:
        files = sorted((folder / sub).glob(pattern))
        if not files:
            raise DatasetError(f"{folder / sub} holds no {pattern} file; re-extract the SUN RGB-D frame {folder.name}")
        return files[-1] if last else files[0]

    def _read_png(self, path: Path) -> np.ndarray:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 2:
            raise DatasetError(f"{path} is missing or not a single-channel PNG; re-extract it")
        return image

    def _labels37(self, index: int, folder: Path) -> np.ndarray:
        if self.label_dir is not None:
            return self._read_png(self.label_dir / f"img-{int(self._label_numbers[index]):06d}.png")
        path = folder / "seg.mat"
        try:
            import scipy.io

            mat = scipy.io.loadmat(path, squeeze_me=True)
            seglabel, names = np.asarray(mat["seglabel"]), np.atleast_1d(mat["names"])
        except (OSError, ValueError, KeyError, NotImplementedError) as exc:
            raise DatasetError(
                f"{path} is missing or not a seg.mat with 'seglabel' and 'names' ({exc}); "
                "re-extract it or pass label_dir with the 37-class PNGs"
            ) from None
        table = _name_to_37()
        lut = np.zeros(len(names) + 1, dtype=np.uint8)
        lut[1:] = [table.get(str(n).strip().lower().replace(" ", "_"), 0) for n in names]
        if seglabel.max(initial=0) > len(names):
            raise DatasetError(
                f"{path}: seglabel value {int(seglabel.max())} exceeds its {len(names)} names; re-extract it"
            )
        return lut[seglabel.astype(np.int64)]

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self.folders):
            raise IndexError(f"index {index} out of range for {len(self.folders)} SUN RGB-D {self.split} frames")
        folder = self.root / self.folders[index]
        if not folder.is_dir():
            raise DatasetError(f"frame folder {folder} is missing; download or re-extract SUN RGB-D")
        depth = decode_depth_png(self._read_png(self._single_file(folder, self.depth_folder, "*.png")), self.max_depth)
        k = _read_matrix(folder / "intrinsics.txt", 3, (3,))
        extrinsics = _read_matrix(self._single_file(folder, "extrinsics", "*.txt", last=True), 3, (4, 3))
        labels = self._labels37(index, folder)
        if labels.shape != depth.shape:
            raise DatasetError(
                f"labels of {folder} are {labels.shape[1]}x{labels.shape[0]} but its depth is "
                f"{depth.shape[1]}x{depth.shape[0]}; re-extract the frame"
            )
        if labels.max(initial=0) > 37:
            raise DatasetError(f"labels of {folder} hold id {int(labels.max())} > 37; pass 37-class labels")
        label = self._lut[labels]
        intrinsics = np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], dtype=np.float32)
        sample = make_sample(depth, label, intrinsics, gravity_from_extrinsics(extrinsics), index)
        return crop_and_resize(sample, self.crop, self.resize)
