"""The sample layout shared by every reader (synthetic shards, NYUv2, SUN RGB-D).

Each reader is a ``torch.utils.data.Dataset`` whose ``__getitem__`` returns the dict built by
:func:`make_sample`, with exactly these keys:

- ``"depth"``: float32 (1, H, W), metres, 0 = invalid.
- ``"label"``: int64 (H, W) in the chosen class space (13, 37 or 40 classes), 0 = void, 1..C.
- ``"intrinsics"``: float32 (4,) = fx, fy, cx, cy in pixels of the returned image (pixel (u, v) has
  its centre at (u + 0.5, v + 0.5)); adjusted for crop and resize.
- ``"gravity"``: float32 (3,), unit vector in the camera frame (OpenCV: x right, y down, z forward)
  pointing down along gravity. A level camera gives (0, 1, 0).
- ``"camera_height"``: float32 scalar, metres above the floor, NaN when unknown (real data).
- ``"pose"``: float32 (4, 4) camera-to-world (identity where unknown).
- ``"index"``: int64 scalar, the sample's index in its dataset.

Torch's default collate stacks a list of samples into a batch dict with a leading batch axis.

Compact samples (``ShardDataset(..., compact=True)``) carry ``"depth_mm"`` uint16 (1, H, W)
millimetres instead of ``"depth"`` and a uint8 ``"label"``: a quarter of the bytes to decode, collate
and move between processes. :func:`expand` turns a compact sample or batch into the layout above,
on whatever device it lives (call it after ``.to(device)`` so the GPU does the widening).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from synthcam_core.errors import SynthcamError
from synthcam_core.labels import class40_to_13, class40_to_37

DEPTH = "depth"
LABEL = "label"
INTRINSICS = "intrinsics"
GRAVITY = "gravity"
CAMERA_HEIGHT = "camera_height"
POSE = "pose"
INDEX = "index"
SAMPLE_KEYS = (DEPTH, LABEL, INTRINSICS, GRAVITY, CAMERA_HEIGHT, POSE, INDEX)
DEPTH_MM = "depth_mm"
"""Key of the uint16 millimetre depth of a compact sample (replaces ``"depth"``)."""
DEPTH_SCALE = "depth_scale"
"""Optional float32 scalar key of a compact sample: :func:`expand` multiplies the metric depth by
it (a depth-scale augmentation deferred to the device, where depth becomes float)."""

CLASS_SPACES = (13, 37, 40)
"""Valid ``classes=`` values for every reader."""

WORLD_DOWN = np.array([0.0, 0.0, -1.0])
"""Gravity in the world frame of generated scenes (z up)."""


def check_classes(classes: int) -> int:
    """Return ``classes`` if it is a supported class space, else raise with the valid choices."""
    if classes not in CLASS_SPACES:
        raise SynthcamError(f"classes={classes!r} is not supported; choose one of {', '.join(map(str, CLASS_SPACES))}")
    return int(classes)


def class40_lut(classes: int) -> np.ndarray:
    """(41,) uint8 lookup table from a NYU40 id (0 = void) to the id in ``classes`` (13, 37 or 40)."""
    classes = check_classes(classes)
    if classes == 40:
        return np.arange(41, dtype=np.uint8)
    if classes == 13:
        return class40_to_13()
    return class40_to_37()


def gravity_from_pose(pose: np.ndarray) -> np.ndarray:
    """(3,) float64 world down direction (0, 0, -1) in the camera frame of a camera-to-world ``pose``."""
    return np.asarray(pose, dtype=np.float64)[:3, :3].T @ WORLD_DOWN


def _tensor(value, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(dtype)
    return torch.as_tensor(np.asarray(value), dtype=dtype)


def make_sample(
    depth, label, intrinsics, gravity, index: int, camera_height: float = math.nan, pose=None, compact: bool = False
) -> dict[str, torch.Tensor]:
    """Build the sample dict (see the module docstring) from numpy arrays or tensors.

    depth : (H, W) or (1, H, W) metres, 0 = invalid; label : (H, W) class ids in the chosen space;
    intrinsics : (4,) fx, fy, cx, cy; gravity : (3,) camera-frame down vector (normalised here);
    camera_height : metres or NaN; pose : (4, 4) camera-to-world or None for identity.
    compact : ``depth`` is uint16 millimetres, stored as ``depth_mm``, and ``label`` stays uint8
    (see :func:`expand`).
    """
    depth_t = _tensor(depth, torch.uint16 if compact else torch.float32)
    if depth_t.ndim == 2:
        depth_t = depth_t.unsqueeze(0)
    label_t = _tensor(label, torch.uint8 if compact else torch.int64)
    if depth_t.shape[1:] != label_t.shape:
        raise ValueError(f"depth {tuple(depth_t.shape)} and label {tuple(label_t.shape)} disagree in size")
    g = np.asarray(gravity, dtype=np.float64).reshape(3)
    return {
        DEPTH_MM if compact else DEPTH: depth_t,
        LABEL: label_t,
        INTRINSICS: _tensor(intrinsics, torch.float32).reshape(4),
        GRAVITY: torch.from_numpy((g / np.linalg.norm(g)).astype(np.float32)),
        CAMERA_HEIGHT: torch.tensor(camera_height, dtype=torch.float32),
        POSE: torch.eye(4, dtype=torch.float32) if pose is None else _tensor(pose, torch.float32).reshape(4, 4),
        INDEX: torch.tensor(index, dtype=torch.int64),
    }


def check_window(crop: Sequence[int] | None, resize: Sequence[int] | None, height: int, width: int) -> None:
    """Raise a clear error if ``crop=(top, left, h, w)`` or ``resize=(h, w)`` do not fit an image."""
    if crop is not None:
        if len(crop) != 4 or min(crop) < 0 or crop[2] < 1 or crop[3] < 1:
            raise SynthcamError(f"crop={tuple(crop)} must be (top, left, height, width) with positive height and width")
        top, left, h, w = crop
        if top + h > height or left + w > width:
            raise SynthcamError(
                f"crop={tuple(crop)} (top, left, height, width) does not fit in the {width}x{height} image"
            )
    if resize is not None and (len(resize) != 2 or min(resize) < 1):
        raise SynthcamError(f"resize={tuple(resize)} must be (height, width) in pixels, both at least 1")


def _nearest_exact(size: int, new_size: int) -> np.ndarray:
    """Source index of each output pixel for a pixel-centre-aligned nearest-neighbour resize."""
    return np.minimum(
        np.floor((np.arange(new_size, dtype=np.float64) + 0.5) * (size / new_size)).astype(np.int64), size - 1
    )


def window_pixels(
    crop: Sequence[int] | None, resize: Sequence[int] | None, height: int, width: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, cols) int64 source pixel of each output row and column of ``crop`` then ``resize``
    (see :func:`crop_and_resize`), or None when the image is returned as it is."""
    check_window(crop, resize, height, width)
    top, left = 0, 0
    if crop is not None:
        top, left, height, width = (int(v) for v in crop)
    rows, cols = np.arange(height, dtype=np.int64), np.arange(width, dtype=np.int64)
    if resize is not None and tuple(resize) != (height, width):
        rows, cols = _nearest_exact(height, int(resize[0])), _nearest_exact(width, int(resize[1]))
    if (
        crop is None
        and len(rows) == height
        and len(cols) == width
        and (rows == np.arange(height)).all()
        and (cols == np.arange(width)).all()
    ):
        return None
    return rows + top, cols + left


def window_intrinsics(
    intrinsics, crop: Sequence[int] | None, resize: Sequence[int] | None, height: int, width: int
) -> np.ndarray:
    """(4,) float32 fx, fy, cx, cy after ``crop`` then ``resize`` of a (height, width) image, in
    continuous pixel coordinates: the crop shifts cx, cy; the resize scales fx, cx by the width
    ratio and fy, cy by the height ratio."""
    fx, fy, cx, cy = (float(v) for v in np.asarray(intrinsics, dtype=np.float32).reshape(4))
    if crop is not None:
        top, left, height, width = (int(v) for v in crop)
        cx, cy = cx - left, cy - top
    if resize is not None and tuple(resize) != (height, width):
        sx, sy = int(resize[1]) / width, int(resize[0]) / height
        fx, cx, fy, cy = fx * sx, cx * sx, fy * sy, cy * sy
    return np.array([fx, fy, cx, cy], dtype=np.float32)


def crop_and_resize(
    sample: dict[str, torch.Tensor], crop: Sequence[int] | None = None, resize: Sequence[int] | None = None
) -> dict[str, torch.Tensor]:
    """Crop ``(top, left, height, width)`` then resize to ``(height, width)``; returns a new sample.

    Depth (or compact ``depth_mm``) and label use nearest-neighbour sampling with pixel-centre
    alignment (the source pixel of output pixel u is floor((u + 0.5) * w / new_w)), so no depth is
    blended across edges or with invalid pixels. Intrinsics follow exactly (:func:`window_intrinsics`).
    """
    if crop is None and resize is None:
        return sample
    out = dict(sample)
    image_keys = [k for k in (DEPTH, DEPTH_MM, LABEL) if k in sample]
    height, width = sample[LABEL].shape[-2:]
    check_window(crop, resize, height, width)
    if crop is not None:
        top, left, h, w = (int(v) for v in crop)
        for k in image_keys:
            out[k] = out[k][..., top : top + h, left : left + w]
    if resize is not None and tuple(resize) != tuple(out[LABEL].shape[-2:]):
        rows, cols = (torch.from_numpy(_nearest_exact(n, int(m))) for n, m in zip(out[LABEL].shape[-2:], resize))
        for k in image_keys:
            out[k] = out[k][..., rows[:, None], cols[None, :]]
    for k in image_keys:
        out[k] = out[k].contiguous()
    out[INTRINSICS] = torch.from_numpy(window_intrinsics(sample[INTRINSICS], crop, resize, height, width))
    return out


def expand(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A compact sample or batch (uint16 ``depth_mm``, uint8 ``label``, optional ``depth_scale``)
    in the standard layout: ``depth`` float32 metres (0 = invalid; times ``depth_scale`` if given)
    and int64 ``label``, on the tensors' own device. A standard sample is returned unchanged."""
    if DEPTH_MM not in sample:
        return sample
    out = {k: v for k, v in sample.items() if k != DEPTH_MM}
    depth_mm = sample[DEPTH_MM]
    out[DEPTH] = depth_mm.to(torch.float32) / 1000.0
    if DEPTH_SCALE in sample:
        scale = sample[DEPTH_SCALE].to(torch.float32)
        out[DEPTH] = out[DEPTH] * scale.reshape(scale.shape + (1,) * (depth_mm.ndim - scale.ndim))
    out[LABEL] = sample[LABEL].to(torch.int64)
    return {k: out[k] for k in SAMPLE_KEYS}
