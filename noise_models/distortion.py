"""Stages that move depth by a spatially smooth or blocky error: PrimeSense pixel shift, the Redwood
distortion table (Choi et al. 2015) and a smooth random low-frequency field."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from noise_models.base import Stage
from noise_models.checks import MAX_KERNEL_PX, MAX_SIGMA_PX, require, require_finite
from noise_models.sampling import standard_normal
from noise_models.view import DepthView


@dataclass(frozen=True)
class PixelShift(Stage):
    """Redwood-style resampling: each pixel reads the depth at a nearest-neighbour position shifted by
    N(0, sigma_px^2), snapped to ``block`` x ``block`` cells (PrimeSense half-resolution blockiness)."""

    sigma_px: float = 0.25
    block: int = 2

    def __post_init__(self):
        require_finite(self)
        require(
            0 <= self.sigma_px <= MAX_SIGMA_PX and 1 <= self.block <= MAX_KERNEL_PX,
            "shift needs sigma_px >= 0 and block >= 1 (at most 64 pixels each)",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        h, w = z.shape
        shift = standard_normal(rng, (2, h, w))
        ys = np.clip(np.rint(np.arange(h, dtype=np.float32)[:, None] + self.sigma_px * shift[0]), 0, h - 1).astype(
            np.int64
        )
        xs = np.clip(np.rint(np.arange(w, dtype=np.float32)[None, :] + self.sigma_px * shift[1]), 0, w - 1).astype(
            np.int64
        )
        k = max(int(self.block), 1)
        return z[ys - ys % k, xs - xs % k]


@dataclass(frozen=True)
class RedwoodDistortion(Stage):
    """Low-frequency, depth-dependent distortion from the Redwood table (Choi et al. 2015): z' = z / f(x, y, z),
    with f from an 80 x 80 grid over a 640x480 image and depth bins at 1, 3, 5, 7, 9 m, linearly interpolated
    (held below 1 m and above 9 m); cells with f < 1e-5 (the sensor's border) become invalid."""

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        cells = redwood_cells(*z.shape)  # (h * w, 5)
        pos = np.clip((z.ravel() - np.float32(1.0)) * np.float32(0.5), 0.0, 4.0)
        i0 = np.minimum(pos.astype(np.int64), 3)
        a = pos - i0
        flat = np.arange(z.size) * 5 + i0
        f = ((1 - a) * cells.ravel()[flat] + a * cells.ravel()[flat + 1]).reshape(z.shape)
        ok = (f >= 1e-5) & (z > 0)
        return np.divide(z, f, out=np.zeros_like(z), where=ok)


@lru_cache(maxsize=4)
def redwood_cells(h: int, w: int) -> np.ndarray:
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

    with resources.files("noise_models").joinpath("data").joinpath("redwood-depth-dist-model.npy").open("rb") as fh:
        table = np.load(fh).astype(np.float32).reshape(80, 80, 5)
    table.flags.writeable = False
    return table


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
        require_finite(self)
        require(
            0 <= self.amplitude <= 1 and 0 < self.length <= 1,
            "distortion needs 0 <= amplitude <= 1 (1/m) and 0 < length <= 1",
        )

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
        field = up[off : off + h, off : off + w] * np.float32(self.amplitude / BICUBIC_STD)
        out = z + field * z * z
        out[z <= 0] = 0.0
        return np.maximum(out, 0.0, out=out)


def _bicubic_std() -> float:
    """Root-mean-square gain of OpenCV's bicubic interpolation (a = -0.75) on an iid unit-variance grid."""
    t = (np.arange(4096) + 0.5) / 4096
    a = -0.75

    def kernel(x):
        x = np.abs(x)
        return np.where(
            x <= 1,
            (a + 2) * x**3 - (a + 3) * x**2 + 1,
            np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0),
        )

    s = sum(kernel(t - k) ** 2 for k in (-1, 0, 1, 2))  # variance in 1-D at fractional offset t
    return float(np.mean(s))  # the 2-D variance averaged over (tx, ty) is (mean s)^2; its root is mean s


#: RMS gain of the bicubic upsampling, which :class:`SmoothDistortion` divides out to keep F at unit variance.
BICUBIC_STD = _bicubic_std()
