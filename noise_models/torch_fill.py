"""The torch versions of the noise stages that fill and smooth.

:class:`~noise_models.stages.HoleFill` (nearest valid pixel by jump flooding, then a Gaussian blur),
:class:`~noise_models.smoothing.InverseDepthSmooth` (a bilateral filter on inverse depth) and
:class:`~noise_models.stages.DotPatternWindow` (the dot-pattern window test and blob painting;
:func:`dot_window` takes an explicit dot mask). Registered in :data:`noise_models.torch_stages.TORCH_STAGES`.
"""

from __future__ import annotations

import math

import numpy as np

from noise_models import stages as S
from noise_models.torch_batch import TorchBatch, torch_module, uniform


def nearest_valid(valid):
    """(B, H, W) long flat index (y * W + x) of a nearest valid pixel of each pixel, by jump flooding
    (steps W/2 ... 1 over the 3x3 neighbourhood, then one more pass at step 1): exact for almost every
    pixel, otherwise a valid pixel a fraction of a pixel farther than the nearest. -1 where a frame has
    no valid pixel."""
    torch = torch_module()
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
    torch = torch_module()
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
    torch = torch_module()
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


def hole_fill(st: S.HoleFill, b: TorchBatch, g):
    """:class:`~noise_models.stages.HoleFill`: each hole takes the Gaussian-blurred depth of its nearest valid
    pixels (:func:`nearest_valid`); a frame without valid pixels stays empty."""
    torch = torch_module()
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


def inverse_depth_smooth(st, b: TorchBatch, g):
    """:class:`noise_models.smoothing.InverseDepthSmooth`: an exact bilateral filter on inverse depth
    over OpenCV's disc window (radius ceil(2 sigma_px), reflect-101 borders), one window offset at a time
    (memory of a few frames, not one per offset); OpenCV tabulates the range weights, so values differ from
    the numpy stage in the last digits."""
    torch = torch_module()
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
    torch = torch_module()
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


def dot_pattern_window(st: S.DotPatternWindow, b: TorchBatch, g):
    """:class:`~noise_models.stages.DotPatternWindow` with its dot mask drawn from ``g`` (:func:`dot_window`)."""
    dots = uniform(b.depth, g) < float(np.float32(st.dot_density))
    return dot_window(st, b.depth, dots, float(b.intrinsics.fx))
