"""Composable depth-noise stages: :class:`Compose`, and the registry of every stage type.

Each stage is a frozen dataclass whose fields are its parameters (the contract is
:class:`noise_models.base.Stage`). The stages live by sensor physics:

- :mod:`noise_models.dropout`: invalidation only (range gate, grazing incidence, materials, image border,
  far-surface dropout);
- :mod:`noise_models.disparity`: structured light and active stereo (jitter, disparity lattice noise,
  projector shadow, the stereo pair's unseen band, the dot-pattern window test);
- :mod:`noise_models.distortion`: PrimeSense pixel shift, the Redwood table, a smooth random field;
- :mod:`noise_models.tof`: time of flight (axial noise, flying pixels, multipath);
- :mod:`noise_models.smoothing`: NYUv2-style hole filling and edge-preserving smoothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from noise_models.base import Stage
from noise_models.disparity import DisparityNoise, DotPatternWindow, LateralJitter, ProjectorShadow, StereoFOV
from noise_models.distortion import PixelShift, RedwoodDistortion, SmoothDistortion
from noise_models.dropout import DistanceDropout, IncidenceDropout, InvalidBorder, MaterialDropout, RangeGate
from noise_models.smoothing import HoleFill, InverseDepthSmooth
from noise_models.tof import FlyingPixels, Multipath, ToFNoise
from noise_models.view import DepthView


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


#: Explicit registry of every noise stage type, by class name (the ``type`` of :meth:`NoiseModel.describe`).
STAGE_TYPES: dict[str, type[Stage]] = {
    cls.__name__: cls
    for cls in (
        RangeGate,
        IncidenceDropout,
        MaterialDropout,
        InvalidBorder,
        DistanceDropout,
        LateralJitter,
        DisparityNoise,
        ProjectorShadow,
        StereoFOV,
        DotPatternWindow,
        PixelShift,
        RedwoodDistortion,
        SmoothDistortion,
        ToFNoise,
        FlyingPixels,
        Multipath,
        HoleFill,
        InverseDepthSmooth,
    )
}
