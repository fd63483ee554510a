"""Structured-light and active-stereo stages, which work on the disparity D = f * b / z: lateral jitter,
noise on the disparity lattice, the projector / stereo shadow, the stereo pair's unseen band and the
Kinect v1 window test on a dot pattern.

Their temporaries live in per-thread work arrays (:func:`_scratch`): fresh multi-megabyte arrays cost
page faults on every frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from noise_models.base import Stage
from noise_models.checks import MAX_BASELINE_M, MAX_KERNEL_PX, MAX_SIGMA_PX, require, require_finite
from noise_models.sampling import coarse_normal
from noise_models.view import DepthView
from synthcam_core.geometry.rays import pixel_centres

_SCRATCH = threading.local()


def _scratch(key: str, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A reusable per-thread work array (contents undefined) for a stage's temporaries; never returned.

    Fresh multi-megabyte arrays cost page faults on every frame, which at 640x480 took as long as the
    arithmetic; reusing the temporaries leaves one fresh array (the output) per stage.
    """
    cache = getattr(_SCRATCH, "arrays", None)
    if cache is None:
        cache = _SCRATCH.arrays = {}
    arr = cache.get(key)
    if arr is None or arr.shape != shape or arr.dtype != dtype:
        arr = cache[key] = np.empty(shape, dtype)
    return arr


@dataclass(frozen=True)
class LateralJitter(Stage):
    """Resample inverse depth bilinearly at pixel positions shifted by N(0, sigma_px^2) in x and y.

    A pixel becomes invalid if any of its bilinear taps with a non-zero weight is invalid (invalid
    pixels carry a huge inverse depth, 1e30, through the interpolation).
    """

    sigma_px: float = 0.5

    def __post_init__(self):
        require_finite(self)
        require(0 <= self.sigma_px <= MAX_SIGMA_PX, "jitter needs sigma_px >= 0 and at most 64 (pixels)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        if self.sigma_px == 0:  # no shift: the resampling would return every pixel unchanged
            return z.copy()
        h, w = z.shape
        coords = coarse_normal(rng, (h, w, 2), self.sigma_px, out=_scratch("jitter.coords", (h, w, 2)))
        if _RELATIVE_MAP:  # OpenCV >= 4.10 reads the map as offsets from each pixel
            mode = cv2.INTER_LINEAR | _RELATIVE_MAP
        else:
            np.add(coords, _pixel_grid(h, w), out=coords)
            mode = cv2.INTER_LINEAR
        inv = np.maximum(z, np.float32(1e-30), out=_scratch("jitter.inv", (h, w)))
        np.reciprocal(inv, out=inv)  # invalid pixels: 1e30, finite (no NaN from 0 * inf)
        inv_s = cv2.remap(  # type: ignore[call-overload]  # map2=None (a 2-channel map1) is not in the stubs
            inv, coords, None, mode, dst=_scratch("jitter.inv_s", (h, w)), borderMode=cv2.BORDER_REPLICATE
        )
        # A touched invalid tap leaves >= 1e30 / 1024 (the smallest bilinear weight); valid depths are > 1e-6 m.
        cv2.threshold(inv_s, _INV_MAX, 0.0, cv2.THRESH_TOZERO_INV, dst=inv_s)
        return _inverse_or_zero(inv_s)


_RELATIVE_MAP = getattr(cv2, "WARP_RELATIVE_MAP", 0)
_INV_MAX = 1e6  # 1/m: inverse depths above this (depth under 1 micrometre) mark invalid pixels


def _inverse_or_zero(k: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``scale / k`` where ``k > 0`` (and finite results), else 0; (H, W) float32. k must hold no NaN."""
    with np.errstate(divide="ignore"):
        out = cv2.divide(np.float32(scale), k)  # k = 0 gives inf, k < 0 a negative value; both become 0
    cv2.threshold(out, _F32_MAX, 0.0, cv2.THRESH_TOZERO_INV, dst=out)
    return cv2.threshold(out, 0.0, 0.0, cv2.THRESH_TOZERO, dst=out)[1]


_F32_MAX = float(np.finfo(np.float32).max)


@lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 pixel coordinates (x, y) of every pixel, as cv2.remap reads them (read-only)."""
    grid = np.empty((h, w, 2), np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)[None, :]
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    grid.flags.writeable = False
    return grid


@dataclass(frozen=True)
class DisparityNoise(Stage):
    """Gaussian noise in disparity units, then unbiased rounding onto the sensor's disparity lattice.

    With ``k = F / z`` (one unit = ``1/subpixel`` pixel of the IR camera, ``F = focal_px * baseline_m
    * subpixel`` in 1/m), the output is ``F / round(k + sigma_units * N(0, 1))``; so every valid output
    depth lies on the lattice ``F / n`` for integer n, and the step is ``z**2 / F``. Kinect v1: focal
    585.6 px, baseline 0.075 m, 1/8 pixel -> F = 351.3 / m (the NYU toolbox constant); sigma 0.41 units
    gives a total error of about 1.42e-3 z^2 m (Khoshelham and Oude Elberink 2012).
    """

    focal_px: float = 585.6
    baseline_m: float = 0.075
    subpixel: float = 8.0
    sigma_units: float = 0.41

    def __post_init__(self):
        require_finite(self)
        require(
            min(self.focal_px, self.baseline_m, self.subpixel) > 0 and self.sigma_units >= 0,
            "disparity needs focal_px, baseline_m, subpixel > 0 and sigma_units >= 0",
        )
        require(
            self.focal_px <= 1e5
            and self.baseline_m <= MAX_BASELINE_M
            and self.subpixel <= 1024
            and self.sigma_units <= 1e4,
            "disparity needs focal_px <= 100000, baseline_m <= 1, subpixel <= 1024 and sigma_units <= 10000",
        )

    @property
    def lattice(self) -> float:
        """F in 1/m: disparity units per inverse metre."""
        return self.focal_px * self.baseline_m * self.subpixel

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        f = np.float32(self.lattice)
        with np.errstate(divide="ignore"):
            k = cv2.divide(f, z, dst=_scratch("disparity.k", z.shape))  # invalid pixels: +inf, mapped back to 0
        k += coarse_normal(rng, z.shape, self.sigma_units, out=_scratch("disparity.noise", z.shape))
        np.rint(k, out=k)  # integers; invalid pixels stay +inf and map back to 0
        return _inverse_or_zero(k, f)


@dataclass(frozen=True)
class ProjectorShadow(Stage):
    """Invalidate pixels the structured-light projector cannot see (or an active-stereo pair cannot match).

    The projector sits ``baseline_m`` to the camera's right (+x). With disparity D = fx * b / z (pixels), a
    pixel u of a row is in shadow when a pixel u' > u of the same row has D(u') - D(u) > u' - u, i.e. a
    nearer surface to its right blocks the projector ray. Shadows therefore fall on the left of foreground
    objects, with a width of fx * b * (1/z_front - 1/z_back) pixels. ``side = -1`` puts the emitter left.
    """

    baseline_m: float = 0.075
    side: float = 1.0

    def __post_init__(self):
        require_finite(self)
        require(
            0 <= self.baseline_m <= MAX_BASELINE_M and self.side in (-1.0, 1.0),
            "shadow needs 0 <= baseline_m <= 1 and side -1 or 1",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        if self.baseline_m == 0 or not cv2.countNonZero(z):
            return z.copy()
        h, w = z.shape
        with np.errstate(divide="ignore"):
            d = cv2.divide(np.float32(frame.intrinsics.fx * self.baseline_m), z, dst=_scratch("shadow.d", (h, w)))
        cv2.threshold(d, _F32_MAX, 0.0, cv2.THRESH_TOZERO_INV, dst=d)  # invalid pixels: D = 0
        if self.side < 0:  # mirror the rows so the emitter is always on the right
            d = cv2.flip(d, 1)
        # g = D(u) - u; u is shadowed when max g over pixels to its right exceeds g(u). Invalid pixels
        # (D = 0) never block. Blockers lie at most span = max D - min D pixels away, so a running max
        # over a window of at least span + 1 pixels starting at u finds them (u itself never counts).
        valid = cv2.compare(d, 0.0, cv2.CMP_GT)  # type: ignore[call-overload]  # a scalar operand: not in the stubs
        d_min, d_max, _, _ = cv2.minMaxLoc(d, valid)
        g = np.subtract(d, _columns(w), out=_scratch("shadow.g", (h, w)))
        right = window_max_right(g, int(np.ceil(d_max - d_min)) + 1)
        np.add(g, np.float32(1e-4), out=g)
        lit = cv2.compare(right, g, cv2.CMP_LE, dst=_scratch("shadow.lit", (h, w), np.uint8))
        if self.side < 0:
            lit = cv2.flip(lit, 1)
        return cv2.bitwise_and(z, z, mask=lit)


@lru_cache(maxsize=8)
def _columns(w: int) -> np.ndarray:
    """(1, w) float32 column indices 0 .. w-1 (read-only)."""
    cols = np.arange(w, dtype=np.float32)[None, :]
    cols.flags.writeable = False
    return cols


def window_max_right(g: np.ndarray, span: int) -> np.ndarray:
    """(H, W) max of ``g`` over columns [u, u + L) of each row, L the least power of two above ``span``
    (columns past the row's end are left out), by log2(L) doublings of the window. The result is a
    per-thread work array."""
    h, w = g.shape
    out, tmp = _scratch("wmax.a", (h, w)), _scratch("wmax.b", (h, w))
    np.copyto(out, g)
    k = 1
    while k <= span and k < w:
        cv2.max(out[:, : w - k], out[:, k:], dst=tmp[:, : w - k])
        tmp[:, w - k :] = out[:, w - k :]
        out, tmp = tmp, out
        k *= 2
    return out


@dataclass(frozen=True)
class DotPatternWindow(Stage):
    """Kinect-v1 style window test on a pseudo-random dot pattern, with blob painting.

    A binary dot mask of density ``dot_density`` is drawn from ``rng``. Each dot seeds a 9x9 (``window``)
    test on the disparity D = fx * b / z (pixels): it passes when more than 1/1.2 of the window's dots have
    valid depth and more than 1/1.2 of them are inliers, |D - mean| * w(r) < ``inlier_px`` with
    w = 1 at the centre and 1 / (1.44 r^2) elsewhere (mean over the window's valid pixels). A passing
    seed paints its own depth onto pixels within ``fill_radius_px``, nearer seeds winning; everything
    unpainted becomes invalid. This makes holes at depth edges, on steep slopes and where dots are
    sparse, and piecewise-constant blobs (about 3 px) elsewhere.
    """

    baseline_m: float = 0.075
    dot_density: float = 0.11
    window: int = 9
    inlier_px: float = 0.1
    fill_radius_px: float = 3.0
    widens_edges = True

    def __post_init__(self):
        require_finite(self)
        require(
            0 < self.baseline_m <= MAX_BASELINE_M
            and 0 < self.dot_density <= 1
            and 0 < self.inlier_px <= 1e3
            and 0 <= self.fill_radius_px <= MAX_KERNEL_PX,
            "window needs 0 < baseline_m <= 1, 0 < dot_density <= 1, 0 < inlier_px <= 1000, 0 <= fill_radius_px <= 64",
        )
        require(
            3 <= self.window <= MAX_KERNEL_PX and int(self.window) % 2 == 1,
            "window needs an odd window size >= 3 (at most 64)",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        h, w = z.shape
        half = int(self.window) // 2
        pad = max(half, int(np.floor(self.fill_radius_px)))
        hp, wp = h + 2 * pad, w + 2 * pad
        disp = np.zeros((hp, wp), np.float32)
        np.divide(np.float32(frame.intrinsics.fx * self.baseline_m), z, out=disp[pad:-pad, pad:-pad], where=z > 0)
        dots = np.zeros((hp, wp), bool)
        dots[pad:-pad, pad:-pad] = rng.random((h, w), dtype=np.float32) < np.float32(self.dot_density)
        valid = disp > 0
        size = (2 * half + 1, 2 * half + 1)

        def box(a: np.ndarray) -> np.ndarray:
            return cv2.boxFilter(a.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)

        n_dots, n_valid_dots = box(dots), box(dots & valid)
        mean = box(disp) / np.maximum(box(valid), 1.0)
        seeds = np.flatnonzero(dots & valid & (n_valid_dots > n_dots / 1.2))
        # Inlier count per seed, one window offset at a time (flat offsets in the padded image).
        # Dots with valid depth carry their disparity, everything else NaN (never an inlier). Seeds whose
        # window spans less than inlier_px of disparity count every valid dot as an inlier (weights <= 1).
        dot_disp = np.where(dots & valid, disp, np.float32(np.nan)).ravel()
        big = np.float32(1e30)
        d_hi = cv2.dilate(np.where(valid, disp, -big), np.ones(size, np.uint8)).ravel()[seeds]
        d_lo = cv2.erode(np.where(valid, disp, big), np.ones(size, np.uint8)).ravel()[seeds]
        inliers = n_valid_dots.ravel()[seeds].copy()
        hard = np.flatnonzero(d_hi - d_lo >= self.inlier_px)
        hard_seeds, seed_mean = seeds[hard], mean.ravel()[seeds[hard]]
        counts, t = np.zeros(hard.size, np.float32), np.empty(hard.size, np.int64)
        for dy in range(-half, half + 1):
            for dx in range(-half, half + 1):
                r2 = dx * dx + dy * dy
                tol = np.float32(self.inlier_px * (1.0 if r2 == 0 else 1.44 * r2))  # |D - mean| * w < inlier_px
                np.add(hard_seeds, dy * wp + dx, out=t)
                counts += np.abs(dot_disp[t] - seed_mean) < tol
        inliers[hard] = counts
        seeds = seeds[inliers > n_dots.ravel()[seeds] / 1.2]
        # Paint: each pixel takes the depth of its nearest passing seed if that lies within fill_radius_px.
        # OpenCV's 5x5 distance mask (1, 1.4, 2.1969) orders and bounds the offsets of a radius-3 disk as
        # the Euclidean distance does; its labels number the seeds in row-major order, as ``seeds`` is.
        values = np.zeros((hp, wp), np.float32)
        values[pad:-pad, pad:-pad] = z
        values = values.ravel()[seeds]
        if values.size == 0:
            return np.zeros_like(z)
        not_seed = np.ones(hp * wp, np.uint8)
        not_seed[seeds] = 0
        dist, labels = cv2.distanceTransformWithLabels(
            not_seed.reshape(hp, wp), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        dist, labels = dist[pad:-pad, pad:-pad], labels[pad:-pad, pad:-pad]
        out = values[labels - 1]
        out[dist > np.float32(self.fill_radius_px) + np.float32(1e-3)] = 0.0
        return out


@dataclass(frozen=True)
class StereoFOV(Stage):
    """Invalidate the left band the right imager of a left-referenced stereo pair cannot see: a pixel at
    column u (centre u + 0.5) with disparity D = fx * b / z has no match when u + 0.5 < D. The band is
    depth-dependent: f * b / z pixels wide (``side = -1`` for a right-referenced rig)."""

    baseline_m: float = 0.05
    side: float = 1.0

    def __post_init__(self):
        require_finite(self)
        require(
            0 <= self.baseline_m <= MAX_BASELINE_M and self.side in (-1.0, 1.0),
            "fov needs 0 <= baseline_m <= 1 and side -1 or 1",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        d = np.divide(np.float32(frame.intrinsics.fx * self.baseline_m), z, out=np.zeros_like(z), where=z > 0)
        u = pixel_centres(frame.intrinsics, np.float32)[0]
        if self.side < 0:
            u = u[::-1]
        return np.where(u[None, :] < d, np.float32(0.0), z)
