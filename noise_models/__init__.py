"""Depth-sensor noise: composable stages and named presets. Knows nothing of scenes, shards or torch."""

from noise_models.base import Stage
from noise_models.disparity import DisparityNoise, DotPatternWindow, LateralJitter, ProjectorShadow, StereoFOV
from noise_models.distortion import PixelShift, RedwoodDistortion, SmoothDistortion
from noise_models.dropout import DistanceDropout, IncidenceDropout, InvalidBorder, MaterialDropout, RangeGate
from noise_models.errors import NoiseConfigError
from noise_models.presets import PRESETS, NoiseModel, make
from noise_models.smoothing import HoleFill, InverseDepthSmooth
from noise_models.stages import STAGE_TYPES, Compose
from noise_models.tof import FlyingPixels, Multipath, ToFNoise

__all__ = [
    "PRESETS",
    "STAGE_TYPES",
    "Compose",
    "DisparityNoise",
    "DistanceDropout",
    "DotPatternWindow",
    "FlyingPixels",
    "HoleFill",
    "IncidenceDropout",
    "InvalidBorder",
    "InverseDepthSmooth",
    "LateralJitter",
    "MaterialDropout",
    "Multipath",
    "NoiseConfigError",
    "NoiseModel",
    "PixelShift",
    "ProjectorShadow",
    "RangeGate",
    "RedwoodDistortion",
    "SmoothDistortion",
    "Stage",
    "StereoFOV",
    "ToFNoise",
    "make",
]
