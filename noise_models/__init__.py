"""Depth-sensor noise: composable stages and named presets. Knows nothing of scenes, shards or torch."""

from noise_models.errors import NoiseConfigError
from noise_models.presets import PRESETS, NoiseModel, make
from noise_models.stages import (Compose, DisparityNoise, HoleFill, IncidenceDropout, InvalidBorder, LateralJitter,
                                 MaterialDropout, PixelShift, ProjectorShadow, RangeGate, RedwoodDistortion, Stage)

__all__ = ["PRESETS", "Compose", "DisparityNoise", "HoleFill", "IncidenceDropout", "InvalidBorder", "LateralJitter",
           "MaterialDropout", "NoiseConfigError", "NoiseModel", "PixelShift", "ProjectorShadow", "RangeGate",
           "RedwoodDistortion", "Stage", "make"]
