"""The noise stages in torch, for batches of frames on any device (GPU batch generation).

``make_torch("kinect_v1", params)`` builds the same preset as :func:`noise_models.make` (same stage
objects and parameters) and returns a :class:`TorchNoise` whose ``__call__(batch, generator)`` maps a
:class:`TorchBatch` of (B, H, W) tensors to new (B, H, W) float32 depth. Random draws are float32 from the
``torch.Generator`` given (on the batch's device). The statistics match the numpy stages (tested on the
CPU); individual values differ because the random streams differ. torch is imported lazily.

Every stage has a torch version. ``DotPatternWindow`` draws its dot mask from the torch generator;
:func:`dot_window` takes an explicit mask instead, and given the numpy stage's mask (the same seed) it
reproduces the numpy output up to ties between equally near seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from noise_models import distortion, tof, view
from noise_models import stages as S
from noise_models.errors import NoiseConfigError
from noise_models.presets import PRESETS, make
from noise_models.smoothing import InverseDepthSmooth


@dataclass(frozen=True)
class TorchBatch:
    """depth (B, H, W) float32 metres, 0 = invalid; normals (B, H, W, 3) float32 camera frame or None;
    class40 (B, H, W) uint8 or None; intrinsics shared by the batch (``width, height, fx, fy, cx, cy``);
    incidence (B, H, W) float32 |cos theta| or None (read instead of ``normals`` by angle-only stages)."""

    depth: Any
    normals: Any
    class40: Any
    intrinsics: Any
    incidence: Any = None


def _torch():
    import torch

    return torch


def _rays(batch: TorchBatch):
    torch = _torch()
    k, dev = batch.intrinsics, batch.depth.device
    rays = torch.from_numpy(np.array(view.unit_rays(k))).to(dev)
    return rays  # (H, W, 3)


def _cos(batch: TorchBatch):
    if batch.incidence is not None:
        return batch.incidence
    if batch.normals is None:
        raise ValueError("this noise stage needs the incidence angle; pass incidence or normals")
    return (batch.normals * _rays(batch)).sum(-1).abs()


def _rand(z, g):
    return _torch().rand(z.shape, generator=g, device=z.device, dtype=z.dtype)


def _randn(z, g, shape=None):
    return _torch().randn(shape or z.shape, generator=g, device=z.device, dtype=z.dtype)


def _range(st: S.RangeGate, b: TorchBatch, g):
    z = b.depth
    return z * ((z >= st.z_min) & (z <= st.z_max))


def _shadow(st: S.ProjectorShadow, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    d = torch.where(z > 0, float(b.intrinsics.fx * st.baseline_m) / z.clamp_min(1e-12), torch.zeros_like(z))
    if st.side < 0:
        d = d.flip(-1)
    gg = d - torch.arange(z.shape[-1], device=z.device, dtype=z.dtype)
    right = gg.flip(-1).cummax(-1).values.flip(-1)  # max over pixels at or right of each pixel
    blocker = torch.full_like(gg, -math.inf)
    blocker[..., :-1] = right[..., 1:]
    shadow = blocker > gg + 1e-4
    if st.side < 0:
        shadow = shadow.flip(-1)
    return torch.where(shadow, torch.zeros_like(z), z)


def _incidence(st: S.IncidenceDropout, b: TorchBatch, g):
    cos = _cos(b)
    c0, c1 = math.cos(math.radians(st.theta0_deg)), math.cos(math.radians(st.theta1_deg))
    p = ((c0 - cos) / (c0 - c1)).clamp(0, 1)
    return b.depth * ~(_rand(b.depth, g) < p)


def _material(st: S.MaterialDropout, b: TorchBatch, g):
    torch = _torch()
    if b.class40 is None:
        raise ValueError("MaterialDropout needs per-pixel class40 labels")
    lut = torch.zeros(256, device=b.depth.device)
    for cls, p in st.drop:
        lut[int(cls)] = p
    p = lut[b.class40.long()]
    return b.depth * ~(_rand(b.depth, g) < p)


def _jitter(st: S.LateralJitter, b: TorchBatch, g):
    torch = _torch()
    F = torch.nn.functional
    z = b.depth
    if st.sigma_px == 0:  # no shift (the numpy stage's shortcut too)
        return z.clone()
    n, h, w = z.shape
    shift = _randn(z, g, (n, h, w, 2)) * st.sigma_px
    xs = torch.arange(w, device=z.device, dtype=z.dtype)[None, None, :] + shift[..., 0]
    ys = torch.arange(h, device=z.device, dtype=z.dtype)[None, :, None] + shift[..., 1]
    grid = torch.stack([(xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1], dim=-1)  # align_corners=False
    valid = (z > 0).to(z.dtype)
    inv = torch.where(z > 0, 1.0 / z.clamp_min(1e-12), torch.zeros_like(z))
    src = torch.stack([inv, valid], dim=1)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    inv_s, valid_s = out[:, 0], out[:, 1]
    ok = (valid_s > 0.9999) & (inv_s > 0)
    return torch.where(ok, 1.0 / inv_s.clamp_min(1e-12), torch.zeros_like(z))


def _disparity(st: S.DisparityNoise, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    f = float(st.lattice)
    k = torch.where(z > 0, f / z.clamp_min(1e-12), torch.zeros_like(z))
    k = torch.round(k + st.sigma_units * _randn(z, g))
    return torch.where((k >= 1) & (z > 0), f / k.clamp_min(1), torch.zeros_like(z))


def _border(st: S.InvalidBorder, b: TorchBatch, g):
    z = b.depth.clone()
    h, w = z.shape[-2:]
    l, r = int(round(st.left * w)), int(round(st.right * w))
    t, bo = int(round(st.top * h)), int(round(st.bottom * h))
    z[..., :, :l] = 0
    z[..., :, w - r :] = 0
    z[..., :t, :] = 0
    z[..., h - bo :, :] = 0
    return z


def _pixel_shift(st: S.PixelShift, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    n, h, w = z.shape
    ys = (torch.arange(h, device=z.device)[None, :, None] + st.sigma_px * _randn(z, g)).round().clamp(0, h - 1).long()
    xs = (torch.arange(w, device=z.device)[None, None, :] + st.sigma_px * _randn(z, g)).round().clamp(0, w - 1).long()
    k = max(int(st.block), 1)
    ys, xs = ys - ys % k, xs - xs % k
    idx = (ys * w + xs).reshape(n, -1)
    return z.reshape(n, -1).gather(1, idx).reshape(n, h, w)


def _redwood(st: S.RedwoodDistortion, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    n, h, w = z.shape
    cells = torch.from_numpy(np.array(distortion.redwood_cells(h, w))).to(z.device)  # (h*w, 5)
    pos = ((z.reshape(n, -1) - 1.0) * 0.5).clamp(0, 4)
    i0 = pos.long().clamp(max=3)
    a = pos - i0
    c = cells[None].expand(n, -1, -1)
    f0, f1 = c.gather(2, i0[..., None])[..., 0], c.gather(2, (i0 + 1)[..., None])[..., 0]
    f = ((1 - a) * f0 + a * f1).reshape(n, h, w)
    ok = (f >= 1e-5) & (z > 0)
    return torch.where(ok, z / f.clamp_min(1e-5), torch.zeros_like(z))


def _smooth(st: S.SmoothDistortion, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    if st.amplitude == 0:
        return z.clone()
    n, h, w = z.shape
    step = max(st.length * w, 1.0)
    gh, gw = int(math.ceil(h / step)) + 4, int(math.ceil(w / step)) + 4
    grid = _randn(z, g, (n, 1, gh, gw))
    up = torch.nn.functional.interpolate(
        grid, size=(int(round(gh * step)), int(round(gw * step))), mode="bicubic", align_corners=False
    )[:, 0]
    off = int(round(2 * step))
    field = up[:, off : off + h, off : off + w] * (st.amplitude / distortion.BICUBIC_STD)
    return torch.where(z > 0, (z + field * z * z).clamp_min(0), torch.zeros_like(z))


def _tof(st: S.ToFNoise, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    mm = st.c0 + z * (st.c1 + z * st.c2)
    if st.c_angle:
        theta = torch.arccos(_cos(b).clamp(max=1.0)).clamp(max=math.radians(st.theta_max_deg))
        mm = mm + st.c_angle * z * z.sqrt() * (theta / (math.pi / 2 - theta)) ** 2
    out = z + mm.clamp_min(0) * 1e-3 * _randn(z, g)
    return torch.where(z > 0, out.clamp_min(0), torch.zeros_like(z))


def _flying(st: S.FlyingPixels, b: TorchBatch, g):
    torch = _torch()
    F = torch.nn.functional
    z = b.depth
    r = int(st.radius_px)
    far = F.max_pool2d(z[:, None], 2 * r + 1, 1, r)[:, 0]
    near = -F.max_pool2d(-torch.where(z > 0, z, torch.full_like(z, math.inf))[:, None], 2 * r + 1, 1, r)[:, 0]
    edge = (z > 0) & (far - near > st.jump_m) & torch.isfinite(near)
    pick = edge & (_rand(z, g) < st.probability)
    a = _rand(z, g)
    return torch.where(pick, a * near.nan_to_num(0, 0, 0) + (1 - a) * far, z)


def _multipath(st: S.Multipath, b: TorchBatch, g):
    torch = _torch()
    F = torch.nn.functional
    if st.gain == 0:
        return b.depth.clone()
    if b.normals is None:
        raise ValueError("Multipath needs per-pixel normals; render with normals=True")
    z_full = b.depth
    n, full_h, full_w = z_full.shape
    step = max(full_w // 160, 1)
    z = z_full[:, step // 2 :: step, step // 2 :: step]
    normals = b.normals[:, step // 2 :: step, step // 2 :: step]
    k = b.intrinsics
    rays = torch.from_numpy(
        np.array(
            tof.unit_rays_subsampled(
                int(k.width), int(k.height), float(k.fx), float(k.fy), float(k.cx), float(k.cy), step
            )
        )
    ).to(z.device)
    points = rays * (z / rays[..., 2].clamp_min(1e-6))[..., None]
    h, w = z.shape[-2:]
    rad = max(st.radius * w, 1.0)
    p = int(math.ceil(rad))
    padded = F.pad(torch.cat([points, z[..., None]], -1).permute(0, 3, 1, 2), (p, p, p, p), mode="replicate").permute(
        0, 2, 3, 1
    )
    score = torch.zeros_like(z)
    for angle in np.arange(int(st.samples)) * (2 * np.pi / int(st.samples)):
        dx, dy = int(round(rad * np.cos(angle))), int(round(rad * np.sin(angle)))
        q = padded[:, p + dy : p + dy + h, p + dx : p + dx + w]
        diff = q[..., :3] - points
        elev = (diff * normals).sum(-1) / diff.norm(dim=-1).clamp_min(1e-6)
        ok = (q[..., 3] > 0) & (z > 0)
        score += torch.where(ok, elev.clamp(0, 1), torch.zeros_like(elev))
    score = score / int(st.samples)
    if step > 1:
        score = F.interpolate(score[:, None], size=(full_h, full_w), mode="bilinear", align_corners=False)[:, 0]
    return z_full * (1 + st.gain * score)


def _fov(st: S.StereoFOV, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    d = torch.where(z > 0, float(b.intrinsics.fx * st.baseline_m) / z.clamp_min(1e-12), torch.zeros_like(z))
    u = torch.arange(z.shape[-1], device=z.device, dtype=z.dtype) + 0.5
    if st.side < 0:
        u = u.flip(0)
    return torch.where(u < d, torch.zeros_like(z), z)


def _far(st: S.DistanceDropout, b: TorchBatch, g):
    z = b.depth
    p = ((z - st.z_start) / (st.z_end - st.z_start)).clamp(0, 1) * st.p_max
    return z * ~(_rand(z, g) < p)


def nearest_valid(valid):
    """(B, H, W) long flat index (y * W + x) of a nearest valid pixel of each pixel, by jump flooding
    (steps W/2 ... 1 over the 3x3 neighbourhood, then one more pass at step 1): exact for almost every
    pixel, otherwise a valid pixel a fraction of a pixel farther than the nearest. -1 where a frame has
    no valid pixel."""
    torch = _torch()
    n, h, w = valid.shape
    dev = valid.device
    ys = torch.arange(h, device=dev, dtype=torch.float32)[None, :, None].expand(n, h, w)
    xs = torch.arange(w, device=dev, dtype=torch.float32)[None, None, :].expand(n, h, w)
    far = torch.tensor(float(4 * (h + w)), device=dev)
    sy = torch.where(valid, ys, far)  # coordinates of the best valid pixel found so far
    sx = torch.where(valid, xs, far)
    steps, k = [], 1
    while k < max(h, w):
        steps.append(k)
        k *= 2
    for k in steps[::-1] + [1]:
        best = (sy - ys) ** 2 + (sx - xs) ** 2
        for dy in (-k, 0, k):
            for dx in (-k, 0, k):
                if dy == 0 and dx == 0:
                    continue
                # candidate: the seed of the pixel at (y + dy, x + dx); off-image neighbours give none
                cy = _shifted(sy, dy, dx, far)
                cx = _shifted(sx, dy, dx, far)
                dist = (cy - ys) ** 2 + (cx - xs) ** 2
                better = dist < best
                sy, sx, best = torch.where(better, cy, sy), torch.where(better, cx, sx), torch.where(better, dist, best)
    idx = (sy * w + sx).long()
    return torch.where(sy < h, idx, torch.full_like(idx, -1))


def _shifted(a, dy: int, dx: int, fill):
    """``a`` (B, H, W) read at (y + dy, x + dx); ``fill`` outside the image."""
    torch = _torch()
    n, h, w = a.shape
    out = torch.full_like(a, float(fill))
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[:, yd, xd] = a[:, ys, xs]
    return out


def _gaussian_blur(x, sigma: float):
    """Separable Gaussian blur of (B, H, W) as OpenCV's ``GaussianBlur(x, (0, 0), sigma)`` on float32:
    kernel size round(8 sigma + 1) made odd, reflect-101 borders."""
    torch = _torch()
    F = torch.nn.functional
    size = int(round(sigma * 8 + 1)) | 1
    r = size // 2
    t = torch.arange(size, device=x.device, dtype=torch.float64) - r
    kern = torch.exp(-(t * t) / (2 * sigma * sigma))
    kern = (kern / kern.sum()).to(x.dtype)
    y = x[:, None]
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), kern.view(1, 1, 1, size))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), kern.view(1, 1, size, 1))
    return y[:, 0]


def _fill(st: S.HoleFill, b: TorchBatch, g):
    torch = _torch()
    z = b.depth
    n, h, w = z.shape
    if min(h, w) <= int(round(st.sigma_px * 8 + 1)) // 2:
        raise ValueError("HoleFill on torch needs frames larger than its Gaussian kernel radius")
    holes = z <= 0
    idx = nearest_valid(~holes)
    nearest = z.reshape(n, -1).gather(1, idx.clamp_min(0).reshape(n, -1)).reshape(n, h, w)
    smooth = _gaussian_blur(nearest, float(st.sigma_px))
    empty = (idx < 0).all(dim=(1, 2)).view(n, 1, 1)  # a frame with no valid pixel stays empty
    return torch.where(holes & ~empty, smooth, z)


def _inv_smooth(st, b: TorchBatch, g):
    """:class:`noise_models.smoothing.InverseDepthSmooth`: an exact bilateral filter on inverse depth
    over OpenCV's disc window (radius ceil(2 sigma_px), reflect-101 borders), one window offset at a time
    (memory of a few frames, not one per offset); OpenCV tabulates the range weights, so values differ from
    the numpy stage in the last digits."""
    torch = _torch()
    F = torch.nn.functional
    z = b.depth
    n, h, w = z.shape
    r = st.window // 2
    if min(h, w) <= r:
        raise ValueError("InverseDepthSmooth on torch needs frames larger than its window radius")
    valid = z > 0
    inv = torch.where(valid, 1.0 / torch.where(valid, z, torch.ones_like(z)), torch.zeros_like(z))
    padded = F.pad(inv[:, None], (r, r, r, r), mode="reflect")[:, 0]
    num, den = torch.zeros_like(inv), torch.zeros_like(inv)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > r * r:
                continue
            other = padded[:, r + dy : r + dy + h, r + dx : r + dx + w]
            weight = math.exp(-(dy * dy + dx * dx) / (2 * st.sigma_px**2)) * torch.exp(
                -((other - inv) ** 2) / (2 * st.sigma_inv**2)
            )
            num += weight * other
            den += weight
    smooth = num / den
    ok = valid & (smooth > 0)
    return torch.where(ok, 1.0 / torch.where(ok, smooth, torch.ones_like(smooth)), torch.zeros_like(z))


# Chamfer weights of OpenCV's 5x5 DIST_L2 mask (axial, diagonal, knight's move), which the numpy stage's
# distance transform uses to pick the nearest passing seed.
_CHAMFER = (1.0, 1.4, 2.1969)


def _chamfer(dx: int, dy: int) -> float:
    """OpenCV 5x5-mask distance of a pixel offset: the cheapest path of axial, diagonal and knight's moves."""
    a, b, c = _CHAMFER
    x, y = max(abs(dx), abs(dy)), min(abs(dx), abs(dy))
    return c * y + a * (x - 2 * y) if x >= 2 * y else c * (x - y) + b * (2 * y - x)


def _paint_offsets(radius: float) -> list[tuple[int, int]]:
    """(dy, dx) offsets within ``radius`` (chamfer distance, as the numpy stage bounds it), nearest first."""
    r = int(math.floor(radius + 1e-3))
    offs = [
        (dy, dx)
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
        if _chamfer(dx, dy) <= float(np.float32(radius) + np.float32(1e-3))
    ]
    return sorted(offs, key=lambda o: (_chamfer(o[1], o[0]), o))


def _window_shift(a, dy: int, dx: int, pad: int):
    """``a`` (B, H + 2 pad, W + 2 pad) read at (y + dy, x + dx) for every (y, x) of the unpadded image."""
    h, w = a.shape[-2] - 2 * pad, a.shape[-1] - 2 * pad
    return a[:, pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def dot_window(st: S.DotPatternWindow, depth, dots, fx: float):
    """:class:`~noise_models.stages.DotPatternWindow` on a (B, H, W) float32 depth batch with a given
    (B, H, W) bool dot mask (``fx`` in pixels): the same window test and blob painting as the numpy stage,
    vectorised over the batch (one pass per window offset and per paint offset). Returns (B, H, W) float32."""
    torch = _torch()
    F = torch.nn.functional
    z = depth
    n, h, w = z.shape
    half = int(st.window) // 2
    size = 2 * half + 1
    valid = z > 0
    disp = torch.where(valid, float(np.float32(fx * st.baseline_m)) / z.clamp_min(1e-12), torch.zeros_like(z))
    dv = dots & valid

    def box(a):  # window sums with zeros outside the image (OpenCV's BORDER_CONSTANT box filter)
        return F.avg_pool2d(
            a.to(z.dtype)[:, None], size, stride=1, padding=half, count_include_pad=True, divisor_override=1
        )[:, 0]

    n_dots, n_valid_dots = box(dots), box(dv)
    mean = box(disp) / box(valid).clamp_min(1.0)
    # Inliers: dots with valid depth within inlier_px / w(r) of the window's mean disparity; other pixels
    # carry NaN, which is never an inlier.
    dot_disp = F.pad(torch.where(dv, disp, torch.full_like(disp, math.nan))[:, None], (half,) * 4, value=math.nan)[:, 0]
    inliers = torch.zeros_like(z)
    for dy in range(-half, half + 1):
        for dx in range(-half, half + 1):
            r2 = dx * dx + dy * dy
            tol = float(np.float32(st.inlier_px * (1.0 if r2 == 0 else 1.44 * r2)))
            inliers += ((_window_shift(dot_disp, dy, dx, half) - mean).abs() < tol).to(z.dtype)
    need = n_dots / 1.2
    seeds = dv & (n_valid_dots > need) & (inliers > need)
    # Paint: each pixel takes the depth of its nearest passing seed within fill_radius_px (nearest offset
    # first; a later, farther seed never overwrites).
    offsets = _paint_offsets(float(st.fill_radius_px))
    r = max((max(abs(dy), abs(dx)) for dy, dx in offsets), default=0)
    seed_p = F.pad(seeds[:, None].to(torch.uint8), (r,) * 4)[:, 0].bool()
    z_p = F.pad(z[:, None], (r,) * 4)[:, 0]
    out = torch.zeros_like(z)
    done = torch.zeros_like(valid)
    for dy, dx in offsets:
        hit = _window_shift(seed_p, dy, dx, r) & ~done
        out = torch.where(hit, _window_shift(z_p, dy, dx, r), out)
        done |= hit
    return out


def _dots(st: S.DotPatternWindow, b: TorchBatch, g):
    dots = _rand(b.depth, g) < float(np.float32(st.dot_density))
    return dot_window(st, b.depth, dots, float(b.intrinsics.fx))


#: Explicit registry: numpy stage type -> torch implementation.
TORCH_STAGES: dict[type, Callable] = {
    S.RangeGate: _range,
    S.ProjectorShadow: _shadow,
    S.IncidenceDropout: _incidence,
    S.MaterialDropout: _material,
    S.LateralJitter: _jitter,
    S.DisparityNoise: _disparity,
    S.InvalidBorder: _border,
    S.PixelShift: _pixel_shift,
    S.RedwoodDistortion: _redwood,
    S.SmoothDistortion: _smooth,
    S.ToFNoise: _tof,
    S.FlyingPixels: _flying,
    S.Multipath: _multipath,
    S.StereoFOV: _fov,
    S.DistanceDropout: _far,
    S.HoleFill: _fill,
    S.DotPatternWindow: _dots,
    InverseDepthSmooth: _inv_smooth,
}


def torch_presets() -> list[str]:
    """Presets whose every stage has a torch implementation."""
    return [name for name, build in PRESETS.items() if all(type(s) in TORCH_STAGES for s in build().values())]


@dataclass(frozen=True)
class TorchNoise:
    """A preset on torch batches: ``noise(batch, generator) -> (B, H, W) float32 depth``; input untouched."""

    name: str
    stages: dict

    @property
    def needs_normals(self) -> bool:
        return any(s.needs_normals for s in self.stages.values())

    @property
    def needs_incidence(self) -> bool:
        """Whether a stage reads the incidence angle (``incidence``, or derived from ``normals``)."""
        return any(s.needs_incidence for s in self.stages.values())

    def __call__(self, batch: TorchBatch, generator=None):
        import dataclasses

        depth = batch.depth
        for stage in self.stages.values():
            depth = TORCH_STAGES[type(stage)](stage, dataclasses.replace(batch, depth=depth), generator)
        return depth.clone() if depth is batch.depth else depth


def make_torch(name: str, params: Mapping[str, float] | None = None) -> TorchNoise:
    """Build preset ``name`` (same parameters and overrides as :func:`noise_models.make`) for torch batches."""
    model = make(name, params)
    missing = sorted({type(s).__name__ for s in model.stages.values() if type(s) not in TORCH_STAGES})
    if missing:
        raise NoiseConfigError(
            f"noise preset {name!r} has no torch version (stages {', '.join(missing)}); "
            f"torch presets: {', '.join(torch_presets())}"
        )
    return TorchNoise(name, dict(model.stages))
