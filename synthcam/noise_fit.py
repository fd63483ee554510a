"""Fitting a noise preset's parameters to a folder of real depth frames.

The objective is :class:`synthcam.noise_objective.NoiseObjective`: the realism distance of the preset with
given parameters on fixed clean generated frames (:mod:`synthcam.fit_frames`), a deterministic function of
the parameters, so two fits of the same inputs agree.

The search (:func:`fit_noise`) is SciPy's bounded Powell method over the parameters scaled to [0, 1]
within their bounds, starting from the preset's defaults, for at most ``max_evals`` evaluations. Which
parameters of a preset matter, and their bounds, is the registry :data:`FIT_PARAMS`; ``--param``
(:func:`parse_fit_params`) names others or other bounds.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import noise_models
from noise_models.errors import NoiseConfigError
from synthcam.noise_objective import PENALTY, NoiseObjective
from synthcam_core.errors import SynthcamError


@dataclass(frozen=True)
class FitParam:
    """One fitted parameter: ``key`` ``"stage.field"`` searched within ``[lo, hi]`` (its units)."""

    key: str
    lo: float
    hi: float

    def value(self, x: float) -> float:
        """The parameter value at unit coordinate ``x`` in [0, 1]."""
        return self.lo + float(np.clip(x, 0.0, 1.0)) * (self.hi - self.lo)

    def unit(self, value: float) -> float:
        """The unit coordinate of ``value`` (clipped into [0, 1])."""
        return float(np.clip((value - self.lo) / (self.hi - self.lo), 0.0, 1.0))


def _p(key: str, lo: float, hi: float) -> FitParam:
    return FitParam(key, float(lo), float(hi))


# Bounds: what a working depth sensor can show indoors. Range gates 3-10 m (Kinect v1 returns depth to
# about 10 m in NYUv2, README of the real frames); incidence thresholds from 30 deg (a threshold below
# would blank floors seen from standing height) to 90; invalid borders up to 10 % of a side (NYUv2's
# unregistered border is 8-16 px of 640); disparity noise up to 2 units (5x Khoshelham's 0.41); lateral
# jitter up to 2 px; time-of-flight noise up to 10 mm at 1 m; flying pixels with any probability.
_RANGE = _p("range.z_max", 3.0, 10.0)
_THETA0, _THETA1 = _p("incidence.theta0_deg", 30.0, 88.0), _p("incidence.theta1_deg", 60.0, 90.0)
_BORDERS = tuple(_p(f"border.{side}", 0.0, 0.1) for side in ("left", "right", "top", "bottom"))
_KINECT_V1 = (_RANGE, _THETA0, _THETA1, *_BORDERS, _p("disparity.sigma_units", 0.0, 2.0))

#: Explicit registry: the parameters fitted by default for each preset, with their bounds.
FIT_PARAMS: dict[str, tuple[FitParam, ...]] = {
    "kinect_v1": _KINECT_V1,
    "kinect_v1_filled": (
        _RANGE,
        _THETA0,
        _THETA1,
        _p("fill.sigma_px", 0.5, 12.0),
        _p("smooth.sigma_px", 0.5, 4.0),
        _p("smooth.sigma_inv", 0.0005, 0.02),
    ),
    "kinect_v1_dots": (_RANGE, _THETA0, _THETA1, *_BORDERS),
    "kinect_v2": (_RANGE, _THETA0, _THETA1, _p("flying.probability", 0.0, 1.0), _p("tof.c0", 0.0, 10.0)),
    "d435": (_RANGE, _THETA0, _THETA1, _p("far.p_max", 0.0, 1.0), _p("disparity.sigma_units", 0.0, 8.0)),
    "redwood": (_RANGE, _p("disparity.sigma_units", 0.0, 2.0), _p("shift.sigma_px", 0.0, 2.0)),
}

#: Further parameters ``--param STAGE.FIELD`` may name without bounds (others need ``=LO:HI``).
KNOWN_BOUNDS: dict[str, FitParam] = {
    p.key: p
    for p in (
        _RANGE,
        _THETA0,
        _THETA1,
        *_BORDERS,
        _p("range.z_min", 0.0, 1.0),
        _p("jitter.sigma_px", 0.0, 2.0),
        _p("disparity.sigma_units", 0.0, 2.0),
        _p("shadow.baseline_m", 0.0, 0.15),
        _p("fill.sigma_px", 0.5, 12.0),
        _p("flying.probability", 0.0, 1.0),
        _p("flying.jump_m", 0.02, 0.5),
        _p("tof.c0", 0.0, 10.0),
        _p("tof.c2", 0.0, 3.0),
        _p("multipath.gain", 0.0, 0.2),
        _p("far.p_max", 0.0, 1.0),
        _p("shift.sigma_px", 0.0, 2.0),
        _p("distortion.amplitude", 0.0, 0.01),
        _p("smooth.sigma_px", 0.5, 4.0),
        _p("smooth.sigma_inv", 0.0005, 0.02),
    )
}

POWELL_OPTIONS = {"xtol": 0.03, "ftol": 1e-3}
"""SciPy Powell options: line searches stop at 3 % of a parameter's range (a finer optimum is noise of the
few frames fitted), and the search when an iteration gains under 0.1 % of the distance."""
SIGNIFICANT = 4
"""Fitted values are rounded to this many significant digits (the file stays readable; a 4th digit of a
range gate is millimetres)."""


def default_value(preset: str, key: str) -> float:
    """The preset's default of ``"stage.field"`` (a float or int field); SynthcamError listing the
    preset's numeric parameters otherwise."""
    model = noise_models.make(preset)
    stage_name, _, name = key.partition(".")
    numeric = [
        f"{s}.{f.name}" for s, st in model.stages.items() for f in dataclasses.fields(st) if f.type in ("float", float)
    ]
    stage = model.stages.get(stage_name)
    field = next((f for f in dataclasses.fields(stage) if f.name == name), None) if stage is not None else None
    if field is None or field.type not in ("float", float):
        what = (
            "is not a parameter" if field is None else "is not a real-valued parameter (whole numbers are not fitted)"
        )
        raise SynthcamError(
            f"--param {key} {what} of preset {preset}; fittable parameters: {', '.join(numeric) or 'none'}"
        )
    return float(getattr(stage, name))


def parse_fit_params(preset: str, specs: Sequence[str] = ()) -> tuple[FitParam, ...]:
    """The parameters to fit: the registry's for ``preset`` when ``specs`` is empty, else each spec
    ``"stage.field"`` (bounds from :data:`KNOWN_BOUNDS`) or ``"stage.field=LO:HI"``. SynthcamError for an
    unknown preset or parameter, bad bounds, a repeated name or a preset without registered parameters."""
    if preset not in noise_models.PRESETS:
        raise SynthcamError(f"unknown noise preset {preset[:40]!r}; valid presets: {', '.join(noise_models.PRESETS)}")
    if not specs:
        if preset not in FIT_PARAMS:
            raise SynthcamError(
                f"preset {preset} has no registered fit parameters (presets with them: "
                f"{', '.join(FIT_PARAMS)}); name some with --param STAGE.FIELD=LO:HI"
            )
        return FIT_PARAMS[preset]
    params: dict[str, FitParam] = {}
    for spec in specs:
        if len(spec) > 120:
            raise SynthcamError(f"--param {spec[:40]!r}... is too long for STAGE.FIELD[=LO:HI], e.g. range.z_max=3:10")
        key, sep, bounds = (s.strip() for s in spec.partition("="))
        default_value(preset, key)
        if key in params:
            raise SynthcamError(f"--param {key} is given twice; name each parameter once")
        if not sep:
            if key not in KNOWN_BOUNDS:
                raise SynthcamError(
                    f"--param {key} has no default bounds; give them as {key}=LO:HI "
                    f"(parameters with default bounds: {', '.join(KNOWN_BOUNDS)})"
                )
            params[key] = KNOWN_BOUNDS[key]
            continue
        lo, colon, hi = bounds.partition(":")
        try:
            lo_f, hi_f = float(lo), float(hi)
        except ValueError:
            lo_f = hi_f = math.nan
        if not colon or not (math.isfinite(lo_f) and math.isfinite(hi_f) and lo_f < hi_f):
            raise SynthcamError(f"--param {spec!r}: bounds must be LO:HI with finite numbers LO < HI, e.g. {key}=3:10")
        _check_bounds_reachable(preset, key, lo_f, hi_f)
        params[key] = FitParam(key, lo_f, hi_f)
    return tuple(params.values())


def _check_bounds_reachable(preset: str, key: str, lo: float, hi: float) -> None:
    """SynthcamError when the stage refuses ``key`` at both bounds and midway (the preset's other parameters at
    their defaults): every trial would be refused and the fit could only keep the defaults."""
    refusals = []
    for value in (lo, (lo + hi) / 2, hi):
        try:
            noise_models.make(preset, {key: value})
            return
        except NoiseConfigError as exc:
            refusals.append(str(exc))
    raise SynthcamError(
        f"--param {key}={lo:g}:{hi:g}: preset {preset} accepts no value in these bounds "
        f"({refusals[0][:120]}); choose bounds inside what the stage accepts"
    )


@dataclass(frozen=True)
class FitResult:
    """What a fit found.

    params : the fitted parameters and bounds. start : the preset's defaults of them. fitted : the values
    found (rounded to :data:`SIGNIFICANT` digits). before, after : realism reports of the preset's
    defaults and of the fitted values; distance_before, distance_after : their scores. evaluations :
    distinct objective evaluations. seconds : wall time of the search.
    """

    preset: str
    params: tuple[FitParam, ...]
    start: dict[str, float]
    fitted: dict[str, float]
    before: Any
    after: Any
    distance_before: float
    distance_after: float
    evaluations: int
    seconds: float


class _Budget(Exception):
    """Raised inside the objective once ``max_evals`` distinct evaluations are spent."""


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


def fit_noise(
    objective: NoiseObjective,
    params: Sequence[FitParam],
    max_evals: int = 150,
    on_eval: Callable[[float, float], None] | None = None,
) -> FitResult:
    """Search ``params`` (scaled to [0, 1] within their bounds) for the least ``objective``, from the
    preset's defaults, with SciPy's bounded Powell method, for at most ``max_evals`` evaluations (the
    defaults' and the final one's included). ``on_eval(distance, best)`` after each new evaluation.
    The fitted values never score worse than the defaults: where nothing better is found, they are kept.
    """
    from scipy.optimize import minimize

    if max_evals < 2:
        raise SynthcamError(f"--max-evals must be at least 2 (the defaults and one trial), got {max_evals}")
    start_time = time.perf_counter()
    preset = objective.preset
    start = {p.key: default_value(preset, p.key) for p in params}
    best: dict[str, Any] = {"score": math.inf, "x": None}
    budget = max_evals - 1  # one evaluation is kept for the rounded result

    def evaluate(values: dict[str, float], limit: int | None = budget) -> float:
        seen = objective.evaluations
        if limit is not None and seen >= limit and not objective.cached(values):
            raise _Budget
        score = objective(values)
        if objective.evaluations > seen and on_eval is not None:
            on_eval(score, min(score, best["score"]))
        return score

    def fun(x: np.ndarray) -> float:
        score = evaluate({p.key: p.value(float(v)) for p, v in zip(params, x)})
        if score < best["score"]:
            best.update(score=score, x=np.array(x, dtype=np.float64))
        return score

    before = evaluate({})
    if before >= PENALTY:
        report = objective.report({})
        chosen = objective.measures or [row.measure for row in report.rows]
        empty = [row.measure for row in report.rows if row.measure in chosen and not math.isfinite(row.distance)]
        raise SynthcamError(
            f"the realism distance of preset {preset}'s defaults cannot be computed: "
            f"{', '.join(empty) or 'a measure'} has nothing to compare on one side; leave it out "
            "with --measures or render more frames (--rooms, --frames-per-room)"
        )
    best["score"] = before
    x0 = np.array([p.unit(start[p.key]) for p in params], dtype=np.float64)
    try:
        minimize(
            fun, x0, method="Powell", bounds=[(0.0, 1.0)] * len(params), options={**POWELL_OPTIONS, "maxfev": budget}
        )
    except _Budget:
        pass
    fitted, after = {}, before
    if best["x"] is not None:
        rounded = {p.key: min(max(_round(p.value(v)), p.lo), p.hi) for p, v in zip(params, best["x"])}
        score = evaluate(rounded, limit=None)
        if score < before:
            fitted, after = rounded, score
    seconds = time.perf_counter() - start_time
    return FitResult(
        preset,
        tuple(params),
        start,
        fitted or dict(start),
        objective.report({}),
        objective.report(fitted),
        before,
        after,
        objective.evaluations,
        seconds,
    )


def fit_measures(names: Sequence[str] | None, folder: Any) -> tuple[str, ...] | None:
    """The realism measures a fit sums (None: every row the report has), checked against what ``folder``
    provides: SynthcamError for an unknown name, labels, or a reference the folder lacks."""
    from synthcam.realism import MEASURES, check_measures

    if not names:
        return None
    chosen = check_measures(names)
    for name in chosen:
        needs = MEASURES[name].needs
        if needs == "labels" or (needs == "reference" and not folder.has_reference):
            what = "labels" if needs == "labels" else "raw frames with filled partners (NAME_depth.png)"
            raise SynthcamError(
                f"measure {name} needs {what}, which a noise fit against {folder.path} does not "
                f"have; leave it out of --measures"
            )
    return chosen


MAX_CLEAN_BYTES = 2 << 30
"""Most memory the clean frames of one fit may hold (they are kept for every evaluation)."""


def check_clean_memory(folder: Any, preset: str, rooms: int, frames_per_room: int) -> int:
    """Bytes the fit's clean frames will hold (depth, labels, instances, and normals or incidence when the
    preset needs them); SynthcamError above :data:`MAX_CLEAN_BYTES`, before anything is rendered."""
    model = noise_models.make(preset)
    per_pixel = 4 + 1 + 2 + (12 if model.needs_normals else 0) + (4 if model.needs_incidence else 0)
    k = folder.intrinsics
    total = rooms * frames_per_room * k.width * k.height * per_pixel
    if total > MAX_CLEAN_BYTES:
        raise SynthcamError(
            f"a fit of {rooms} rooms x {frames_per_room} frames at {k.width}x{k.height} would hold "
            f"{total / 2**30:.1f} GiB of clean frames (at most {MAX_CLEAN_BYTES / 2**30:.0f} GiB); "
            "pass fewer --rooms or --frames-per-room"
        )
    return total


def measure_real(folder: Any) -> tuple[Any, bool]:
    """The realism statistics of a real folder's frames, measured as ``synthcam realism`` measures them, and
    whether they have a reference depth (a filled folder, or raw frames with filled partners)."""
    from synthcam.realism import measure_frames
    from synthcam.realism.sources import real_source

    source = real_source(folder)
    return measure_frames(iter(source), folder.intrinsics), source.has_reference


def fit_to_folder(
    folder: Any,
    preset: str,
    params: Sequence[FitParam],
    rooms: int = 6,
    frames_per_room: int = 4,
    seed: int = 0,
    max_evals: int = 150,
    renderer: str = "raycast",
    measures: Sequence[str] | None = None,
    on_frame: Callable[[int], None] | None = None,
    on_eval: Callable[[float, float], None] | None = None,
    real: tuple[Any, bool] | None = None,
) -> FitResult:
    """Fit ``params`` of ``preset`` to a real folder (:class:`synthcam_core.real_frames.RealFolder`): measure
    its frames once, render ``rooms * frames_per_room`` clean frames of a dataset with master ``seed``
    through its camera (:func:`synthcam.fit_frames.render_clean_frames`) and run :func:`fit_noise`. When
    the folder's raw frames have filled partners, both sides are measured with a reference depth (the
    real filled depth; the generated clean depth), as ``synthcam realism`` does. ``measures``: the rows
    the distance sums (:func:`fit_measures`; None: all). ``real``: :func:`measure_real` of the folder when
    already measured.
    """
    from synthcam.fit_frames import render_clean_frames

    model = noise_models.make(preset)
    check_clean_memory(folder, preset, rooms, frames_per_room)
    real, with_reference = real if real is not None else measure_real(folder)
    clean = render_clean_frames(
        folder.intrinsics,
        rooms,
        frames_per_room,
        seed,
        renderer,
        normals=model.needs_normals,
        incidence=model.needs_incidence,
        on_frame=on_frame,
    )
    objective = NoiseObjective(preset, clean, real, folder.intrinsics, with_reference, seed, measures)
    return fit_noise(objective, params, max_evals, on_eval)


def _short(value: float) -> float:
    """``value`` to 6 significant digits (a distance in a file: stable text, no false precision)."""
    return float(f"{value:.6g}")


def fit_record(
    result: FitResult,
    folder: Any,
    rooms: int,
    frames_per_room: int,
    seed: int,
    max_evals: int,
    renderer: str,
    measures: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The informational ``fit`` mapping of a noise file: what was fitted to which frames, and how well.
    Only inputs and results, no time: the same fit gives the same record."""
    k = folder.intrinsics
    return {
        "tool": "synthcam noise fit",
        "real": str(folder.path.resolve()),
        "real_depth": folder.kind,
        "real_frames": len(folder),
        "intrinsics": {
            "width": k.width,
            "height": k.height,
            "fx": float(k.fx),
            "fy": float(k.fy),
            "cx": float(k.cx),
            "cy": float(k.cy),
        },
        "generated": {"rooms": rooms, "frames_per_room": frames_per_room, "seed": seed, "renderer": renderer},
        "measures": list(measures) if measures else "all",
        "bounds": {p.key: [p.lo, p.hi] for p in result.params},
        "defaults": dict(result.start),
        "distance_before": _short(result.distance_before),
        "distance_after": _short(result.distance_after),
        "evaluations": result.evaluations,
        "max_evals": max_evals,
    }
