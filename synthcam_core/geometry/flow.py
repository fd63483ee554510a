"""Optical and scene flow of a static scene in torch: the twin of :mod:`synthcam_core.geometry.flow_np`
(same rule, codes and tolerance), batched, differentiable in the depth and the poses, any device, float32
or float64. Intrinsics are (*B, 4) ``[fx, fy, cx, cy]`` tensors (:mod:`synthcam_core.geometry.pinhole`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from synthcam_core.geometry.flow_np import (
    FLOW_NONE,
    FLOW_OCCLUDED,
    FLOW_OUT_OF_VIEW,
    FLOW_VALID,
    MIN_Z_M,
    OCCLUSION_ABS_M,
    OCCLUSION_REL,
)
from synthcam_core.geometry.pinhole import backproject, in_image, pixel_grid, reproject, to_grid_sample
from synthcam_core.geometry.se3 import relative_pose, transform_points


def forward_flow(
    depth: Tensor, depth_next: Tensor, intrinsics: Tensor, pose: Tensor, pose_next: Tensor
) -> tuple[Tensor, Tensor]:
    """Flow from frame t to frame t+1, as :func:`synthcam_core.geometry.flow_np.forward_flow`.

    depth, depth_next (*B, H, W) z-depth in metres (0 = invalid); intrinsics (*B, 4); pose, pose_next
    (*B, 4, 4) camera-to-world. Returns ((*B, H, W, 2) flow (du, dv) in pixels, 0 where the mask is not
    FLOW_VALID; (*B, H, W) uint8 mask codes FLOW_NONE .. FLOW_OUT_OF_VIEW). Equal to the numpy twin up to
    float rounding (cv2 rounds its bilinear weights to 1/32 px, so a depth compared right at the tolerance
    may be coded differently).
    """
    h, w = depth.shape[-2:]
    uv, z_next = reproject(depth, intrinsics, relative_pose(pose, pose_next))
    flow = uv - pixel_grid(h, w, depth.dtype, depth.device)
    in_view = in_image(uv, h, w) & (z_next > MIN_Z_M)
    has_depth = depth > 0
    visible = has_depth & in_view & _agrees(depth_next, uv.detach(), z_next.detach())
    mask = torch.full_like(depth, FLOW_OUT_OF_VIEW, dtype=torch.uint8)
    mask = torch.where(in_view, torch.full_like(mask, FLOW_OCCLUDED), mask)
    mask = torch.where(visible, torch.full_like(mask, FLOW_VALID), mask)
    mask = torch.where(has_depth, mask, torch.full_like(mask, FLOW_NONE))
    return torch.where(visible[..., None], flow, torch.zeros_like(flow)), mask


def _agrees(depth_next: Tensor, uv: Tensor, z_next: Tensor) -> Tensor:
    """(*B, H, W) bool: depth_next at (u, v) agrees with z_next (the rule of flow_np: bilinear on one
    surface, else the pixel containing (u, v))."""
    h, w = depth_next.shape[-2:]
    flat = depth_next.reshape((-1, 1, h, w))
    grid = to_grid_sample(uv, h, w).reshape((-1, h, w, 2))
    linear = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
    linear = linear.reshape(depth_next.shape)

    def at(col: Tensor, row: Tensor) -> Tensor:  # depth_next at integer pixels, clamped to the image
        index = row.clamp(0, h - 1) * w + col.clamp(0, w - 1)
        return depth_next.reshape(depth_next.shape[:-2] + (-1,)).gather(-1, index.flatten(-2)).reshape(index.shape)

    u, v = uv.unbind(-1)
    finite = torch.isfinite(uv).all(-1)
    u, v = torch.where(finite, u, torch.zeros_like(u)), torch.where(finite, v, torch.zeros_like(v))
    nearest = at(u.floor().long(), v.floor().long())
    x0, y0 = (u - 0.5).floor().long(), (v - 0.5).floor().long()
    corners = torch.stack([at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1)], -1)
    lo, hi = corners.min(-1).values, corners.max(-1).values
    tol = z_next * OCCLUSION_REL + OCCLUSION_ABS_M
    seen = torch.where((lo > 0) & (hi - lo <= tol), linear, nearest)
    return (seen - z_next).abs() <= tol


def scene_flow(depth: Tensor, intrinsics: Tensor, pose: Tensor, pose_next: Tensor) -> Tensor:
    """(*B, H, W, 3) scene flow in the camera frame, metres: each pixel's point in frame t+1's camera
    coordinates minus the point in frame t's (static scene, moving camera); 0 where there is no depth.
    Inputs as :func:`forward_flow`."""
    points = backproject(depth, intrinsics)
    moved = transform_points(relative_pose(pose, pose_next), points)
    return torch.where((depth > 0)[..., None], moved - points, torch.zeros_like(points))
