"""The value passed between renderer, noise and writer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthcam_core.camera import Intrinsics


@dataclass(frozen=True)
class Frame:
    """One rendered view.

    depth : (H, W) float32 z-depth in metres, 0 = invalid (no return).
    class40 : (H, W) uint8 NYUv2-40 class id, 0 = void.
    instance : (H, W) uint16 instance id, 0 = none.
    normals : (H, W, 3) float32 unit surface normals in the camera frame, facing the camera, or None.
    pose : (4, 4) float64 camera-to-world.
    intrinsics : the camera.
    incidence : (H, W) float32 |cos theta|, theta the angle between the surface normal and the pixel's
        viewing ray (0 where nothing was hit), or None; what angle-only noise stages read.
    """

    depth: np.ndarray
    class40: np.ndarray
    instance: np.ndarray
    normals: np.ndarray | None
    pose: np.ndarray
    intrinsics: Intrinsics
    incidence: np.ndarray | None = None
