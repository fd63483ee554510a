"""The objective of a noise fit: the realism distance of a noise preset with given parameters.

:class:`NoiseObjective` takes a parameter mapping, builds ``noise_models.make(preset, params)``, adds that
noise to a fixed set of clean generated frames (:mod:`synthcam.fit_frames`) and returns the realism
distance (:func:`synthcam.realism.compare` ``.score()``) between those noisy frames and the real ones.
Every stage of every frame draws from its own fixed seed (common random numbers, :func:`stage_seed`), so
the objective is a deterministic function of the parameters. The search over it is
:func:`synthcam.noise_fit.fit_noise`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

import noise_models
from noise_models.errors import NoiseConfigError
from synthcam_core.camera import Intrinsics
from synthcam_core.frame import Frame

PENALTY = 1e6
"""Objective value of parameters a stage refuses (e.g. incidence theta0 above theta1), or whose distance is
not finite (a measure with nothing to compare): worse than any fit."""


def stage_seed(seed: int, frame_index: int, stage: str) -> np.random.Generator:
    """The fixed generator of one stage on one frame (common random numbers across evaluations)."""
    return np.random.default_rng([seed, frame_index, zlib.crc32(stage.encode())])


def apply_noise(model: noise_models.NoiseModel, frame: Frame, frame_index: int, seed: int) -> np.ndarray:
    """(H, W) float32 noisy depth of ``frame``: ``model``'s stages in order, each drawing from
    :func:`stage_seed`, so a changed parameter of one stage leaves the others' draws alone."""
    depth = frame.depth
    for name, stage in model.stages.items():
        depth = stage(dataclasses.replace(frame, depth=depth), stage_seed(seed, frame_index, name))
    return depth


class NoiseObjective:
    """The realism distance of ``preset`` with given parameters, on fixed clean frames, to real statistics.

    clean : the clean frames (rendered with the normals or incidence ``preset`` needs).
    real : :class:`synthcam.realism.RealismStats` of the real frames, measured once.
    intrinsics : the camera of ``clean`` (the real folder's).
    with_reference : measure generated frames with their clean depth as reference (when the real frames
        have filled partners, as ``synthcam realism`` does).
    seed : seed of the per-frame, per-stage noise draws. measures : what ``score`` sums (None: all rows).
    Evaluations are cached by parameter values; :attr:`evaluations` counts distinct ones.
    """

    def __init__(
        self,
        preset: str,
        clean: Sequence[Frame],
        real: Any,
        intrinsics: Intrinsics,
        with_reference: bool,
        seed: int = 0,
        measures: Sequence[str] | None = None,
    ):
        noise_models.make(preset)
        self.preset, self.clean, self.real, self.intrinsics = preset, tuple(clean), real, intrinsics
        self.with_reference, self.seed, self.measures = with_reference, seed, measures
        self.evaluations = 0
        self._cache: dict[str, tuple[float, Any]] = {}

    def report(self, params: dict[str, float]) -> Any:
        """The :class:`synthcam.realism.RealismReport` of ``params`` (None where a stage refuses them)."""
        return self._evaluate(params)[1]

    def __call__(self, params: dict[str, float]) -> float:
        """The distance (>= 0) of ``params``; :data:`PENALTY` where a stage refuses them."""
        return self._evaluate(params)[0]

    def cached(self, params: dict[str, float]) -> bool:
        """Whether ``params`` (or parameters building the same model) were evaluated already."""
        return self._key(params) in self._cache

    def _key(self, params: dict[str, float]) -> str:
        try:
            return json.dumps(noise_models.make(self.preset, params).describe(), sort_keys=True)
        except NoiseConfigError:
            return json.dumps(sorted(params.items()))

    def _evaluate(self, params: dict[str, float]) -> tuple[float, Any]:
        from synthcam.realism import MeasureFrame, compare, measure_frames

        key = self._key(params)
        if key in self._cache:
            return self._cache[key]
        self.evaluations += 1
        try:
            model = noise_models.make(self.preset, params)
        except NoiseConfigError:
            result: tuple[float, Any] = (PENALTY, None)
        else:
            frames = (
                MeasureFrame(apply_noise(model, f, i, self.seed), f.depth if self.with_reference else None)
                for i, f in enumerate(self.clean)
            )
            report = compare(measure_frames(frames, self.intrinsics), self.real)
            score = float(report.score(self.measures))
            result = (score if math.isfinite(score) else PENALTY, report)
        self._cache[key] = result
        return result
