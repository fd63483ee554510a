"""Pinhole intrinsics and camera poses.

Conventions: camera frame is OpenCV (x right, y down, z forward); a pose is a (4, 4) float64
camera-to-world matrix; pixel (u, v) has its centre at (u + 0.5, v + 0.5) in the continuous image
coordinates in which ``cx, cy`` are given. The pixel-centre ray grid is :mod:`synthcam_core.geometry.rays`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from synthcam_core.errors import SynthcamError


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera: image size in pixels, focal lengths and principal point in pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def nyuv2(cls) -> Intrinsics:
        """The NYUv2 RGB-registered camera at 640x480 (the project default)."""
        rgb = json.loads(
            resources.files("synthcam_core").joinpath("data").joinpath("nyuv2_camera_params.json").read_text()
        )["rgb"]
        return cls(640, 480, rgb["fx"], rgb["fy"], rgb["cx"], rgb["cy"])

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera resampled to ``width`` x ``height`` pixels."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy)

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) float64 calibration matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def as_array(self) -> np.ndarray:
        """(6,) float64 ``[width, height, fx, fy, cx, cy]`` as stored in shards."""
        return np.array([self.width, self.height, self.fx, self.fy, self.cx, self.cy], dtype=np.float64)

    @classmethod
    def from_array(cls, values: np.ndarray) -> Intrinsics:
        w, h, fx, fy, cx, cy = (float(v) for v in values)
        return cls(int(w), int(h), fx, fy, cx, cy)


MIN_IMAGE_SIDE = 16
"""Smallest image width or height in pixels: below it trajectories cannot be judged (views are probed at 64x48)."""
MAX_IMAGE_SIDE = 4096
"""Largest image width or height in pixels: a 4096x4096 frame already needs ~1 GB of render and noise buffers."""


def check_resolution(width: int, height: int) -> None:
    """Raise :class:`SynthcamError` unless both sides lie in ``MIN_IMAGE_SIDE .. MAX_IMAGE_SIDE`` pixels."""
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        raise SynthcamError(
            f"resolution {width}x{height} is too small; use at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}, e.g. 640x480"
        )
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise SynthcamError(
            f"resolution {width}x{height} is too large; use at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}, e.g. 640x480"
        )


def parse_resolution(text: str) -> tuple[int, int]:
    """Parse ``"WxH"`` into ``(width, height)``; each side from 16 to 4096 pixels (:func:`check_resolution`)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdecimal() and len(p.strip()) <= 6 for p in parts):  # int() reads these
        raise SynthcamError(f"resolution {text!r} is not of the form WIDTHxHEIGHT, e.g. 640x480")
    w, h = (int(p) for p in parts)
    try:
        check_resolution(w, h)
    except SynthcamError as exc:
        raise SynthcamError(str(exc).replace(f"resolution {w}x{h}", f"resolution {text!r}", 1)) from None
    return w, h


def project(points_cam: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Pixel indices (u, v) of camera-frame points.

    points_cam : (N, 3) float, metres, z > 0.
    Returns (N, 2) int64 column and row of the pixel that contains each point.
    """
    x = points_cam[:, 0] / points_cam[:, 2] * intrinsics.fx + intrinsics.cx
    y = points_cam[:, 1] / points_cam[:, 2] * intrinsics.fy + intrinsics.cy
    return np.stack([np.floor(x), np.floor(y)], axis=1).astype(np.int64)


def look_at(eye: np.ndarray, target: np.ndarray, up: npt.ArrayLike = (0.0, 0.0, 1.0)) -> np.ndarray:
    """(4, 4) float64 camera-to-world pose at ``eye`` looking at ``target`` with world ``up`` (z)."""
    (ex, ey, ez), (tx, ty, tz) = (
        np.asarray(eye, dtype=np.float64).tolist(),
        np.asarray(target, dtype=np.float64).tolist(),
    )
    ux, uy, uz = np.asarray(up, dtype=np.float64).tolist()
    # Plain floats: the same IEEE operations as numpy's on 3-vectors, without its per-call overhead.
    fx, fy, fz = tx - ex, ty - ey, tz - ez
    norm = _norm3(fx, fy, fz)
    fx, fy, fz = fx / norm, fy / norm, fz / norm
    rx, ry, rz = fy * uz - fz * uy, fz * ux - fx * uz, fx * uy - fy * ux
    norm = _norm3(rx, ry, rz)
    if norm < 1e-6:
        raise ValueError("look_at: viewing direction is parallel to up")
    rx, ry, rz = rx / norm, ry / norm, rz / norm
    dx, dy, dz = fy * rz - fz * ry, fz * rx - fx * rz, fx * ry - fy * rx
    return np.array([[rx, dx, fx, ex], [ry, dy, fy, ey], [rz, dz, fz, ez], [0.0, 0.0, 0.0, 1.0]])


def _norm3(x: float, y: float, z: float) -> float:
    """Euclidean norm of a 3-vector, rounded exactly as ``np.linalg.norm`` rounds it (a float64 dot product)."""
    v = np.array((x, y, z))
    return math.sqrt(float(v.dot(v)))
