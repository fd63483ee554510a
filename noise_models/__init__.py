"""Depth-sensor noise: composable stages and named presets. Knows nothing of scenes, shards or torch."""

from noise_models.errors import NoiseConfigError
from noise_models.presets import PRESETS, NoiseModel, make
from noise_models.smoothing import InverseDepthSmooth
from noise_models.stages import (Compose, DisparityNoise, DistanceDropout, DotPatternWindow, FlyingPixels, HoleFill,
                                 IncidenceDropout, InvalidBorder, LateralJitter, MaterialDropout, Multipath, PixelShift,
                                 ProjectorShadow, RangeGate, RedwoodDistortion, SmoothDistortion, Stage, StereoFOV, ToFNoise)

__all__ = ["PRESETS", "Compose", "DisparityNoise", "DistanceDropout", "DotPatternWindow", "FlyingPixels", "HoleFill",
           "IncidenceDropout", "InvalidBorder", "InverseDepthSmooth", "LateralJitter", "MaterialDropout", "Multipath", "NoiseConfigError",
           "NoiseModel", "PixelShift", "ProjectorShadow", "RangeGate", "RedwoodDistortion", "SmoothDistortion", "Stage",
           "StereoFOV", "ToFNoise", "make"]
