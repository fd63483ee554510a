"""Inverse warping in torch: an image, depth map or label map of a source frame, resampled into a target
frame by the target's depth and the relative pose (static scene). Batched, differentiable in the image,
the depth and the pose, any device, float32 or float64.

Each target pixel's point (its depth, back-projected) is moved into the source camera and projected; the
source is sampled there with :func:`torch.nn.functional.grid_sample` (``align_corners=False``, which puts
input pixel i's centre at i + 0.5 as the project does). A target pixel is valid where it has depth and its
point lands in front of the source camera inside the source image; invalid pixels get ``fill``. Nothing
here knows about occlusion: a point hidden in the source frame takes the colour of what hides it (compare
the warped source depth with the reprojected z to find those).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from synthcam_core.geometry.flow_np import MIN_Z_M
from synthcam_core.geometry.pinhole import in_image, reproject, to_grid_sample

MODES = ("bilinear", "nearest")


def source_coordinates(depth_target: Tensor, intrinsics: Tensor, target_to_source: Tensor) -> tuple[Tensor, Tensor]:
    """((*B, H, W, 2) (u, v) in the source image of each target pixel, (*B, H, W) bool valid).

    depth_target (*B, H, W) metres, 0 = invalid; intrinsics (*B, 4) of both frames; target_to_source
    (*B, 4, 4) = ``relative_pose(pose_target, pose_source)``.
    """
    uv, z = reproject(depth_target, intrinsics, target_to_source)
    h, w = depth_target.shape[-2:]
    return uv, (depth_target > 0) & (z > MIN_Z_M) & in_image(uv, h, w)


def inverse_warp(
    source: Tensor,
    depth_target: Tensor,
    intrinsics: Tensor,
    target_to_source: Tensor,
    mode: str = "bilinear",
    fill: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Resample (*B, C, H, W) ``source`` (an image or depth, float) into the target frame.

    ``mode`` "bilinear" (images, depth; the image border is replicated for points within half a pixel of
    it) or "nearest". Returns ((*B, C, H, W) warped, ``fill`` where invalid; (*B, H, W) bool valid).
    """
    if mode not in MODES:
        raise ValueError(f"unknown warp mode {mode!r}; choose from {', '.join(MODES)}")
    uv, valid = source_coordinates(depth_target, intrinsics, target_to_source)
    h, w = source.shape[-2:]
    batch = source.shape[:-3]
    grid = to_grid_sample(uv, h, w).reshape((-1,) + uv.shape[-3:]).to(source.dtype)
    flat = source.reshape((-1,) + source.shape[-3:])
    out = F.grid_sample(flat, grid, mode=mode, padding_mode="border", align_corners=False)
    out = out.reshape(batch + out.shape[-3:])
    return torch.where(valid[..., None, :, :], out, torch.full_like(out, fill)), valid


def warp_labels(
    labels: Tensor, depth_target: Tensor, intrinsics: Tensor, target_to_source: Tensor, fill: int = 255
) -> tuple[Tensor, Tensor]:
    """Resample a (*B, H, W) integer label map into the target frame by nearest neighbour (the label of the
    source pixel whose centre is nearest). Returns ((*B, H, W) labels of the same dtype, ``fill`` where
    invalid; (*B, H, W) bool valid). Labels must be below 2^24 (they travel as float32 or float64)."""
    dtype = depth_target.dtype if depth_target.is_floating_point() else torch.float32
    warped, valid = inverse_warp(
        labels.to(dtype)[..., None, :, :], depth_target, intrinsics, target_to_source, "nearest"
    )
    out = warped[..., 0, :, :].round().to(labels.dtype)
    return torch.where(valid, out, torch.full_like(out, fill)), valid
