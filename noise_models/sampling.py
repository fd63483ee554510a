"""Fast float32 random draws for per-pixel noise.

Two samplers, both using only the ``numpy.random.Generator`` passed in:

- :func:`standard_normal` draws N(0, 1) by inverse-transform sampling through a table of 65,536
  equiprobable normal quantiles indexed by uniform 16-bit integers. It is about 4x faster than
  ``Generator.standard_normal(dtype=float32)``; the table is rescaled to unit variance and its tails
  stop at 4.3 sigma (probability 1.7e-5 per draw), which no sensor statistic we model can see.
- :func:`coarse_normal` draws ``scale * N(0, 1)`` from 256 equiprobable quantiles indexed by random
  bytes (an OpenCV lookup table; about 6x faster again). Its tails stop at 2.9 sigma and its variance
  is exactly ``scale**2``. It serves the hot per-pixel draws (lateral shifts that are interpolated on a
  1/32-pixel grid anyway, disparity noise that is rounded to whole lattice units right after).
"""

from __future__ import annotations

import statistics
from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=2)
def _quantiles(levels: int) -> np.ndarray:
    dist = statistics.NormalDist()
    table = np.array([dist.inv_cdf((k + 0.5) / levels) for k in range(levels)], dtype=np.float64)
    return table / table.std()


@lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    out = _quantiles(65536).astype(np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=32)
def _byte_table(scale: float) -> np.ndarray:
    out = (_quantiles(256) * scale).astype(np.float32).reshape(1, 256)
    out.flags.writeable = False
    return out


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Array of ``shape`` float32 draws from N(0, 1), using only ``rng``."""
    return np.take(_normal_table(), rng.integers(0, 65536, shape, dtype=np.uint16))


def random_bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Array of ``shape`` uniform uint8, straight from ``rng``'s bit generator (8 bytes per 64-bit draw)."""
    count = int(np.prod(shape, dtype=np.int64))
    words = rng.bit_generator.random_raw((count + 7) // 8)
    return words.view(np.uint8)[:count].reshape(shape)


def coarse_normal(
    rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0, out: np.ndarray | None = None
) -> np.ndarray:
    """Array of ``shape`` float32 draws of ``scale * N(0, 1)`` from a 256-level quantile table
    (written into ``out``, a C-contiguous float32 array of ``shape``, when given)."""
    raw = random_bytes(rng, shape).reshape(-1, 1)
    if out is None:
        return cv2.LUT(raw, _byte_table(float(scale))).reshape(shape)
    cv2.LUT(raw, _byte_table(float(scale)), dst=out.reshape(-1, 1))
    return out
