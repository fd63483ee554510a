"""The pixel-centre ray grid of the project (numpy).

Every backend, noise stage, check and measure that needs the ray through a pixel builds on
:func:`pixel_slopes`. ``intrinsics`` is a :class:`synthcam_core.camera.Intrinsics` or any object with
``width, height, fx, fy, cx, cy`` (pixels); pixel (u, v) has its centre at (u + 0.5, v + 0.5).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from synthcam_core.camera import Intrinsics


def pixel_centres(intrinsics: Any, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre image coordinates: ((W,) u + 0.5, (H,) v + 0.5), pixels, of ``dtype`` (computed in it)."""
    return (np.arange(int(intrinsics.width), dtype=dtype) + 0.5, np.arange(int(intrinsics.height), dtype=dtype) + 0.5)


def pixel_slopes(intrinsics: Any, dtype: npt.DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Slopes of the rays through the pixel centres: ((W,) x/z, (H,) y/z) of ``dtype``, computed in it.

    The one pixel-centre ray grid of the project: :func:`pixel_rays`, :func:`unit_rays` and every backend,
    check and measure that needs rays build on it. float64 (the default) serves the renderers; the noise
    stages' unit rays are computed in float32.
    """
    u, v = pixel_centres(intrinsics, dtype)
    k = intrinsics
    return (u - float(k.cx)) / float(k.fx), (v - float(k.cy)) / float(k.fy)


def ray_grid(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 rays (u[col], v[row], 1) from (W,) x/z and (H,) y/z slopes."""
    rays = np.empty((v.shape[0], u.shape[0], 3), dtype=np.float32)
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    rays[..., 2] = 1.0
    return rays


@lru_cache(maxsize=8)
def pixel_rays(intrinsics: Intrinsics) -> np.ndarray:
    """(H, W, 3) float32 camera-frame ray directions with z = 1, through each pixel centre.

    Scaling a ray by a z-depth gives the camera-frame point. The slopes are computed in float64, then
    rounded. The result is cached and read-only.
    """
    rays = ray_grid(*pixel_slopes(intrinsics))
    rays.flags.writeable = False
    return rays


def unit_rays(intrinsics: Any) -> np.ndarray:
    """(H, W, 3) float32 unit camera-frame viewing directions through each pixel centre (float32 slopes;
    cached, read-only)."""
    return _unit_rays(as_intrinsics(intrinsics))


def unit_ray_z(intrinsics: Any) -> np.ndarray:
    """(H, W) float32 z-component of each pixel's unit viewing ray, i.e. z-depth / distance along the ray
    (cached, read-only)."""
    return _unit_ray_z(as_intrinsics(intrinsics))


def as_intrinsics(intrinsics: Any) -> Intrinsics:
    """``intrinsics`` (any object with ``width, height, fx, fy, cx, cy``) as a hashable :class:`Intrinsics`."""
    if isinstance(intrinsics, Intrinsics):
        return intrinsics
    k = intrinsics
    return Intrinsics(int(k.width), int(k.height), float(k.fx), float(k.fy), float(k.cx), float(k.cy))


@lru_cache(maxsize=8)
def _unit_rays(intrinsics: Intrinsics) -> np.ndarray:
    rays = ray_grid(*pixel_slopes(intrinsics, np.float32))
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    rays.flags.writeable = False
    return rays


@lru_cache(maxsize=8)
def _unit_ray_z(intrinsics: Intrinsics) -> np.ndarray:
    out = np.ascontiguousarray(_unit_rays(intrinsics)[..., 2])
    out.flags.writeable = False
    return out
