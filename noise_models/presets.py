"""Named sensor presets: ordered, named stages with their default parameters.

``make("kinect_v1", {"disparity.sigma_units": 0.3})`` builds a preset with overrides given as
``"<stage>.<field>": value``. Unknown presets, stages or fields raise :class:`NoiseConfigError`
listing the valid choices; so does a value that is not a finite number (a whole number for integer
fields) or lies outside its stage's range (each stage checks its own; :mod:`noise_models.stages` lists
the stages' modules).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

from noise_models.base import Stage
from noise_models.disparity import DisparityNoise, DotPatternWindow, LateralJitter, ProjectorShadow, StereoFOV
from noise_models.distortion import PixelShift, RedwoodDistortion, SmoothDistortion
from noise_models.dropout import DistanceDropout, IncidenceDropout, InvalidBorder, MaterialDropout, RangeGate
from noise_models.errors import NoiseConfigError
from noise_models.smoothing import HoleFill, InverseDepthSmooth
from noise_models.stages import Compose
from noise_models.tof import FlyingPixels, Multipath, ToFNoise


def _none() -> dict[str, Stage]:
    return {}


def _kinect_v1() -> dict[str, Stage]:
    """Kinect v1 structured light as NYUv2 ``rawDepths`` (SceneNet / ICL-NUIM style stages), measured
    against the real NYUv2 raw frames (``synthcam realism``, BENCHMARKS.md "Realism"):

    - ``range`` 0.5-8 m: the 4.5 m gate of the published presets blanked every far wall (66 % of a
      small dataset missing, against 23-37 % in NYUv2 raw); a noise fit on NYUv2 raw put the gate at
      7.8-8.7 m, and SUN RGB-D's raw frames hold valid depth to 8 m.
    - ``incidence`` 84-88 deg (was 70-82, SceneNet's cut): the fit against the real frames' missing
      fraction, hole sizes and missing-by-depth; the real frames win over the published cut.
    - ``border``: the unregistered border measured on the two raw frames (38, 38, 43 and 9 px at
      640x480), 21 % of the image, against 8.6 % before.
    - ``jitter`` 0 px (was 0.5 px; kept as a parameter): with 0.5 px the share of equal-depth neighbours fell to
      48 % (real 54 %) and the second differences rose further (28 mm against the real 3.4 mm).
    - ``disparity`` keeps Khoshelham's 0.41 units (the axial noise curve of ``synthcam bench noise``);
      the real frames' second differences are smaller still (3.4 mm against 25 mm), which NYUv2's
      registration of raw depth to the colour camera smooths; not modelled.
    """
    return {
        "range": RangeGate(z_min=0.5, z_max=8.0),
        "shadow": ProjectorShadow(baseline_m=0.075),
        "incidence": IncidenceDropout(theta0_deg=84.0, theta1_deg=88.0),
        "material": MaterialDropout(),
        "jitter": LateralJitter(sigma_px=0.0),
        "disparity": DisparityNoise(focal_px=585.6, baseline_m=0.075, subpixel=8.0, sigma_units=0.41),
        "border": InvalidBorder(left=38 / 640, right=38 / 640, top=43 / 480, bottom=9 / 480),
    }


def _kinect_v1_filled() -> dict[str, Stage]:
    """Kinect v1 with NYUv2-style hole filling (as the labelled set's in-painted ``depths``): holes
    filled, then the whole frame smoothed edge-preservingly (``smooth``, as NYUv2's in-painting solve
    averages measured pixels with their neighbours). Measured against the 12 filled NYUv2 frames: mean
    second difference 6.8 mm and 25 % equal-depth neighbours (real 6.3 mm and 27 %), against 20 mm and
    52 % with the holes filled and nothing else (``noise_models.smoothing``)."""
    return {**_kinect_v1(), "fill": HoleFill(), "smooth": InverseDepthSmooth(sigma_px=1.5, sigma_inv=0.003)}


def _redwood() -> dict[str, Stage]:
    """PrimeSense model of Choi et al. 2015 as in Habitat-Sim: shift, 2x2 blocks, distortion table,
    disparity noise on a 281.04/m lattice (35.130 * 8)."""
    return {
        "shift": PixelShift(sigma_px=0.25, block=2),
        "range": RangeGate(z_min=0.0, z_max=10.0),
        "distortion": RedwoodDistortion(),
        "disparity": DisparityNoise(focal_px=468.4, baseline_m=0.075, subpixel=8.0, sigma_units=0.222),
    }


def _kinect_v1_dots() -> dict[str, Stage]:
    """Kinect v1 with the structured-light window test on a generated dot pattern (SceneNet's filter):
    edge holes, slope holes and ~3 px piecewise-constant blobs; slower. Keeps SceneNet's range (4.5 m),
    grazing cut (70-82 deg), 0.5 px jitter and small border, as published: a faithful copy of that
    simulator rather than of the NYUv2 frames (``kinect_v1`` is the measured one)."""
    stages = _kinect_v1()
    return {
        "range": RangeGate(z_min=0.5, z_max=4.5),
        "shadow": stages["shadow"],
        "incidence": IncidenceDropout(theta0_deg=70.0, theta1_deg=82.0),
        "material": stages["material"],
        "jitter": LateralJitter(sigma_px=0.5),
        "window": DotPatternWindow(baseline_m=0.075),
        "disparity": stages["disparity"],
        "border": InvalidBorder(left=8 / 640, right=16 / 640, top=12 / 480, bottom=12 / 480),
    }


def _kinect_v2() -> dict[str, Stage]:
    """Kinect v2 time of flight: no projector shadow; multipath at concave corners, Fankhauser axial
    noise, flying pixels at depth edges. ``distortion.amplitude`` (1/m) switches on a smooth random
    low-frequency error (off by default: no measured magnitude).

    Measured against SUN RGB-D's raw Kinect v2 frames (``synthcam realism``, BENCHMARKS.md "Realism";
    a noise fit of the stages below on 48 generated frames): valid depth reaches 8 m there, so the range
    gate is 0.5-8 m (was libfreenect2's 4.5 m) and far surfaces fade instead, dropped with a probability
    rising from 0 at 2.5 m to 0.6 at 5 m (``far``; the real frames miss 20-30 % below 4 m and 50-60 %
    beyond; the fit's 0.8 overshot the missing fraction by depth on the NYUv2 camera, 0.6 keeps both it
    and the missing fraction within tolerance); grazing cut 68-85 deg (was 75-85); the registered
    frames' invalid border, 4.6 % left, 5.5 % right and 2.5 % top (the real frames' border fades
    gradually, a band is its mean); flying pixels at 80 % of depth edges (was 50 %).
    """
    return {
        "range": RangeGate(z_min=0.5, z_max=8.0),
        "incidence": IncidenceDropout(theta0_deg=68.0, theta1_deg=85.0),
        "material": MaterialDropout(),
        "far": DistanceDropout(z_start=2.5, z_end=5.0, p_max=0.6),
        "multipath": Multipath(gain=0.02),
        "distortion": SmoothDistortion(amplitude=0.0),
        "tof": ToFNoise(),
        "flying": FlyingPixels(jump_m=0.1, probability=0.8),
        "border": InvalidBorder(left=0.046, right=0.055, top=0.025, bottom=0.0),
    }


def _d435() -> dict[str, Stage]:
    """RealSense D435 active stereo referenced to the left imager (baseline 50 mm to the right): occlusion
    holes left of foreground objects, a depth-dependent invalid band at the left border, disparity noise of
    0.08 px (Intel's RMS formula at f = 425 px) on a 1/32-px lattice, weak-projector dropout when far."""
    return {
        "range": RangeGate(z_min=0.3, z_max=6.0),
        "shadow": ProjectorShadow(baseline_m=0.05),
        "fov": StereoFOV(baseline_m=0.05),
        "incidence": IncidenceDropout(theta0_deg=72.0, theta1_deg=84.0),
        "material": MaterialDropout(),
        "far": DistanceDropout(z_start=3.0, z_end=6.0, p_max=0.3),
        "jitter": LateralJitter(sigma_px=0.5),
        "distortion": SmoothDistortion(amplitude=0.0),
        "disparity": DisparityNoise(focal_px=425.0, baseline_m=0.05, subpixel=32.0, sigma_units=0.08 * 32),
    }


#: Explicit registry of presets by name.
PRESETS: dict[str, Callable[[], dict[str, Stage]]] = {
    "none": _none,
    "kinect_v1": _kinect_v1,
    "kinect_v1_filled": _kinect_v1_filled,
    "kinect_v1_dots": _kinect_v1_dots,
    "redwood": _redwood,
    "kinect_v2": _kinect_v2,
    "d435": _d435,
}


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """A built preset: its name, its named stages and the composed callable."""

    name: str
    stages: dict[str, Stage]

    @property
    def pipeline(self) -> Compose:
        return self._pipeline  # type: ignore[attr-defined]

    @property
    def needs_normals(self) -> bool:
        """Whether a stage reads per-pixel normals (render with ``normals=True``)."""
        return self.pipeline.needs_normals

    @property
    def needs_incidence(self) -> bool:
        """Whether a stage reads the incidence angle only (render with ``incidence=True``, which is
        cheaper than normals on the ``gl`` backend; normals serve too)."""
        return self.pipeline.needs_incidence

    def __call__(self, frame, rng):
        """New (H, W) float32 depth in metres (0 = invalid); ``frame`` is not modified."""
        return self.pipeline(frame, rng)

    def __post_init__(self):
        object.__setattr__(self, "_pipeline", Compose(tuple(self.stages.values())))

    def describe(self) -> dict:
        """JSON-friendly description: preset name and every stage's class and parameters."""
        return {
            "preset": self.name,
            "stages": {k: {"type": type(s).__name__, **dataclasses.asdict(s)} for k, s in self.stages.items()},
        }


def make(name: str, params: Mapping[str, float] | None = None) -> NoiseModel:
    """Build preset ``name`` with ``params`` overrides (``"stage.field" -> value``)."""
    if name not in PRESETS:
        raise NoiseConfigError(f"unknown noise preset {name!r}; valid presets: {', '.join(PRESETS)}")
    stages = PRESETS[name]()
    valid = [f"{s}.{f.name}" for s, st in stages.items() for f in dataclasses.fields(st)]
    changes: dict[str, dict[str, float]] = {}
    for key, value in (params or {}).items():
        stage_name, _, field = key.partition(".")
        if stage_name not in stages or field not in {f.name for f in dataclasses.fields(stages[stage_name])}:
            raise NoiseConfigError(
                f"unknown parameter {key!r} for preset {name!r}; valid parameters: {', '.join(valid) or 'none'}"
            )
        kind = next(f.type for f in dataclasses.fields(stages[stage_name]) if f.name == field)
        if kind not in ("float", "int", float, int):
            raise NoiseConfigError(
                f"parameter {key!r} is not a number and cannot be overridden; valid parameters: {', '.join(valid)}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise NoiseConfigError(f"parameter {key!r} needs a number, got {value!r}") from None
        if not math.isfinite(number):
            raise NoiseConfigError(f"parameter {key!r} must be a finite number, got {value!r}")
        if kind in ("int", int):
            if not number.is_integer():
                raise NoiseConfigError(f"parameter {key!r} must be a whole number, got {value!r}")
            number = int(number)
        changes.setdefault(stage_name, {})[field] = number
    for stage_name, fields in changes.items():  # a stage's fields change together, so their checks see all of them
        try:
            stages[stage_name] = dataclasses.replace(stages[stage_name], **fields)
        except ValueError as exc:
            shown = ", ".join(f"{stage_name}.{k}={v:g}" for k, v in fields.items())
            raise NoiseConfigError(f"parameter {shown}: {exc}") from None
    return NoiseModel(name, stages)
