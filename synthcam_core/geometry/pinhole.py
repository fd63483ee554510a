"""The pinhole camera in torch: pixel grid, projection, back-projection. Batched over leading dimensions,
differentiable, any device, float32 or float64.

Intrinsics are (*B, 4) tensors ``[fx, fy, cx, cy]`` in pixels (:func:`intrinsics_tensor` makes one from a
:class:`synthcam_core.camera.Intrinsics`), one camera per batch index; images and point sets have those
batch dimensions first, then their own: depth (*B, H, W), points (*B, *P, 3). Pixel (u, v) has its centre
at (u + 0.5, v + 0.5) in the continuous coordinates of cx, cy, as in :mod:`synthcam_core.geometry.rays`;
points are in the OpenCV camera frame (x right, y down, z forward), metres; depth is z-depth, 0 = invalid.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def intrinsics_tensor(intrinsics: Any, dtype: torch.dtype = torch.float32, device: Any = None) -> Tensor:
    """(4,) ``[fx, fy, cx, cy]`` of an object with ``fx, fy, cx, cy`` (e.g. an
    :class:`~synthcam_core.camera.Intrinsics`)."""
    k = intrinsics
    return torch.tensor([float(k.fx), float(k.fy), float(k.cx), float(k.cy)], dtype=dtype, device=device)


def pixel_centres(
    height: int, width: int, dtype: torch.dtype | None = None, device: Any = None
) -> tuple[Tensor, Tensor]:
    """((W,) u + 0.5, (H,) v + 0.5): the continuous coordinates of the pixel centres, computed in ``dtype``."""
    u = torch.arange(width, dtype=dtype, device=device) + 0.5
    v = torch.arange(height, dtype=dtype, device=device) + 0.5
    return u, v


def pixel_grid(height: int, width: int, dtype: torch.dtype | None = None, device: Any = None) -> Tensor:
    """(H, W, 2) pixel-centre coordinates (u + 0.5, v + 0.5) of every pixel."""
    u, v = pixel_centres(height, width, dtype, device)
    return torch.stack(torch.broadcast_tensors(u[None, :], v[:, None]), dim=-1)


def _split(intrinsics: Tensor, extra: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """fx, fy, cx, cy of (*B, 4) intrinsics, each shaped (*B, 1 x extra) to broadcast over trailing dims."""
    if extra < 0:
        raise ValueError(f"intrinsics {tuple(intrinsics.shape)} have more batch dimensions than the data")
    shape = intrinsics.shape[:-1] + (1,) * extra
    return tuple(c.reshape(shape) for c in intrinsics.unbind(-1))  # type: ignore[return-value]


def pixel_rays(intrinsics: Tensor, height: int, width: int) -> Tensor:
    """(*B, H, W, 3) camera-frame rays (x/z, y/z, 1) through the pixel centres of (*B, 4) intrinsics."""
    fx, fy, cx, cy = _split(intrinsics, 2)
    u, v = pixel_centres(height, width, intrinsics.dtype, intrinsics.device)
    x = (u[None, :] - cx) / fx
    y = (v[:, None] - cy) / fy
    x, y = torch.broadcast_tensors(x, y)
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def backproject(depth: Tensor, intrinsics: Tensor) -> Tensor:
    """(*B, H, W, 3) camera-frame points (metres) of (*B, H, W) z-depth under (*B, 4) intrinsics; pixels
    without depth give the origin."""
    return pixel_rays(intrinsics, depth.shape[-2], depth.shape[-1]) * depth[..., None]


def project(points: Tensor, intrinsics: Tensor) -> Tensor:
    """(*B, *P, 2) continuous image coordinates (u, v) of (*B, *P, 3) camera-frame points under (*B, 4)
    intrinsics (pixel centres at +0.5). z must be > 0: the caller masks the rest (z is clamped to 1e-12 to
    keep the values finite)."""
    fx, fy, cx, cy = _split(intrinsics, points.dim() - intrinsics.dim())
    z = points[..., 2].clamp_min(1e-12)
    return torch.stack([fx * points[..., 0] / z + cx, fy * points[..., 1] / z + cy], dim=-1)


def to_grid_sample(uv: Tensor, height: int, width: int) -> Tensor:
    """(..., 2) coordinates normalised for ``torch.nn.functional.grid_sample(align_corners=False)``: pixel
    (u, v)'s centre (u + 0.5, v + 0.5) maps to the centre of that input pixel."""
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=uv.dtype, device=uv.device)
    return uv * scale - 1


def reproject(depth: Tensor, intrinsics: Tensor, transform: Tensor) -> tuple[Tensor, Tensor]:
    """Where each pixel's point lands in another camera of the same intrinsics.

    depth (*B, H, W) z-depth of this camera; intrinsics (*B, 4); transform (*B, 4, 4) from this camera's
    frame to the other's (:func:`synthcam_core.geometry.se3.relative_pose`). Returns ((*B, H, W, 2)
    continuous (u, v) in the other image, (*B, H, W) z-depth there); z <= 0 means behind that camera.
    """
    from synthcam_core.geometry.se3 import transform_points

    moved = transform_points(transform, backproject(depth, intrinsics))
    return project(moved, intrinsics), moved[..., 2]


def in_image(uv: Tensor, height: int, width: int) -> Tensor:
    """(...) bool: (u, v) of (..., 2) lies in [0, W) x [0, H)."""
    u, v = uv.unbind(-1)
    return (u >= 0) & (u < width) & (v >= 0) & (v < height)
