"""Composable depth-noise stages.

Each stage is a frozen dataclass whose fields are its parameters. ``stage(frame, rng)`` returns a new
(H, W) float32 depth array in metres (0 = invalid) and never mutates its input. Random draws are
float32 and come only from the ``numpy.random.Generator`` passed in (normal draws through
:func:`noise_models.sampling.standard_normal`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from noise_models.sampling import standard_normal
from noise_models.view import DepthView, unit_rays


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class Stage:
    """Base class: subclasses implement ``__call__(frame, rng) -> depth``."""

    needs_normals: bool = False

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class RangeGate(Stage):
    """Invalidate depth outside ``[z_min, z_max]`` metres (sensor blind zone and maximum range)."""

    z_min: float = 0.5
    z_max: float = 4.5

    def __post_init__(self):
        _require(0 <= self.z_min < self.z_max, "range needs 0 <= z_min < z_max (metres)")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        return np.where((z >= self.z_min) & (z <= self.z_max), z, np.float32(0.0)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class IncidenceDropout(Stage):
    """Drop pixels seen at grazing incidence.

    theta is the angle between the surface normal and the viewing ray. The drop probability is 0 below
    ``theta0_deg``, rises linearly to 1 at ``theta1_deg`` and stays 1 beyond (SceneNet cuts at 82 deg).
    """

    theta0_deg: float = 70.0
    theta1_deg: float = 82.0
    needs_normals = True

    def __post_init__(self):
        _require(0 <= self.theta0_deg < self.theta1_deg <= 90, "incidence needs 0 <= theta0_deg < theta1_deg <= 90")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        if frame.normals is None:
            raise ValueError("IncidenceDropout needs per-pixel normals; render with normals=True")
        n, r = frame.normals, unit_rays(frame.intrinsics)
        cos = np.abs(n[..., 0] * r[..., 0] + n[..., 1] * r[..., 1] + n[..., 2] * r[..., 2])
        c0, c1 = np.float32(np.cos(np.radians(self.theta0_deg))), np.float32(np.cos(np.radians(self.theta1_deg)))
        out = frame.depth.copy()
        ramp = np.flatnonzero(cos < c0)  # only pixels with a non-zero drop probability draw a number
        p_drop = np.minimum((c0 - cos.ravel()[ramp]) / (c0 - c1), np.float32(1.0))
        out.ravel()[ramp[rng.random(ramp.size, dtype=np.float32) < p_drop]] = 0.0
        return out


@dataclass(frozen=True)
class LateralJitter(Stage):
    """Resample inverse depth bilinearly at pixel positions shifted by N(0, sigma_px^2) in x and y.

    A pixel becomes invalid if any of its four bilinear taps is invalid.
    """

    sigma_px: float = 0.5

    def __post_init__(self):
        _require(self.sigma_px >= 0, "jitter needs sigma_px >= 0")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        h, w = z.shape
        shift = standard_normal(rng, (2, h, w))
        shift *= np.float32(self.sigma_px)
        shift[0] += np.arange(w, dtype=np.float32)[None, :]
        shift[1] += np.arange(h, dtype=np.float32)[:, None]
        valid = (z > 0).astype(np.float32)
        inv = np.divide(1.0, z, out=np.zeros_like(z), where=z > 0)
        inv_s = cv2.remap(inv, shift[0], shift[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid_s = cv2.remap(valid, shift[0], shift[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ok = (valid_s > 0.9999) & (inv_s > 0)
        return np.divide(1.0, inv_s, out=np.zeros_like(z), where=ok)


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
        _require(min(self.focal_px, self.baseline_m, self.subpixel) > 0 and self.sigma_units >= 0,
                 "disparity needs focal_px, baseline_m, subpixel > 0 and sigma_units >= 0")

    @property
    def lattice(self) -> float:
        """F in 1/m: disparity units per inverse metre."""
        return self.focal_px * self.baseline_m * self.subpixel

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        f = np.float32(self.lattice)
        k = np.divide(f, z, out=np.zeros_like(z), where=z > 0)
        noise = standard_normal(rng, z.shape)
        noise *= np.float32(self.sigma_units)
        k += noise
        np.rint(k, out=k)
        return np.divide(f, k, out=np.zeros_like(z), where=(k >= 1) & (z > 0))


@dataclass(frozen=True)
class Compose(Stage):
    """Apply stages in order; itself a stage."""

    stages: tuple[Stage, ...] = ()

    @property
    def needs_normals(self) -> bool:  # type: ignore[override]
        return any(s.needs_normals for s in self.stages)

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
        _require(self.baseline_m >= 0 and self.side in (-1.0, 1.0), "shadow needs baseline_m >= 0 and side -1 or 1")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        d = np.divide(np.float32(frame.intrinsics.fx * self.baseline_m), z, out=np.zeros_like(z), where=z > 0)
        u = np.arange(z.shape[1], dtype=np.float32)
        if self.side < 0:  # mirror the rows so the scan always runs towards the emitter
            d, u = d[:, ::-1], u
        g = d - u[None, :]
        g[d <= 0] = -np.inf
        # Largest g strictly to the right of each pixel: reverse cumulative max, shifted by one.
        right = np.maximum.accumulate(g[:, ::-1], axis=1)[:, ::-1]
        blocker = np.full_like(g, -np.inf)
        blocker[:, :-1] = right[:, 1:]
        shadow = blocker > g + 1e-4
        if self.side < 0:
            shadow = shadow[:, ::-1]
        return np.where(shadow, np.float32(0.0), z)


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
        p_drop = lut[labels]
        hit = np.flatnonzero(p_drop > 0)
        out = frame.depth.copy()
        out.ravel()[hit[rng.random(hit.size, dtype=np.float32) < p_drop.ravel()[hit]]] = 0.0
        return out


@dataclass(frozen=True)
class InvalidBorder(Stage):
    """Invalidate bands at the image border, given as fractions of width and height (Kinect v1 at 640x480:
    left 8 px, right 16 px, top and bottom 12 px)."""

    left: float = 8 / 640
    right: float = 16 / 640
    top: float = 12 / 480
    bottom: float = 12 / 480

    def __post_init__(self):
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
        _require(self.sigma_px >= 0 and self.block >= 1, "shift needs sigma_px >= 0 and block >= 1")

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
        _require(self.sigma_px > 0, "fill needs sigma_px > 0")

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
