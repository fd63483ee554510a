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

import threading
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
    """Forward optical flow of one frame and what became of each pixel in the next frame.

    ``forward_flow``, ``empty_flow`` and ``no_flow`` store ``flow`` planar: it is the (H, W, 2) view of a
    C-contiguous (2, H, W) du, dv buffer (:func:`flow_planes` gives the planes without a copy)."""

    flow: np.ndarray  # (H, W, 2) float32 pixels (du, dv), 0 where mask != FLOW_VALID
    mask: np.ndarray  # (H, W) uint8 codes FLOW_NONE .. FLOW_OUT_OF_VIEW


def empty_flow(height: int, width: int) -> FlowField:
    """An uninitialised planar :class:`FlowField` of (height, width) pixels: the ``out`` of :func:`forward_flow`."""
    return FlowField(np.empty((2, height, width), np.float32).transpose(1, 2, 0), np.empty((height, width), np.uint8))


def no_flow(height: int, width: int) -> FlowField:
    """All ``FLOW_NONE`` with zero flow (planar): the flow of a trajectory's last frame."""
    return FlowField(np.zeros((2, height, width), np.float32).transpose(1, 2, 0), np.zeros((height, width), np.uint8))


def flow_planes(flow: np.ndarray) -> np.ndarray | None:
    """The (2, H, W) du, dv planes of a planar (H, W, 2) ``flow`` (a view, C-contiguous), else None."""
    planes = np.moveaxis(flow, -1, 0)
    return planes if planes.ndim == 3 and planes.flags.c_contiguous else None


def relative_transform(pose: np.ndarray, pose_next: np.ndarray) -> np.ndarray:
    """(4, 4) float64 transform from the camera of ``pose`` to that of ``pose_next`` (both camera-to-world):
    ``inv(pose_next) @ pose``, with the rigid inverse."""
    pose, pose_next = np.asarray(pose, np.float64), np.asarray(pose_next, np.float64)
    rot_t = pose_next[:3, :3].T
    inv_next = np.eye(4)
    inv_next[:3, :3], inv_next[:3, 3] = rot_t, -rot_t @ pose_next[:3, 3]
    return inv_next @ pose


def forward_flow(
    depth: np.ndarray,
    depth_next: np.ndarray,
    intrinsics: Any,
    pose: np.ndarray,
    pose_next: np.ndarray,
    out: FlowField | None = None,
) -> FlowField:
    """Flow from frame t to frame t+1 of a static scene (see the module docstring).

    depth, depth_next : (H, W) float32 z-depth in metres, 0 = invalid (clean, as rendered).
    intrinsics : :class:`synthcam_core.camera.Intrinsics` of both frames (H, W its image size).
    pose, pose_next : (4, 4) float64 camera-to-world poses of frames t and t+1.
    out : a planar :class:`FlowField` of the image size to write into and return (:func:`empty_flow`; a
        field returned before may be reused once its caller is done with it), else a new one.
    """
    k = as_intrinsics(intrinsics)
    h, w = k.height, k.width
    depth = np.ascontiguousarray(depth, dtype=np.float32)
    depth_next = np.ascontiguousarray(depth_next, dtype=np.float32)
    if depth.shape != (h, w) or depth_next.shape != (h, w):
        raise ValueError(f"depth {depth.shape} and depth_next {depth_next.shape} must both be ({h}, {w})")
    field = empty_flow(h, w) if out is None else out
    planes = flow_planes(field.flow)
    mask = field.mask
    mask_fits = mask.shape == (h, w) and mask.dtype == np.uint8 and mask.flags.c_contiguous
    if planes is None or planes.shape != (2, h, w) or planes.dtype != np.float32 or not mask_fits:
        raise ValueError(f"out must be a planar FlowField of ({h}, {w}) pixels (empty_flow)")
    # cv2 puts pixel i's centre at coordinate i: project with cx - 0.5, cy - 0.5 to get its sampling maps.
    shifted = np.array([[k.fx, 0.0, k.cx - 0.5], [0.0, k.fy, k.cy - 0.5], [0.0, 0.0, 1.0]])
    proj = shifted @ relative_transform(pose, pose_next)[:3]  # (3, 4): hom = proj (z x/z, z y/z, z, 1)
    sx, sy = pixel_slopes(k)
    work = _workspace(h, w)
    map_u, map_v, z_next = planes[0], planes[1], work.z_next
    for row, g in zip(proj, (map_u, map_v, z_next)):  # hom_i = z (p0 x/z + p1 y/z + p2) + p3
        np.add((row[0] * sx).astype(np.float32)[None, :], (row[1] * sy + row[2]).astype(np.float32)[:, None], out=g)
        np.multiply(g, depth, out=g)
        np.add(g, np.float32(row[3]), out=g)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(map_u, z_next, out=map_u)  # u' - 0.5
        np.divide(map_v, z_next, out=map_v)
    in_view, has_depth, visible, scratch = work.masks[:4]
    np.greater(z_next, MIN_Z_M, out=in_view)
    for plane, side in ((map_u, w), (map_v, h)):
        in_view &= np.greater_equal(plane, -0.5, out=scratch)
        in_view &= np.less(plane, side - 0.5, out=scratch)
    np.greater(depth, 0, out=has_depth)
    np.logical_and(has_depth, in_view, out=visible)
    visible &= _agrees(depth_next, map_u, map_v, z_next, visible, work)
    # codes: 3 - in_view - visible where there is depth, else 0
    np.subtract(np.uint8(3), in_view.view(np.uint8), out=mask)
    mask -= visible.view(np.uint8)
    mask *= has_depth.view(np.uint8)
    u_c, v_c = pixel_centres(k, np.float32)  # flow = u' - (u + 0.5) = map_u - u
    np.subtract(map_u, u_c[None, :] - np.float32(0.5), out=map_u)
    np.subtract(map_v, v_c[:, None] - np.float32(0.5), out=map_v)
    keep = work.off.view(np.int32)  # free again: all bits set where visible
    np.negative(visible.view(np.int8), out=keep)
    for plane in planes.view(np.int32):  # 0.0 where not visible, NaN included
        cv2.bitwise_and(plane, keep, dst=plane)
    return field


class _Workspace:
    """Scratch images of one image size for :func:`forward_flow` (never returned): (H, W) float32
    ``z_next`` and ``off`` and (7, H, W) bool ``masks``."""

    def __init__(self, height: int, width: int):
        self.shape = (height, width)
        self.z_next = np.empty(self.shape, np.float32)
        self.off = np.empty(self.shape, np.float32)
        self.masks = np.empty((7, *self.shape), bool)


_LOCAL = threading.local()
WORKSPACE_MAX_PIXELS = 1 << 22
"""Largest image (pixels) whose scratch images :func:`forward_flow` keeps between calls, per thread and
for the last image size only (15 bytes a pixel): writing into memory touched before saves the page
faults of fresh buffers (1-2 ms of a 640x480 frame where the allocator returns freed memory to the system)."""


def _workspace(height: int, width: int) -> _Workspace:
    """This thread's scratch images for (height, width): kept from the last call when the size matches."""
    work = getattr(_LOCAL, "work", None)
    if work is None or work.shape != (height, width):
        work = _Workspace(height, width)
        _LOCAL.work = work if height * width <= WORKSPACE_MAX_PIXELS else None
    return work


def _agrees(
    depth_next: np.ndarray,
    map_u: np.ndarray,
    map_v: np.ndarray,
    z_next: np.ndarray,
    where: np.ndarray,
    work: _Workspace,
) -> np.ndarray:
    """(H, W) bool: frame t+1's depth at the positions (``map_u``, ``map_v``) ((H, W) float32, pixel i's
    centre at i) is within the occlusion tolerance of ``z_next``: its bilinear value where the 2x2 pixels
    around the position all have depth and span less than the tolerance, else the value of the pixel
    containing the position. Both are compared everywhere; the 2x2 test runs only where they give different
    answers (a few pixels along depth edges), and only ``where`` ((H, W) bool, positions in the image).
    Written into ``work``'s masks: valid until the next call."""
    # |d - z| <= REL z + ABS as |d - z| - REL z <= ABS: one buffer, no tolerance image
    rel, tol_abs = np.float32(OCCLUSION_REL), np.float32(OCCLUSION_ABS_M)
    off, (ok_linear, ok_nearest, differ) = work.off, work.masks[4:]
    for method, ok in ((cv2.INTER_LINEAR, ok_linear), (cv2.INTER_NEAREST, ok_nearest)):
        cv2.remap(depth_next, map_u, map_v, method, dst=off, borderMode=cv2.BORDER_REPLICATE)
        cv2.scaleAdd(z_next, -OCCLUSION_REL, cv2.absdiff(off, z_next, dst=off), dst=off)
        np.less_equal(off, tol_abs, out=ok)
    np.not_equal(ok_linear, ok_nearest, out=differ)
    differ &= where
    agree = np.logical_and(ok_linear, ok_nearest, out=ok_linear)
    at = np.flatnonzero(differ)
    if at.size:
        h, w = depth_next.shape
        x = np.floor(map_u.reshape(-1)[at]).astype(np.intp)
        y = np.floor(map_v.reshape(-1)[at]).astype(np.intp)
        x0, x1 = np.clip(x, 0, w - 1), np.clip(x + 1, 0, w - 1)
        y0, y1 = np.clip(y, 0, h - 1), np.clip(y + 1, 0, h - 1)
        corners = np.stack([depth_next[y0, x0], depth_next[y0, x1], depth_next[y1, x0], depth_next[y1, x1]])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        one_surface = (lo > 0) & (hi - lo <= z_next.reshape(-1)[at] * rel + tol_abs)
        # where they differ exactly one says yes (ok_linear, now overwritten, = not ok_nearest): take the
        # linear answer on one surface, else the nearest
        agree.reshape(-1)[at] = one_surface ^ ok_nearest.reshape(-1)[at]
    return agree
