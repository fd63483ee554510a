"""Composable depth-noise stages.

Each stage is a frozen dataclass whose fields are its parameters. ``stage(frame, rng)`` returns a new
(H, W) float32 depth array in metres (0 = invalid) and never mutates its input. Random draws are
float32 and come only from the ``numpy.random.Generator`` passed in (normal draws through
:func:`noise_models.sampling.standard_normal`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from noise_models.sampling import standard_normal
from noise_models.view import DepthView, unit_rays


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
