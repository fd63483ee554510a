"""Named sensor presets: ordered, named stages with their default parameters.

``make("kinect_v1", {"disparity.sigma_units": 0.3})`` builds a preset with overrides given as
``"<stage>.<field>": value``. Unknown presets, stages or fields raise :class:`NoiseConfigError`
listing the valid choices.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from noise_models.errors import NoiseConfigError
from noise_models.stages import (Compose, DisparityNoise, HoleFill, IncidenceDropout, InvalidBorder, LateralJitter,
                                 MaterialDropout, PixelShift, ProjectorShadow, RangeGate, RedwoodDistortion, Stage)


def _none() -> dict[str, Stage]:
    return {}


def _kinect_v1() -> dict[str, Stage]:
    """Kinect v1 structured light (SceneNet / ICL-NUIM style, as NYUv2 ``rawDepths``)."""
    return {
        "range": RangeGate(z_min=0.5, z_max=4.5),
        "shadow": ProjectorShadow(baseline_m=0.075),
        "incidence": IncidenceDropout(theta0_deg=70.0, theta1_deg=82.0),
        "material": MaterialDropout(),
        "jitter": LateralJitter(sigma_px=0.5),
        "disparity": DisparityNoise(focal_px=585.6, baseline_m=0.075, subpixel=8.0, sigma_units=0.41),
        "border": InvalidBorder(),
    }


def _kinect_v1_filled() -> dict[str, Stage]:
    """Kinect v1 with NYUv2-style hole filling (as the labelled set's in-painted ``depths``)."""
    return {**_kinect_v1(), "fill": HoleFill()}


def _redwood() -> dict[str, Stage]:
    """PrimeSense model of Choi et al. 2015 as in Habitat-Sim: shift, 2x2 blocks, distortion table,
    disparity noise on a 281.04/m lattice (35.130 * 8)."""
    return {
        "shift": PixelShift(sigma_px=0.25, block=2),
        "range": RangeGate(z_min=0.0, z_max=10.0),
        "distortion": RedwoodDistortion(),
        "disparity": DisparityNoise(focal_px=468.4, baseline_m=0.075, subpixel=8.0, sigma_units=0.222),
    }


#: Explicit registry of presets by name.
PRESETS: dict[str, Callable[[], dict[str, Stage]]] = {
    "none": _none, "kinect_v1": _kinect_v1, "kinect_v1_filled": _kinect_v1_filled, "redwood": _redwood,
}


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """A built preset: its name, its named stages and the composed callable."""

    name: str
    stages: dict[str, Stage]

    @property
    def pipeline(self) -> Compose:
        return Compose(tuple(self.stages.values()))

    @property
    def needs_normals(self) -> bool:
        return self.pipeline.needs_normals

    def __call__(self, frame, rng):
        """New (H, W) float32 depth in metres (0 = invalid); ``frame`` is not modified."""
        return self.pipeline(frame, rng)

    def describe(self) -> dict:
        """JSON-friendly description: preset name and every stage's class and parameters."""
        return {"preset": self.name, "stages": {k: {"type": type(s).__name__, **dataclasses.asdict(s)} for k, s in self.stages.items()}}


def make(name: str, params: Mapping[str, float] | None = None) -> NoiseModel:
    """Build preset ``name`` with ``params`` overrides (``"stage.field" -> value``)."""
    if name not in PRESETS:
        raise NoiseConfigError(f"unknown noise preset {name!r}; valid presets: {', '.join(PRESETS)}")
    stages = PRESETS[name]()
    for key, value in (params or {}).items():
        stage_name, _, field = key.partition(".")
        valid = [f"{s}.{f.name}" for s, st in stages.items() for f in dataclasses.fields(st)]
        if stage_name not in stages or field not in {f.name for f in dataclasses.fields(stages[stage_name])}:
            raise NoiseConfigError(f"unknown parameter {key!r} for preset {name!r}; valid parameters: {', '.join(valid) or 'none'}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise NoiseConfigError(f"parameter {key!r} needs a number, got {value!r}") from None
        try:
            stages[stage_name] = dataclasses.replace(stages[stage_name], **{field: number})
        except ValueError as exc:
            raise NoiseConfigError(f"parameter {key!r} = {value}: {exc}") from None
    return NoiseModel(name, stages)
