"""Composable depth-noise stages.

Each stage is a frozen dataclass whose fields are its parameters. ``stage(frame, rng)`` returns a new
(H, W) float32 depth array in metres (0 = invalid) and never mutates its input. Random draws are
float32 and come only from the ``numpy.random.Generator`` passed in (normal draws through
:func:`noise_models.sampling.standard_normal`).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from noise_models.sampling import coarse_normal, standard_normal
from noise_models.view import DepthView, incidence_from_normals, unit_rays


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


MAX_DEPTH_M = 1000.0
"""Largest depth parameter (range gate, dropout distances) in metres: no indoor sensor sees farther."""
MAX_BASELINE_M = 1.0
"""Largest projector / stereo baseline in metres (depth sensors: 0.05-0.075)."""
MAX_SIGMA_PX = 64.0
"""Largest pixel-scale spread (jitter, shift, hole-fill blur) in pixels: beyond it every pixel is noise."""
MAX_KERNEL_PX = 64
"""Largest integer pixel size (correlation window, flying-pixel radius, shift block, fill radius): the
work and buffers of these stages grow with its square."""
MAX_SAMPLES = 64
"""Most ring samples of the multipath concavity score (one image pass each)."""


def _require_finite(stage) -> None:
    """Every floating-point field of ``stage`` is finite, and a whole number where the field is an ``int``
    (ValueError otherwise). Integers of any size pass: the stages' range checks bound them."""
    for f in dataclasses.fields(stage):
        value = getattr(stage, f.name)
        if isinstance(value, (float, np.floating)):
            _require(math.isfinite(value), f"{f.name} must be a finite number, got {value}")
            if f.type == "int":
                _require(float(value).is_integer(), f"{f.name} must be a whole number, got {value}")


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


class Stage:
    """Base class: subclasses implement ``__call__(frame, rng) -> depth``."""

    needs_normals: bool = False
    #: True when the stage reads the incidence angle (``frame.incidence``, or derived from normals).
    needs_incidence: bool = False
    #: True for a correlation-window test that widens every hole and depth edge by a few pixels (the
    #: conformance suite measures the projector shadow without such stages).
    widens_edges: bool = False

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def incidence_cosine(frame: DepthView) -> np.ndarray:
    """(H, W) float32 |cos theta|, theta the angle between the surface normal and the viewing ray: the
    frame's ``incidence`` when the renderer provided it (read-only here), else from its ``normals``."""
    incidence = getattr(frame, "incidence", None)
    if incidence is not None:
        return incidence
    if frame.normals is None:
        raise ValueError("this noise stage needs the incidence angle; render with incidence=True (or normals=True)")
    return incidence_from_normals(frame.normals, frame.intrinsics)


@dataclass(frozen=True)
class RangeGate(Stage):
    """Invalidate depth outside ``[z_min, z_max]`` metres (sensor blind zone and maximum range)."""

    z_min: float = 0.5
    z_max: float = 4.5

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.z_min < self.z_max <= MAX_DEPTH_M, "range needs 0 <= z_min < z_max <= 1000 (metres)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        below = float(np.nextafter(np.float32(self.z_min), np.float32(-1)))  # keep z == z_min
        out = cv2.threshold(z, below, 0.0, cv2.THRESH_TOZERO)[1]  # z <= below -> 0
        return cv2.threshold(out, float(self.z_max), 0.0, cv2.THRESH_TOZERO_INV, dst=out)[1]  # z > z_max -> 0


@dataclass(frozen=True)
class IncidenceDropout(Stage):
    """Drop pixels seen at grazing incidence.

    theta is the angle between the surface normal and the viewing ray. The drop probability is 0 below
    ``theta0_deg``, rises linearly to 1 at ``theta1_deg`` and stays 1 beyond (SceneNet cuts at 82 deg).
    """

    theta0_deg: float = 70.0
    theta1_deg: float = 82.0
    needs_incidence = True

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.theta0_deg < self.theta1_deg <= 90, "incidence needs 0 <= theta0_deg < theta1_deg <= 90")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        cos = incidence_cosine(frame)
        c0, c1 = np.float32(np.cos(np.radians(self.theta0_deg))), np.float32(np.cos(np.radians(self.theta1_deg)))
        out = frame.depth.copy()
        ramp = np.flatnonzero(cos < c0)  # only pixels with a non-zero drop probability draw a number
        p_drop = np.minimum((c0 - cos.ravel()[ramp]) / (c0 - c1), np.float32(1.0))
        out.ravel()[ramp[rng.random(ramp.size, dtype=np.float32) < p_drop]] = 0.0
        return out


@dataclass(frozen=True)
class LateralJitter(Stage):
    """Resample inverse depth bilinearly at pixel positions shifted by N(0, sigma_px^2) in x and y.

    A pixel becomes invalid if any of its bilinear taps with a non-zero weight is invalid (invalid
    pixels carry a huge inverse depth, 1e30, through the interpolation).
    """

    sigma_px: float = 0.5

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.sigma_px <= MAX_SIGMA_PX, "jitter needs sigma_px >= 0 and at most 64 (pixels)")

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
        inv_s = cv2.remap(inv, coords, None, mode, dst=_scratch("jitter.inv_s", (h, w)), borderMode=cv2.BORDER_REPLICATE)
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
        _require_finite(self)
        _require(min(self.focal_px, self.baseline_m, self.subpixel) > 0 and self.sigma_units >= 0,
                 "disparity needs focal_px, baseline_m, subpixel > 0 and sigma_units >= 0")
        _require(self.focal_px <= 1e5 and self.baseline_m <= MAX_BASELINE_M and self.subpixel <= 1024
                 and self.sigma_units <= 1e4,
                 "disparity needs focal_px <= 100000, baseline_m <= 1, subpixel <= 1024 and sigma_units <= 10000")

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
class Compose(Stage):
    """Apply stages in order; itself a stage."""

    stages: tuple[Stage, ...] = ()

    @property
    def needs_normals(self) -> bool:  # type: ignore[override]
        return any(s.needs_normals for s in self.stages)

    @property
    def needs_incidence(self) -> bool:  # type: ignore[override]
        return any(s.needs_incidence for s in self.stages)

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        depth = frame.depth
        for stage in self.stages:
            depth = stage(dataclasses.replace(frame, depth=depth), rng)
        return depth.copy() if depth is frame.depth else depth


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
        _require_finite(self)
        _require(0 <= self.baseline_m <= MAX_BASELINE_M and self.side in (-1.0, 1.0),
                 "shadow needs 0 <= baseline_m <= 1 and side -1 or 1")

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
        d_min, d_max, _, _ = cv2.minMaxLoc(d, cv2.compare(d, 0.0, cv2.CMP_GT))
        g = np.subtract(d, _columns(w), out=_scratch("shadow.g", (h, w)))
        right = _window_max_right(g, int(np.ceil(d_max - d_min)) + 1)
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


def _window_max_right(g: np.ndarray, span: int) -> np.ndarray:
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
class MaterialDropout(Stage):
    """Drop pixels of IR-unfriendly materials by NYUv2-40 class id: glass, mirrors and screens return
    little or wrong depth. ``drop`` holds (class id, probability) pairs; defaults: window (9) 0.9,
    mirror (19) 0.8, television (25) 0.5. Needs the frame's ``class40`` labels."""

    drop: tuple[tuple[int, float], ...] = ((9, 0.9), (19, 0.8), (25, 0.5))

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        labels = getattr(frame, "class40", None)
        if labels is None:
            raise ValueError("MaterialDropout needs per-pixel class40 labels")
        lut = np.zeros(256, dtype=np.float32)
        for cls, p in self.drop:
            lut[int(cls)] = p
        out = frame.depth.copy()
        hit_mask = cv2.LUT(labels, (lut > 0).astype(np.uint8))
        if not cv2.countNonZero(hit_mask):
            return out
        hit = np.flatnonzero(hit_mask.view(bool))  # flatnonzero on bool is much faster than on uint8
        if hit.size:
            p_drop = lut[labels.ravel()[hit]]
            out.ravel()[hit[rng.random(hit.size, dtype=np.float32) < p_drop]] = 0.0
        return out


@dataclass(frozen=True)
class InvalidBorder(Stage):
    """Invalidate bands at the image border, given as fractions of width and height (defaults: SceneNet's
    Kinect v1 border at 640x480, left 8 px, right 16 px, top and bottom 12 px; the ``kinect_v1`` preset uses
    the border measured on NYUv2's raw frames, 38, 38, 43 and 9 px)."""

    left: float = 8 / 640
    right: float = 16 / 640
    top: float = 12 / 480
    bottom: float = 12 / 480

    def __post_init__(self):
        _require_finite(self)
        _require(all(0 <= v < 0.5 for v in (self.left, self.right, self.top, self.bottom)),
                 "border fractions must lie in [0, 0.5)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        out = frame.depth.copy()
        h, w = out.shape
        l, r = int(round(self.left * w)), int(round(self.right * w))
        t, b = int(round(self.top * h)), int(round(self.bottom * h))
        out[:, :l] = 0.0
        out[:, w - r :] = 0.0
        out[:t] = 0.0
        out[h - b :] = 0.0
        return out


@dataclass(frozen=True)
class PixelShift(Stage):
    """Redwood-style resampling: each pixel reads the depth at a nearest-neighbour position shifted by
    N(0, sigma_px^2), snapped to ``block`` x ``block`` cells (PrimeSense half-resolution blockiness)."""

    sigma_px: float = 0.25
    block: int = 2

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.sigma_px <= MAX_SIGMA_PX and 1 <= self.block <= MAX_KERNEL_PX,
                 "shift needs sigma_px >= 0 and block >= 1 (at most 64 pixels each)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        h, w = z.shape
        shift = standard_normal(rng, (2, h, w))
        ys = np.clip(np.rint(np.arange(h, dtype=np.float32)[:, None] + self.sigma_px * shift[0]), 0, h - 1).astype(np.int64)
        xs = np.clip(np.rint(np.arange(w, dtype=np.float32)[None, :] + self.sigma_px * shift[1]), 0, w - 1).astype(np.int64)
        k = max(int(self.block), 1)
        return z[ys - ys % k, xs - xs % k]


@dataclass(frozen=True)
class RedwoodDistortion(Stage):
    """Low-frequency, depth-dependent distortion from the Redwood table (Choi et al. 2015): z' = z / f(x, y, z),
    with f from an 80 x 80 grid over a 640x480 image and depth bins at 1, 3, 5, 7, 9 m, linearly interpolated
    (held below 1 m and above 9 m); cells with f < 1e-5 (the sensor's border) become invalid."""

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        cells = _redwood_cells(*z.shape)  # (h * w, 5)
        pos = np.clip((z.ravel() - np.float32(1.0)) * np.float32(0.5), 0.0, 4.0)
        i0 = np.minimum(pos.astype(np.int64), 3)
        a = pos - i0
        flat = np.arange(z.size) * 5 + i0
        f = ((1 - a) * cells.ravel()[flat] + a * cells.ravel()[flat + 1]).reshape(z.shape)
        ok = (f >= 1e-5) & (z > 0)
        return np.divide(z, f, out=np.zeros_like(z), where=ok)


@lru_cache(maxsize=4)
def _redwood_cells(h: int, w: int) -> np.ndarray:
    """(h * w, 5) float32 distortion factors of each pixel of an h x w image (the table is at 640x480)."""
    table = _redwood_table()
    rows = np.minimum((np.arange(h) * (480 / h)).astype(np.int64) // 6, 79)
    cols = np.minimum((np.arange(w) * (640 / w)).astype(np.int64) // 8, 79)
    cells = np.ascontiguousarray(table[rows[:, None], cols[None, :]].reshape(h * w, 5))
    cells.flags.writeable = False
    return cells


@lru_cache(maxsize=1)
def _redwood_table() -> np.ndarray:
    """(80, 80, 5) float32 Redwood distortion factors (read-only), from the packaged table."""
    from importlib import resources

    with resources.files("noise_models").joinpath("data", "redwood-depth-dist-model.npy").open("rb") as fh:
        table = np.load(fh).astype(np.float32).reshape(80, 80, 5)
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class HoleFill(Stage):
    """Fill invalid pixels, as NYUv2's in-painted ``depths`` are filled. NYU uses colour-guided
    colorization; without colour, each hole takes the depth of its nearest valid pixel, then the filled
    pixels are smoothed with a Gaussian of ``sigma_px`` (valid pixels keep their values). A frame with no
    valid pixel stays empty."""

    sigma_px: float = 3.0

    def __post_init__(self):
        _require_finite(self)
        _require(0 < self.sigma_px <= MAX_SIGMA_PX, "fill needs sigma_px > 0 and at most 64 (pixels)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        holes = z <= 0
        if not holes.any() or holes.all():
            return z.copy()
        _, labels = cv2.distanceTransformWithLabels(holes.astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        nearest = z[~holes][labels - 1]  # labels number the valid pixels in row-major order, from 1
        smooth = cv2.GaussianBlur(nearest, (0, 0), float(self.sigma_px))
        return np.where(holes, smooth, z).astype(np.float32)


# --- low-frequency distortion, structured-light window test -------------------------------------------


@dataclass(frozen=True)
class SmoothDistortion(Stage):
    """A smooth random low-frequency depth error: z' = z + amplitude * z**2 * F(x, y).

    F is a unit-variance random field: N(0, 1) values on a coarse grid with spacing ``length`` (a
    fraction of the image width; 60 px at 640 wide by default) upsampled bicubically. ``amplitude`` is
    in 1/m (0.002 gives 2 mm at 1 m and 32 mm at 4 m, one standard deviation). Invalid pixels stay invalid.
    """

    amplitude: float = 0.002
    length: float = 60 / 640

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.amplitude <= 1 and 0 < self.length <= 1,
                 "distortion needs 0 <= amplitude <= 1 (1/m) and 0 < length <= 1")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        if self.amplitude == 0:
            return z.copy()
        h, w = z.shape
        step = max(self.length * w, 1.0)
        gh, gw = int(np.ceil(h / step)) + 4, int(np.ceil(w / step)) + 4  # two spare cells on each side
        grid = standard_normal(rng, (gh, gw))
        up = cv2.resize(grid, (int(round(gw * step)), int(round(gh * step))), interpolation=cv2.INTER_CUBIC)
        off = int(round(2 * step))
        field = up[off : off + h, off : off + w] * np.float32(self.amplitude / _BICUBIC_STD)
        out = z + field * z * z
        out[z <= 0] = 0.0
        return np.maximum(out, 0.0, out=out)


def _bicubic_std() -> float:
    """Root-mean-square gain of OpenCV's bicubic interpolation (a = -0.75) on an iid unit-variance grid."""
    t = (np.arange(4096) + 0.5) / 4096
    a = -0.75

    def kernel(x):
        x = np.abs(x)
        return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                        np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))

    s = sum(kernel(t - k) ** 2 for k in (-1, 0, 1, 2))  # variance in 1-D at fractional offset t
    return float(np.mean(s))  # the 2-D variance averaged over (tx, ty) is (mean s)^2; its root is mean s


_BICUBIC_STD = _bicubic_std()


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
        _require_finite(self)
        _require(0 < self.baseline_m <= MAX_BASELINE_M and 0 < self.dot_density <= 1 and 0 < self.inlier_px <= 1e3
                 and 0 <= self.fill_radius_px <= MAX_KERNEL_PX,
                 "window needs 0 < baseline_m <= 1, 0 < dot_density <= 1, 0 < inlier_px <= 1000, 0 <= fill_radius_px <= 64")
        _require(3 <= self.window <= MAX_KERNEL_PX and int(self.window) % 2 == 1,
                 "window needs an odd window size >= 3 (at most 64)")

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
        box = lambda a: cv2.boxFilter(a.astype(np.float32), -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
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
        dist, labels = cv2.distanceTransformWithLabels(not_seed.reshape(hp, wp), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
        dist, labels = dist[pad:-pad, pad:-pad], labels[pad:-pad, pad:-pad]
        out = values[labels - 1]
        out[dist > np.float32(self.fill_radius_px) + np.float32(1e-3)] = 0.0
        return out


# --- time of flight (Kinect v2) ----------------------------------------------------------------------


@dataclass(frozen=True)
class ToFNoise(Stage):
    """Axial time-of-flight noise (Fankhauser et al. 2015, Kinect v2): z' = z + N(0, sigma^2) with
    sigma [mm] = c0 + c1 z + c2 z^2 + c_angle z^1.5 theta^2 / (pi/2 - theta)^2, z in m, theta the incidence
    angle (capped at ``theta_max_deg``). Defaults 1.5, -0.5, 0.3, 0.1: 1.3 / 1.7 / 2.7 / 4.3 mm at 1-4 m
    head-on. Needs the incidence angle when ``c_angle`` is non-zero."""

    c0: float = 1.5
    c1: float = -0.5
    c2: float = 0.3
    c_angle: float = 0.1
    theta_max_deg: float = 85.0

    @property
    def needs_incidence(self) -> bool:  # type: ignore[override]
        return self.c_angle != 0

    def __post_init__(self):
        _require_finite(self)
        _require(0 < self.theta_max_deg < 90, "tof needs 0 < theta_max_deg < 90")
        _require(max(abs(self.c0), abs(self.c1), abs(self.c2), abs(self.c_angle)) <= 1e3,
                 "tof needs |c0|, |c1|, |c2|, |c_angle| <= 1000 (mm)")

    def sigma_m(self, z: np.ndarray, theta: np.ndarray | float = 0.0) -> np.ndarray:
        """Noise sigma in metres (float32) at depth ``z`` (m) and incidence ``theta`` (rad)."""
        z = np.asarray(z, np.float32)
        mm = np.float32(self.c0) + z * (np.float32(self.c1) + z * np.float32(self.c2))
        if self.c_angle:
            theta = np.minimum(np.asarray(theta, np.float32), np.float32(np.radians(self.theta_max_deg)))
            angle = theta / (np.float32(np.pi / 2) - theta)
            mm += np.float32(self.c_angle) * z * np.sqrt(z) * angle * angle
        return np.maximum(mm, 0.0) * np.float32(1e-3)

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        theta = np.arccos(np.minimum(incidence_cosine(frame), np.float32(1.0))) if self.c_angle else 0.0
        out = self.sigma_m(z, theta)
        out *= standard_normal(rng, z.shape)
        out += z
        out[z <= 0] = 0.0
        return np.maximum(out, 0.0, out=out)


@dataclass(frozen=True)
class FlyingPixels(Stage):
    """Mixed-depth pixels at depth discontinuities (time of flight): a pixel within ``radius_px`` of a
    neighbour whose depth differs by more than ``jump_m`` becomes, with ``probability``, a blend
    a * z_near + (1 - a) * z_far of the nearest and farthest depths around it, a ~ U(0, 1)."""

    jump_m: float = 0.1
    probability: float = 0.5
    radius_px: int = 1

    def __post_init__(self):
        _require_finite(self)
        _require(0 < self.jump_m <= MAX_DEPTH_M and 0 <= self.probability <= 1 and 1 <= self.radius_px <= MAX_KERNEL_PX,
                 "flying needs 0 < jump_m <= 1000, 0 <= probability <= 1 and 1 <= radius_px <= 64")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        kernel = np.ones((2 * int(self.radius_px) + 1,) * 2, np.uint8)
        far = cv2.dilate(z, kernel)
        near = cv2.erode(np.where(z > 0, z, np.float32(np.inf)), kernel)
        edge = np.flatnonzero((z > 0) & (far - near > self.jump_m) & np.isfinite(near))
        out = z.copy()
        pick = edge[rng.random(edge.size, dtype=np.float32) < np.float32(self.probability)]
        a = rng.random(pick.size, dtype=np.float32)
        out.ravel()[pick] = a * near.ravel()[pick] + (1 - a) * far.ravel()[pick]
        return out


@dataclass(frozen=True)
class Multipath(Stage):
    """Multipath interference at concave corners (time of flight reads too far): z' = z * (1 + gain * c).

    c in [0, 1] is a concavity score: over ``samples`` pixels on a ring of ``radius`` (fraction of the
    image width; 24 px at 640 wide) around each pixel, the mean of max(0, sin elevation) of the
    neighbour's 3-D point above this pixel's tangent plane. Planes score 0, the crease of two
    perpendicular walls about 0.5, fading to 0 one radius away. Also raises the background beside a
    nearer object (light bounces off it too). ``gain`` 0.02 (no measured source; tune).
    """

    gain: float = 0.02
    radius: float = 24 / 640
    samples: int = 8

    needs_normals = True

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.gain <= 10 and 0 < self.radius < 0.5 and 1 <= self.samples <= MAX_SAMPLES,
                 "multipath needs 0 <= gain <= 10, 0 < radius < 0.5 and 1 <= samples <= 64")

    def concavity(self, frame: DepthView) -> np.ndarray:
        """(H, W) float32 concavity score in [0, 1], computed at about 160 px wide and upsampled (it is smooth)."""
        if frame.normals is None:
            raise ValueError("Multipath needs per-pixel normals; render with normals=True")
        full_h, full_w = frame.depth.shape
        step = max(full_w // 160, 1)
        z = frame.depth[step // 2 :: step, step // 2 :: step]
        normals = np.ascontiguousarray(frame.normals[step // 2 :: step, step // 2 :: step], dtype=np.float32)
        h, w = z.shape
        k = frame.intrinsics
        rays = _unit_rays_subsampled(int(k.width), int(k.height), float(k.fx), float(k.fy), float(k.cx), float(k.cy), step)
        points = rays * (z / np.maximum(rays[..., 2], np.float32(1e-6)))[..., None]  # camera-frame points
        rad = max(self.radius * w, 1.0)
        p = int(np.ceil(rad))
        padded = cv2.copyMakeBorder(np.dstack([points, z[..., None]]).astype(np.float32), p, p, p, p, cv2.BORDER_REPLICATE)
        score = np.zeros((h, w), np.float32)
        for angle in np.arange(int(self.samples)) * (2 * np.pi / int(self.samples)):
            dx, dy = int(round(rad * np.cos(angle))), int(round(rad * np.sin(angle)))
            q = padded[p + dy : p + dy + h, p + dx : p + dx + w]
            diff = q[..., :3] - points
            dist = np.sqrt(cv2.transform(diff * diff, np.ones((1, 3), np.float32)))
            elev = cv2.transform(diff * normals, np.ones((1, 3), np.float32)) / np.maximum(dist, np.float32(1e-6))
            ok = (q[..., 3] > 0) & (z > 0)
            score += np.where(ok, np.clip(elev, 0.0, 1.0), np.float32(0.0))
        score /= np.float32(self.samples)
        if step == 1:
            return score
        return cv2.resize(score, (full_w, full_h), interpolation=cv2.INTER_LINEAR)

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        if self.gain == 0:
            return z.copy()
        return (z * (1 + np.float32(self.gain) * self.concavity(frame))).astype(np.float32)


@lru_cache(maxsize=8)
def _unit_rays_subsampled(width: int, height: int, fx: float, fy: float, cx: float, cy: float, step: int) -> np.ndarray:
    """Unit rays of every ``step``-th pixel (from step // 2), as the pixels of the subsampled image."""
    from types import SimpleNamespace

    rays = unit_rays(SimpleNamespace(width=width, height=height, fx=fx, fy=fy, cx=cx, cy=cy))
    out = np.ascontiguousarray(rays[step // 2 :: step, step // 2 :: step])
    out.flags.writeable = False
    return out


# --- active stereo (RealSense D4xx) ------------------------------------------------------------------


@dataclass(frozen=True)
class StereoFOV(Stage):
    """Invalidate the left band the right imager of a left-referenced stereo pair cannot see: a pixel at
    column u (centre u + 0.5) with disparity D = fx * b / z has no match when u + 0.5 < D. The band is
    depth-dependent: f * b / z pixels wide (``side = -1`` for a right-referenced rig)."""

    baseline_m: float = 0.05
    side: float = 1.0

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.baseline_m <= MAX_BASELINE_M and self.side in (-1.0, 1.0),
                 "fov needs 0 <= baseline_m <= 1 and side -1 or 1")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        d = np.divide(np.float32(frame.intrinsics.fx * self.baseline_m), z, out=np.zeros_like(z), where=z > 0)
        u = np.arange(z.shape[1], dtype=np.float32) + np.float32(0.5)
        if self.side < 0:
            u = u[::-1]
        return np.where(u[None, :] < d, np.float32(0.0), z)


@dataclass(frozen=True)
class DistanceDropout(Stage):
    """Weak-projector dropout on far surfaces: p_drop rises linearly from 0 at ``z_start`` to ``p_max``
    at ``z_end`` metres and stays there beyond."""

    z_start: float = 3.0
    z_end: float = 6.0
    p_max: float = 0.3

    def __post_init__(self):
        _require_finite(self)
        _require(0 <= self.z_start < self.z_end <= MAX_DEPTH_M and 0 <= self.p_max <= 1,
                 "distance dropout needs 0 <= z_start < z_end <= 1000 and 0 <= p_max <= 1")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        out = z.copy()
        far = np.flatnonzero(z > self.z_start)
        p = np.minimum((z.ravel()[far] - self.z_start) / (self.z_end - self.z_start), 1.0) * np.float32(self.p_max)
        out.ravel()[far[rng.random(far.size, dtype=np.float32) < p]] = 0.0
        return out
