"""A folder of labelled real depth PNGs (:mod:`synthcam_core.real_frames`) as samples for evaluation.

The folder is read by :func:`synthcam_core.real_frames.open_real_folder`: ``NAME_raw.png`` or
``NAME_depth.png`` (uint16 millimetres, chosen by ``depth="raw"|"filled"``), labels
``NAME_label13.png`` / ``NAME_label40.png``, the camera from ``intrinsics`` or the folder's
``intrinsics.yaml``. Only frames with labels in the chosen class space are samples (a folder's
unlabelled frames are skipped; a folder without any labelled frame is refused): 40 classes from
``_label40``, 37 from ``_label40`` through NYU40 -> 37, 13 from ``_label13`` or, where a frame has
only ``_label40``, through NYU40 -> 13.

Gravity (the down direction in the camera frame, which the height and angle channels need) is not
part of a depth PNG. ``gravity`` chooses it:

- ``"level"``: every camera level, (0, 1, 0) (image down). Right for a tripod or a robot's fixed
  camera; a tilted hand-held camera's heights and angles come out tilted.
- ``"nyuv2"``: the frames are NYUv2 labelled frames whose stem is the frame's 1-based number
  (``0004``): gravity from NYUv2's own per-frame rotations (:func:`segnet.datasets.tables.nyuv2_camera_rotations`,
  row k - 1 for frame k).
- ``"file"``: the folder's ``gravity.yaml``, a mapping from each labelled frame's stem to its down
  vector ``[x, y, z]`` in the OpenCV camera frame (x right, y down, z forward; normalised here).
- None (the default): ``"file"`` when the folder holds ``gravity.yaml``, else ``"level"``.

The camera height is unknown (NaN): the height channel estimates the floor, as on every real frame.
Samples follow :mod:`synthcam_core.sample`; ``index`` is the position in :attr:`RealFolderDataset.stems`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from segnet.datasets.errors import DatasetError
from segnet.datasets.tables import gravity_from_rtilt, nyuv2_camera_rotations
from synthcam_core.sample import check_classes, check_window, class40_lut, crop_and_resize, make_sample

GRAVITY_MODES = ("level", "nyuv2", "file")
"""Where a real folder's gravity comes from (module docstring)."""

GRAVITY_FILE = "gravity.yaml"
MAX_GRAVITY_BYTES = 1 << 20
"""Largest ``gravity.yaml`` read (a few dozen bytes per frame for the folder's at most 5000 frames)."""

LEVEL = (0.0, 1.0, 0.0)
"""Gravity of a level camera in the OpenCV camera frame."""


def _number(text: object) -> float | None:
    """A finite float from a YAML scalar read as text, else None."""
    try:
        value = float(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _read_gravity_file(path: Path) -> dict[str, np.ndarray]:
    """Stem -> (3,) unit down vector from a ``gravity.yaml``; one-line errors for anything else.

    Read with every scalar as text (YAML's base loader), so a frame named ``0070`` stays ``0070``
    rather than turning into a number."""
    import yaml

    if path.stat().st_size > MAX_GRAVITY_BYTES:
        raise DatasetError(f"{path} is larger than {MAX_GRAVITY_BYTES} bytes; it holds one [x, y, z] per frame")

    class _Loader(yaml.BaseLoader):  # text scalars; a frame listed twice is refused (the later entry would win)
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise DatasetError(f"{path} lists frame {key.value[:40]!r} twice; keep one entry per frame")
                    seen.add(key.value)
            return super().construct_mapping(node, deep=deep)

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - text scalars only
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise DatasetError(
            f"{path} must be a YAML mapping from frame name to its down vector [x, y, z] "
            "(camera frame: x right, y down, z forward), e.g. '0004: [0.0, 0.98, 0.2]'"
        )
    table = {}
    for stem, vector in data.items():
        values = [_number(v) for v in vector] if isinstance(vector, list) and len(vector) == 3 else [None]
        numbers = [v for v in values if v is not None]
        whole = len(numbers) == len(values)  # every entry a finite number
        scale = max(abs(v) for v in numbers) if whole else 0.0
        unit = [v / scale for v in numbers] if scale > 0 else [0.0, 0.0, 0.0]  # scaled first: no overflow
        if not whole or scale * math.hypot(*unit) < 1e-6:
            raise DatasetError(
                f"{path}: the gravity of {str(stem)[:40]!r} must be three finite numbers [x, y, z] "
                "that are not all zero"
            )
        table[str(stem)] = np.asarray(unit, dtype=np.float64) / math.hypot(*unit)
    return table


def _nyuv2_frame(stem: str) -> int:
    """0-based NYUv2 frame index of a stem that is a 1-based frame number (``0004`` -> 3)."""
    if not stem.isdigit() or not 1 <= int(stem) <= len(nyuv2_camera_rotations()):
        raise DatasetError(
            f"frame {stem[:40]!r} is not named by a NYUv2 frame number 1..{len(nyuv2_camera_rotations())}; "
            "gravity nyuv2 needs NYUv2 labelled frames named NNNN (use gravity level or a gravity.yaml)"
        )
    return int(stem) - 1


class RealFolderDataset(Dataset):
    """The labelled frames of a real folder as samples (see the module docstring).

    path : the folder; classes : 13, 37 or 40; depth : ``"filled"`` or ``"raw"``; intrinsics : a
    camera name of :data:`synthcam_core.real_frames.CAMERAS`, ``"fx,fy,cx,cy"``, or None for the folder's
    ``intrinsics.yaml``; gravity : one of :data:`GRAVITY_MODES` or None; crop, resize : as every
    reader. Raises :class:`DatasetError` (a :class:`SynthcamError`) with what to do.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        classes: int = 13,
        depth: str = "filled",
        intrinsics: str | None = None,
        gravity: str | None = None,
        crop: Sequence[int] | None = None,
        resize: Sequence[int] | None = None,
    ):
        from synthcam_core.real_frames import RealFolder, open_real_folder

        self.classes = check_classes(classes)
        folder = open_real_folder(Path(path), kind=depth, intrinsics=intrinsics)
        k = folder.intrinsics
        check_window(crop, resize, k.height, k.width)
        self.crop, self.resize = crop, resize
        self.kind, self.path, self.camera = depth, folder.path, k
        self._intrinsics = np.array([k.fx, k.fy, k.cx, k.cy], dtype=np.float32)
        spaces = (13, 40) if self.classes == 13 else (40,)
        self._frames = []  # one single-frame RealFolder per labelled stem
        for stem in folder.stems:
            single = RealFolder(folder.path, folder.kind, k, (stem,))
            if any(single.has_labels(c) for c in spaces):
                self._frames.append(single)
        if not self._frames:
            names = " or ".join(f"NAME_label{c}.png" for c in spaces)
            raise DatasetError(
                f"{folder.path} has no {depth} depth frame with labels for {self.classes} classes ({names}); "
                "pass a folder of labelled frames"
            )
        self.stems = tuple(f.stems[0] for f in self._frames)
        gravity_path = folder.path / GRAVITY_FILE
        if os.path.lexists(gravity_path) and not gravity_path.is_file() and gravity in (None, "file"):
            raise DatasetError(
                f"{gravity_path} is not a regular file; write frame name: [x, y, z] there or choose gravity level"
            )
        if gravity is None:
            gravity = "file" if gravity_path.is_file() else "level"
        if gravity not in GRAVITY_MODES:
            raise DatasetError(f"unknown gravity {gravity!r}; choose one of {', '.join(GRAVITY_MODES)}")
        self.gravity_mode = gravity
        table = self._gravity_file() if gravity == "file" else {}
        self._gravity = [self._frame_gravity(stem, table) for stem in self.stems]
        self._lut = class40_lut(self.classes)

    def _gravity_file(self) -> dict[str, np.ndarray]:
        path = self.path / GRAVITY_FILE
        if not path.is_file():
            raise DatasetError(f"gravity file needs {path}; write it (frame name: [x, y, z]) or choose gravity level")
        return _read_gravity_file(path)

    def _frame_gravity(self, stem: str, table: dict[str, np.ndarray]) -> np.ndarray:
        """(3,) down vector of frame ``stem`` in this dataset's gravity mode."""
        if self.gravity_mode == "level":
            return np.array(LEVEL)
        if self.gravity_mode == "nyuv2":
            return gravity_from_rtilt(nyuv2_camera_rotations()[_nyuv2_frame(stem)])
        if stem not in table:
            raise DatasetError(f"{self.path / GRAVITY_FILE} has no gravity for frame {stem!r}; add '{stem}: [x, y, z]'")
        return table[stem]

    def __len__(self) -> int:
        return len(self._frames)

    def labels(self, frame) -> np.ndarray:
        """(H, W) uint8 ids in this dataset's class space from a :class:`synthcam_core.real_frames.RealFrame`."""
        if self.classes == 13 and frame.label13 is not None:
            return frame.label13
        return self._lut[frame.label40]

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self._frames):
            raise IndexError(f"index {index} out of range for {len(self._frames)} labelled frames of {self.path}")
        frame = next(self._frames[index].frames(labels=True))
        label = self.labels(frame).astype(np.int64)
        sample = make_sample(frame.depth, label, self._intrinsics, self._gravity[index], index)
        return crop_and_resize(sample, self.crop, self.resize)
