"""Network inputs from depth, intrinsics and the gravity direction: D, DH, DHA and HHA.

The batched torch functions are the main implementation (they run wherever the tensors are, CPU or
GPU); :func:`encode_numpy` is an independent numpy version of the same steps for one frame, and the
tests check the two agree. Shapes: depth (B, 1, H, W) float metres, 0 = invalid; intrinsics (B, 4) =
fx, fy, cx, cy in pixels (pixel (u, v) has its centre at (u + 0.5, v + 0.5)); gravity (B, 3) unit
vectors in the camera frame (OpenCV, x right, y down, z forward) pointing down; camera_height (B,)
metres above the floor or NaN when unknown.

Steps:

1. Back-projection: P = ((u + 0.5 - cx) z / fx, (v + 0.5 - cy) z / fy, z).
2. Height above the floor: h = camera_height - g . P. When the camera height is NaN (real data),
   the floor is taken at the ``FLOOR_PERCENTILE``-th percentile (lower nearest rank) of -g . P over
   the frame's valid pixels, as Gupta et al. take the floor from the lowest points
   (:func:`estimate_camera_height`). :func:`encode_batch` estimates it on every frame by default
   (``camera_height="estimated"``), generated ones included, so that a network sees the same height
   channel in training (generated depth, true camera height known) and on real depth (unknown);
   ``camera_height="true"`` uses a generated frame's true height (the behaviour of runs made before
   the choice existed; real frames still estimate). ``benchmarks/height_estimate.py`` measures how
   far the estimate is off.
3. Surface normals: the point map is smoothed with a ``NORMAL_SMOOTHING`` x ``NORMAL_SMOOTHING`` box
   filter over valid pixels only (normalised convolution; planes stay exactly planar), then
   n = (P[u+1] - P[u-1]) x (P[v+1] - P[v-1]) with one-sided differences at the image border,
   normalised and oriented towards the camera (n . P < 0). A normal needs the pixel and its four
   neighbours to be valid. Smoothing also averages across depth discontinuities, so normals within
   half a kernel of an occluding edge are unreliable (as in every finite-difference scheme).
4. Angle: the angle in degrees between the normal and the up direction -g: floor 0, wall 90,
   ceiling 180.

Channels (every channel is 0 where the depth, or for A the normal, is invalid):

- ``D``: depth in metres.
- ``DH``: depth (m), height above the floor (m).
- ``DHA``: depth (m), height (m), angle / 90 (floor 0, wall 1, ceiling 2). SceneNet's exact DHA
  scaling is not published; metric depth and height with the angle in right angles keep all three
  channels in the same few-unit range.
- ``HHA`` (Gupta et al. 2014, their ``saveHHA``): disparity 31000 / max(depth in cm, 100), height in
  cm, angle in degrees + 38 (= angle + 128 - 90), each clipped to [0, 255] as in their uint8 image
  and divided by 255 (no rounding).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.geometry.pinhole import pixel_centres
from synthcam_core.geometry.rays import pixel_slopes

ENCODINGS: dict[str, int] = {"D": 1, "DH": 2, "DHA": 3, "HHA": 3}
"""Encoding name -> number of channels."""

FLOOR_PERCENTILE = 1.0
"""Percentile of point heights taken as the floor when the camera height is unknown."""

CAMERA_HEIGHTS = ("estimated", "true")
"""Where the height channel's camera height comes from (:func:`encode_batch`): estimated from the
depth on every frame, or a generated frame's true height (real frames estimate it either way)."""

NORMAL_SMOOTHING = 5
"""Box-filter size (pixels, odd) applied to the point map before differencing."""

HHA_DISPARITY_CM = 31000.0  #: disparity numerator of Gupta et al. (depth in cm)
HHA_MIN_DEPTH_CM = 100.0  #: depth clamp before taking the disparity (cm)
HHA_ANGLE_OFFSET = 38.0  #: added to the angle in degrees (128 - 90)


def check_encoding(name: str) -> int:
    """Number of channels of encoding ``name``; an unknown name raises with the valid names."""
    if name not in ENCODINGS:
        raise SynthcamError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODINGS)}")
    return ENCODINGS[name]


# ----------------------------------------------------------------------------------------- torch


def backproject(depth: torch.Tensor, intrinsics: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) z-depth + (B, 4) intrinsics -> (B, 3, H, W) camera-frame points (metres)."""
    b, _, h, w = depth.shape
    k = intrinsics.to(depth.dtype)
    u, v = pixel_centres(h, w, depth.dtype, depth.device)
    x = (u.view(1, 1, w) - k[:, 2].view(b, 1, 1)) / k[:, 0].view(b, 1, 1)
    y = (v.view(1, h, 1) - k[:, 3].view(b, 1, 1)) / k[:, 1].view(b, 1, 1)
    z = depth[:, 0]
    return torch.stack([x * z, y * z, z], dim=1)


def valid_mask(depth: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool: finite, positive depth."""
    return torch.isfinite(depth) & (depth > 0)


def _floor_offset(up: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,) camera height above the floor estimated from (B, 1, H, W) heights relative to the camera:
    minus the ``FLOOR_PERCENTILE``-th percentile (lower nearest rank) over valid pixels, 0 without any."""
    rows = up.flatten(1)
    ok = valid.flatten(1)
    n_valid = ok.sum(dim=1)
    k = torch.clamp(torch.floor(FLOOR_PERCENTILE / 100.0 * (n_valid - 1).clamp(min=0)).long(), min=0)
    bound = min(rows.shape[1], math.floor(FLOOR_PERCENTILE / 100.0 * max(rows.shape[1] - 1, 0)) + 1)  # k < bound
    lowest = torch.topk(torch.where(ok, rows, torch.full_like(rows, math.inf)), bound, dim=1, largest=False).values
    floor = lowest.gather(1, k[:, None])[:, 0]
    return torch.where(n_valid > 0, -floor, torch.zeros_like(floor))


def _relative_height(points: torch.Tensor, gravity: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) height of each point relative to the camera, -g . P (metres, up positive)."""
    g = gravity.to(points.dtype)
    return -(points * g[:, :, None, None]).sum(dim=1, keepdim=True)


def estimate_camera_height(depth: torch.Tensor, intrinsics: torch.Tensor, gravity: torch.Tensor) -> torch.Tensor:
    """(B,) metres: the camera height above the floor that the height channel assumes when the true
    one is unknown (step 2 of the module docstring); 0 for a frame without valid depth."""
    depth = depth.float()
    valid = valid_mask(depth)
    points = backproject(torch.where(valid, depth, torch.zeros_like(depth)), intrinsics)
    return _floor_offset(_relative_height(points, gravity), valid)


def height_above_floor(
    points: torch.Tensor, valid: torch.Tensor, gravity: torch.Tensor, camera_height: torch.Tensor
) -> torch.Tensor:
    """(B, 1, H, W) metres above the floor (0 where invalid); see step 2 of the module docstring."""
    up = _relative_height(points, gravity)
    cam = camera_height.to(points.dtype).reshape(-1).clone()
    unknown = torch.isnan(cam)
    if bool(unknown.any()):
        cam[unknown] = _floor_offset(up[unknown], valid[unknown])
    return torch.where(valid, up + cam[:, None, None, None], torch.zeros_like(up))


def surface_normals(
    points: torch.Tensor, valid: torch.Tensor, smoothing: int = NORMAL_SMOOTHING
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit normals (B, 3, H, W) facing the camera and their validity (B, 1, H, W); see step 3."""
    vf = valid.to(points.dtype)
    if smoothing > 1:
        pad = smoothing // 2
        num = F.avg_pool2d(points * vf, smoothing, 1, pad, count_include_pad=True)
        den = F.avg_pool2d(vf, smoothing, 1, pad, count_include_pad=True)
        points = torch.where(valid, num / den.clamp(min=1e-12), torch.zeros_like(points))
    p = F.pad(points, (1, 1, 1, 1), mode="replicate")
    m = F.pad(vf, (1, 1, 1, 1), mode="replicate")
    du = p[:, :, 1:-1, 2:] - p[:, :, 1:-1, :-2]
    dv = p[:, :, 2:, 1:-1] - p[:, :, :-2, 1:-1]
    n = torch.linalg.cross(du, dv, dim=1)
    norm = torch.linalg.vector_norm(n, dim=1, keepdim=True)
    ok = valid & (m[:, :, 1:-1, 2:] > 0) & (m[:, :, 1:-1, :-2] > 0) & (m[:, :, 2:, 1:-1] > 0) & (m[:, :, :-2, 1:-1] > 0)
    ok = ok & (norm > 1e-12)
    n = n / norm.clamp(min=1e-12)
    facing = (n * points).sum(dim=1, keepdim=True)
    n = torch.where(facing > 0, -n, n)
    return torch.where(ok, n, torch.zeros_like(n)), ok


def angle_to_gravity(normals: torch.Tensor, ok: torch.Tensor, gravity: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) degrees between each normal and the up direction -g (0 where ``ok`` is False)."""
    cos = -(normals * gravity.to(normals.dtype)[:, :, None, None]).sum(dim=1, keepdim=True)
    angle = torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))
    return torch.where(ok, angle, torch.zeros_like(angle))


def encode(
    name: str, depth: torch.Tensor, intrinsics: torch.Tensor, gravity: torch.Tensor, camera_height: torch.Tensor
) -> torch.Tensor:
    """Encoding ``name`` as a (B, C, H, W) float32 tensor on the device of ``depth``."""
    check_encoding(name)
    depth = depth.float()
    valid = valid_mask(depth)
    depth = torch.where(valid, depth, torch.zeros_like(depth))
    if name == "D":
        return depth
    points = backproject(depth, intrinsics)
    height = height_above_floor(points, valid, gravity, camera_height)
    if name == "DH":
        return torch.cat([depth, height], dim=1)
    normals, ok = surface_normals(points, valid)
    angle = angle_to_gravity(normals, ok, gravity)
    if name == "DHA":
        return torch.cat([depth, height, angle / 90.0], dim=1)
    disparity = HHA_DISPARITY_CM / torch.clamp(depth * 100.0, min=HHA_MIN_DEPTH_CM)
    hha = torch.cat([disparity, height * 100.0, angle + HHA_ANGLE_OFFSET], dim=1).clamp(0.0, 255.0) / 255.0
    return torch.where(valid, hha, torch.zeros_like(hha))


def check_camera_height(source: str) -> str:
    """``source`` if it is one of :data:`CAMERA_HEIGHTS`, else a one-line error listing them."""
    if source not in CAMERA_HEIGHTS:
        raise SynthcamError(f"unknown camera height source {source!r}; choose one of {', '.join(CAMERA_HEIGHTS)}")
    return source


def encode_batch(
    name: str,
    batch: dict[str, torch.Tensor],
    device: torch.device | str | None = None,
    camera_height: str = "estimated",
) -> torch.Tensor:
    """:func:`encode` applied to a collated sample batch (keys of ``synthcam_core.sample``), on ``device``.

    camera_height : ``"estimated"`` takes the floor from the depth on every frame; ``"true"`` uses
    the batch's camera heights (NaN, i.e. real frames, still estimated); see the module docstring.
    """
    from synthcam_core.sample import CAMERA_HEIGHT, DEPTH, GRAVITY, INTRINSICS

    dev = device if device is not None else batch[DEPTH].device
    depth = batch[DEPTH].to(dev, non_blocking=True)
    if check_camera_height(camera_height) == "estimated":
        height = torch.full((depth.shape[0],), math.nan, dtype=torch.float32, device=dev)
    else:
        height = batch[CAMERA_HEIGHT].to(dev, non_blocking=True)
    return encode(
        name, depth, batch[INTRINSICS].to(dev, non_blocking=True), batch[GRAVITY].to(dev, non_blocking=True), height
    )


# ----------------------------------------------------------------------------------------- numpy


def _box_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sum over a k x k window (zero outside the image) of a (..., H, W) array."""
    pad = k // 2
    p = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(pad, pad), (pad, pad)])
    c = np.cumsum(np.cumsum(p, axis=-1), axis=-2)
    c = np.pad(c, [(0, 0)] * (a.ndim - 2) + [(1, 0), (1, 0)])
    h, w = a.shape[-2:]
    return c[..., k : k + h, k : k + w] - c[..., :h, k : k + w] - c[..., k : k + h, :w] + c[..., :h, :w]


def encode_numpy(
    name: str, depth: np.ndarray, intrinsics: np.ndarray, gravity: np.ndarray, camera_height: float
) -> np.ndarray:
    """One frame: depth (H, W) metres, intrinsics (4,), gravity (3,), camera_height (m or NaN) ->
    (C, H, W) float32, the same values as :func:`encode` (float32 rounding aside)."""
    check_encoding(name)
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    z = np.where(valid, depth, 0.0)
    if name == "D":
        return z[None].astype(np.float32)
    fx, fy, cx, cy = (float(v) for v in intrinsics)
    g = np.asarray(gravity, dtype=np.float64)
    h, w = z.shape
    u, v = pixel_slopes(Intrinsics(w, h, fx, fy, cx, cy))
    pts = np.stack([u[None, :] * z, v[:, None] * z, z])
    up = -np.einsum("c,chw->hw", g, pts)
    if math.isnan(camera_height):
        cam = -np.percentile(up[valid], FLOOR_PERCENTILE, method="lower") if valid.any() else 0.0
    else:
        cam = float(camera_height)
    height = np.where(valid, up + cam, 0.0)
    if name == "DH":
        return np.stack([z, height]).astype(np.float32)
    vf = valid.astype(np.float64)
    k = NORMAL_SMOOTHING
    if k > 1:
        sm = _box_sum(pts * vf, k) / np.maximum(_box_sum(vf, k), 1e-12)
        pts = np.where(valid, sm, 0.0)
    p = np.pad(pts, [(0, 0), (1, 1), (1, 1)], mode="edge")
    m = np.pad(vf, 1, mode="edge") > 0
    du = p[:, 1:-1, 2:] - p[:, 1:-1, :-2]
    dv = p[:, 2:, 1:-1] - p[:, :-2, 1:-1]
    n = np.cross(du, dv, axis=0)
    norm = np.linalg.norm(n, axis=0)
    ok = valid & m[1:-1, 2:] & m[1:-1, :-2] & m[2:, 1:-1] & m[:-2, 1:-1] & (norm > 1e-12)
    n = n / np.maximum(norm, 1e-12)
    n = np.where(np.einsum("chw,chw->hw", n, pts) > 0, -n, n)
    angle = np.where(ok, np.degrees(np.arccos(np.clip(-np.einsum("c,chw->hw", g, n), -1.0, 1.0))), 0.0)
    if name == "DHA":
        return np.stack([z, height, angle / 90.0]).astype(np.float32)
    disparity = HHA_DISPARITY_CM / np.maximum(z * 100.0, HHA_MIN_DEPTH_CM)
    hha = np.clip(np.stack([disparity, height * 100.0, angle + HHA_ANGLE_OFFSET]), 0.0, 255.0) / 255.0
    return np.where(valid, hha, 0.0).astype(np.float32)
