"""Parameter checks shared by the noise stages: one ValueError line per bad value, and the bounds
that keep each stage's work and buffers finite."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


def require(condition: bool, message: str) -> None:
    """Raise ValueError(``message``) unless ``condition`` holds."""
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


def require_finite(stage) -> None:
    """Every floating-point field of ``stage`` is finite, and a whole number where the field is an ``int``
    (ValueError otherwise). Integers of any size pass: the stages' range checks bound them."""
    for f in dataclasses.fields(stage):
        value = getattr(stage, f.name)
        if isinstance(value, (float, np.floating)):
            require(math.isfinite(value), f"{f.name} must be a finite number, got {value}")
            if f.type == "int":
                require(float(value).is_integer(), f"{f.name} must be a whole number, got {value}")
