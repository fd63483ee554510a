"""Stages that invalidate pixels without moving any depth: the range gate, grazing incidence, IR-unfriendly
materials, the image border and far-surface dropout (every sensor family uses some of them)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from noise_models.base import Stage, incidence_cosine
from noise_models.checks import MAX_DEPTH_M, require, require_finite
from noise_models.view import DepthView


@dataclass(frozen=True)
class RangeGate(Stage):
    """Invalidate depth outside ``[z_min, z_max]`` metres (sensor blind zone and maximum range)."""

    z_min: float = 0.5
    z_max: float = 4.5

    def __post_init__(self):
        require_finite(self)
        require(0 <= self.z_min < self.z_max <= MAX_DEPTH_M, "range needs 0 <= z_min < z_max <= 1000 (metres)")

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
        require_finite(self)
        require(0 <= self.theta0_deg < self.theta1_deg <= 90, "incidence needs 0 <= theta0_deg < theta1_deg <= 90")

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        cos = incidence_cosine(frame)
        c0, c1 = np.float32(np.cos(np.radians(self.theta0_deg))), np.float32(np.cos(np.radians(self.theta1_deg)))
        out = frame.depth.copy()
        ramp = np.flatnonzero(cos < c0)  # only pixels with a non-zero drop probability draw a number
        p_drop = np.minimum((c0 - cos.ravel()[ramp]) / (c0 - c1), np.float32(1.0))
        out.ravel()[ramp[rng.random(ramp.size, dtype=np.float32) < p_drop]] = 0.0
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
        require_finite(self)
        require(
            all(0 <= v < 0.5 for v in (self.left, self.right, self.top, self.bottom)),
            "border fractions must lie in [0, 0.5)",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        out = frame.depth.copy()
        h, w = out.shape
        le, r = int(round(self.left * w)), int(round(self.right * w))
        t, b = int(round(self.top * h)), int(round(self.bottom * h))
        out[:, :le] = 0.0
        out[:, w - r :] = 0.0
        out[:t] = 0.0
        out[h - b :] = 0.0
        return out


@dataclass(frozen=True)
class DistanceDropout(Stage):
    """Weak-projector dropout on far surfaces: p_drop rises linearly from 0 at ``z_start`` to ``p_max``
    at ``z_end`` metres and stays there beyond."""

    z_start: float = 3.0
    z_end: float = 6.0
    p_max: float = 0.3

    def __post_init__(self):
        require_finite(self)
        require(
            0 <= self.z_start < self.z_end <= MAX_DEPTH_M and 0 <= self.p_max <= 1,
            "distance dropout needs 0 <= z_start < z_end <= 1000 and 0 <= p_max <= 1",
        )

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:
        z = frame.depth
        out = z.copy()
        far = np.flatnonzero(z > self.z_start)
        p = np.minimum((z.ravel()[far] - self.z_start) / (self.z_end - self.z_start), 1.0) * np.float32(self.p_max)
        out.ravel()[far[rng.random(far.size, dtype=np.float32) < p]] = 0.0
        return out
