"""Fast float32 random draws for per-pixel noise.

``standard_normal`` draws N(0, 1) by inverse-transform sampling through a table of 65,536
equiprobable normal quantiles indexed by uniform 16-bit integers from the given Generator. It is
about 4x faster than ``Generator.standard_normal(dtype=float32)`` for image-sized arrays; the table
is rescaled to unit variance, and its tails stop at 4.3 sigma (probability 1.7e-5 per draw), which no
sensor statistic we model can see.
"""

from __future__ import annotations

import statistics
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    dist = statistics.NormalDist()
    table = np.array([dist.inv_cdf((k + 0.5) / 65536.0) for k in range(65536)], dtype=np.float64)
    table /= table.std()
    out = table.astype(np.float32)
    out.flags.writeable = False
    return out


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Array of ``shape`` float32 draws from N(0, 1), using only ``rng``."""
    return np.take(_normal_table(), rng.integers(0, 65536, shape, dtype=np.uint16))
