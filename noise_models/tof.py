"""Time-of-flight stages (Kinect v2): axial noise, flying pixels at depth edges, multipath at concave corners."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from noise_models.base import Stage, incidence_cosine
from noise_models.checks import MAX_DEPTH_M, MAX_KERNEL_PX, MAX_SAMPLES, require, require_finite
from noise_models.sampling import standard_normal
from noise_models.view import DepthView
from synthcam_core.geometry.rays import unit_rays


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
        require_finite(self)
        require(0 < self.theta_max_deg < 90, "tof needs 0 < theta_max_deg < 90")
        require(
            max(abs(self.c0), abs(self.c1), abs(self.c2), abs(self.c_angle)) <= 1e3,
            "tof needs |c0|, |c1|, |c2|, |c_angle| <= 1000 (mm)",
        )

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
        require_finite(self)
        require(
            0 < self.jump_m <= MAX_DEPTH_M and 0 <= self.probability <= 1 and 1 <= self.radius_px <= MAX_KERNEL_PX,
            "flying needs 0 < jump_m <= 1000, 0 <= probability <= 1 and 1 <= radius_px <= 64",
        )

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
        require_finite(self)
        require(
            0 <= self.gain <= 10 and 0 < self.radius < 0.5 and 1 <= self.samples <= MAX_SAMPLES,
            "multipath needs 0 <= gain <= 10, 0 < radius < 0.5 and 1 <= samples <= 64",
        )

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
        rays = unit_rays_subsampled(
            int(k.width), int(k.height), float(k.fx), float(k.fy), float(k.cx), float(k.cy), step
        )
        points = rays * (z / np.maximum(rays[..., 2], np.float32(1e-6)))[..., None]  # camera-frame points
        rad = max(self.radius * w, 1.0)
        p = int(np.ceil(rad))
        padded = cv2.copyMakeBorder(
            np.dstack([points, z[..., None]]).astype(np.float32), p, p, p, p, cv2.BORDER_REPLICATE
        )
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
def unit_rays_subsampled(width: int, height: int, fx: float, fy: float, cx: float, cy: float, step: int) -> np.ndarray:
    """Unit rays of every ``step``-th pixel (from step // 2), as the pixels of the subsampled image."""
    from types import SimpleNamespace

    rays = unit_rays(SimpleNamespace(width=width, height=height, fx=fx, fy=fy, cx=cx, cy=cy))
    out = np.ascontiguousarray(rays[step // 2 :: step, step // 2 :: step])
    out.flags.writeable = False
    return out
