"""Optical flow of a static scene between two rendered frames (numpy, float32, a few ms per 640x480 frame).

Each pixel centre (u + 0.5, v + 0.5) of frame t with z-depth z > 0 is lifted to the camera-frame point
X = z (x/z, y/z, 1) (the slopes of :func:`synthcam_core.geometry.rays.pixel_slopes`), moved into the camera
of frame t+1 by ``inv(pose_next) @ pose`` and projected: (u', v') = (fx X'x / X'z + cx, fy X'y / X'z + cy).
The flow is (u' - (u + 0.5), v' - (v + 0.5)) pixels. The mask says what became of the point in frame t+1:

- ``FLOW_OUT_OF_VIEW`` when X'z <= 1e-6 m (behind the camera) or (u', v') lies outside [0, W) x [0, H);
- ``FLOW_OCCLUDED`` when frame t+1's depth there differs from X'z by more than
  :data:`OCCLUSION_ABS_M` + :data:`OCCLUSION_REL` X'z, either way (no depth there counts as different);
- ``FLOW_VALID`` otherwise; ``FLOW_NONE`` where frame t has no depth.

Frame t+1's depth "there" is its bilinear value at (u', v') when the 2x2 pixels around (u', v') all have
depth and span no more than the tolerance (one surface), else the depth of the pixel containing (u', v')
(floor; a position exactly on a pixel border may take either pixel): a point next to a depth edge is
compared with the surface whose pixel it lands in, never with a blend of the two sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from synthcam_core.geometry.rays import as_intrinsics, pixel_centres, pixel_slopes

FLOW_NONE, FLOW_VALID, FLOW_OCCLUDED, FLOW_OUT_OF_VIEW = 0, 1, 2, 3
"""uint8 mask codes: no surface in frame t (or no next frame); visible in frame t+1; hidden there by nearer
geometry; projects outside the next image or behind its camera."""

OCCLUSION_ABS_M = 0.01
"""Absolute part of the occlusion tolerance, metres: dominates near the camera (at the 0.3 m closest
approach 2 % is 6 mm), far above the rounding of rendered depth and of cv2's bilinear weights (1/32 px),
below the gaps that separate an object from the wall or floor behind it."""
OCCLUSION_REL = 0.02
"""Relative part of the occlusion tolerance (fraction of X'z): on a plane at distance d the depth changes by
z / (f d) per pixel, under 2 % unless the plane is seen within ~6 degrees of edge-on, so the 2x2 neighbours
of a point on one surface pass as one surface and the containing pixel stays within tolerance. (Bilinear
interpolation of z on a plane, where 1/z is affine in the pixel position, errs by r^2 / 4 for a relative
step r between neighbours: negligible.)"""
MIN_Z_M = 1e-6
"""Smallest X'z (metres) of a point in front of the next camera."""


@dataclass(frozen=True)
class FlowField:
    """Forward optical flow of one frame and what became of each pixel in the next frame."""

    flow: np.ndarray  # (H, W, 2) float32 pixels (du, dv), 0 where mask != FLOW_VALID
    mask: np.ndarray  # (H, W) uint8 codes FLOW_NONE .. FLOW_OUT_OF_VIEW


def no_flow(height: int, width: int) -> FlowField:
    """All ``FLOW_NONE`` with zero flow: the flow of a trajectory's last frame."""
    return FlowField(np.zeros((height, width, 2), np.float32), np.zeros((height, width), np.uint8))


def relative_transform(pose: np.ndarray, pose_next: np.ndarray) -> np.ndarray:
    """(4, 4) float64 transform from the camera of ``pose`` to that of ``pose_next`` (both camera-to-world):
    ``inv(pose_next) @ pose``, with the rigid inverse."""
    pose, pose_next = np.asarray(pose, np.float64), np.asarray(pose_next, np.float64)
    rot_t = pose_next[:3, :3].T
    inv_next = np.eye(4)
    inv_next[:3, :3], inv_next[:3, 3] = rot_t, -rot_t @ pose_next[:3, 3]
    return inv_next @ pose


def forward_flow(
    depth: np.ndarray, depth_next: np.ndarray, intrinsics: Any, pose: np.ndarray, pose_next: np.ndarray
) -> FlowField:
    """Flow from frame t to frame t+1 of a static scene (see the module docstring).

    depth, depth_next : (H, W) float32 z-depth in metres, 0 = invalid (clean, as rendered).
    intrinsics : :class:`synthcam_core.camera.Intrinsics` of both frames (H, W its image size).
    pose, pose_next : (4, 4) float64 camera-to-world poses of frames t and t+1.
    """
    k = as_intrinsics(intrinsics)
    h, w = k.height, k.width
    depth = np.ascontiguousarray(depth, dtype=np.float32)
    depth_next = np.ascontiguousarray(depth_next, dtype=np.float32)
    if depth.shape != (h, w) or depth_next.shape != (h, w):
        raise ValueError(f"depth {depth.shape} and depth_next {depth_next.shape} must both be ({h}, {w})")
    # cv2 puts pixel i's centre at coordinate i: project with cx - 0.5, cy - 0.5 to get its sampling maps.
    shifted = np.array([[k.fx, 0.0, k.cx - 0.5], [0.0, k.fy, k.cy - 0.5], [0.0, 0.0, 1.0]])
    proj = shifted @ relative_transform(pose, pose_next)[:3]  # (3, 4): hom = proj (z x/z, z y/z, z, 1)
    sx, sy = pixel_slopes(k)
    hom = []
    for row in proj:  # hom_i = z (p0 x/z + p1 y/z + p2) + p3, separable in the slopes
        g = np.add((row[0] * sx).astype(np.float32)[None, :], (row[1] * sy + row[2]).astype(np.float32)[:, None])
        np.multiply(g, depth, out=g)
        hom.append(np.add(g, np.float32(row[3]), out=g))
    map_u, map_v, z_next = hom
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(map_u, z_next, out=map_u)  # u' - 0.5
        np.divide(map_v, z_next, out=map_v)
    in_view = z_next > MIN_Z_M
    in_view &= map_u >= -0.5
    in_view &= map_u < w - 0.5
    in_view &= map_v >= -0.5
    in_view &= map_v < h - 0.5
    has_depth = depth > 0
    visible = has_depth & in_view
    visible &= _agrees(depth_next, map_u, map_v, z_next, visible)
    # codes: 3 - in_view - visible where there is depth, else 0
    mask = (np.uint8(3) - in_view.view(np.uint8) - visible.view(np.uint8)) * has_depth.view(np.uint8)
    u_c, v_c = pixel_centres(k, np.float32)  # flow = u' - (u + 0.5) = map_u - u
    np.subtract(map_u, u_c[None, :] - np.float32(0.5), out=map_u)
    np.subtract(map_v, v_c[:, None] - np.float32(0.5), out=map_v)
    hidden = ~visible
    np.copyto(map_u, np.float32(0.0), where=hidden)
    np.copyto(map_v, np.float32(0.0), where=hidden)
    return FlowField(cv2.merge([map_u, map_v]), mask)


def _agrees(
    depth_next: np.ndarray, map_u: np.ndarray, map_v: np.ndarray, z_next: np.ndarray, where: np.ndarray
) -> np.ndarray:
    """(H, W) bool: frame t+1's depth at the positions (``map_u``, ``map_v``) ((H, W) float32, pixel i's
    centre at i) is within the occlusion tolerance of ``z_next``: its bilinear value where the 2x2 pixels
    around the position all have depth and span less than the tolerance, else the value of the pixel
    containing the position. Both are compared everywhere; the 2x2 test runs only where they give different
    answers (a few pixels along depth edges), and only ``where`` ((H, W) bool, positions in the image)."""
    # |d - z| <= REL z + ABS as |d - z| - REL z <= ABS: one buffer, no tolerance image
    rel, tol_abs = np.float32(OCCLUSION_REL), np.float32(OCCLUSION_ABS_M)
    off = cv2.remap(depth_next, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cv2.scaleAdd(z_next, -OCCLUSION_REL, cv2.absdiff(off, z_next, dst=off), dst=off)
    ok_linear = off <= tol_abs
    cv2.remap(depth_next, map_u, map_v, cv2.INTER_NEAREST, dst=off, borderMode=cv2.BORDER_REPLICATE)
    cv2.scaleAdd(z_next, -OCCLUSION_REL, cv2.absdiff(off, z_next, dst=off), dst=off)
    ok_nearest = off <= tol_abs
    agree = ok_linear & ok_nearest
    differ = np.flatnonzero((ok_linear != ok_nearest) & where)
    if differ.size:
        h, w = depth_next.shape
        x = np.floor(map_u.reshape(-1)[differ]).astype(np.intp)
        y = np.floor(map_v.reshape(-1)[differ]).astype(np.intp)
        x0, x1 = np.clip(x, 0, w - 1), np.clip(x + 1, 0, w - 1)
        y0, y1 = np.clip(y, 0, h - 1), np.clip(y + 1, 0, h - 1)
        corners = np.stack([depth_next[y0, x0], depth_next[y0, x1], depth_next[y1, x0], depth_next[y1, x1]])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        one_surface = (lo > 0) & (hi - lo <= z_next.reshape(-1)[differ] * rel + tol_abs)
        pick = np.where(one_surface, ok_linear.reshape(-1)[differ], ok_nearest.reshape(-1)[differ])
        agree.reshape(-1)[differ] = pick
    return agree
