"""Accumulated realism statistics of many frames (:class:`RealismStats`) and their one-number summaries.

:func:`measure_frames` streams frames through the measures of :mod:`synthcam.realism.measures`, adding
up each frame's fixed-bin counts, so memory stays that of one frame whatever the frame count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from synthcam.realism.measures import (
    DEPTH_BIN_M,
    EDGE_DISTANCE_EDGES,
    HIST_BIN_M,
    HOLE_BIN_LOG10,
    MEASURES,
    MeasureFrame,
    check_measures,
    measure_one,
)
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

WALL = 12
"""13-class id of ``wall`` (the class_shares summary)."""


@dataclass(frozen=True)
class RealismStats:
    """Statistics of ``frames`` frames of one size, summed over the frames.

    frames : number of frames measured; size : (W, H) in pixels; intrinsics : their camera.
    values : ``{measure: {name: array}}`` of the measures the frames allowed (fixed bins, see
    :mod:`synthcam.realism.measures`); measures needing a reference are absent when a frame lacked
    one, those needing labels cover the labelled frames (their ``frames`` array counts them) and are
    absent when no frame had labels.
    """

    frames: int
    size: tuple[int, int]
    intrinsics: Intrinsics
    values: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)

    @property
    def measures(self) -> tuple[str, ...]:
        return tuple(self.values)

    def summary(self, measure: str) -> float:
        """The one-number summary of ``measure`` (what each measure's docstring names), NaN when the
        frames gave it nothing to summarise."""
        return SUMMARIES[measure](self.values[measure])

    def to_dict(self) -> dict:
        """JSON-ready: frames, size, intrinsics, and per measure its summary and arrays as lists."""
        return {
            "frames": self.frames,
            "size": list(self.size),
            "intrinsics": self.intrinsics.as_array().tolist()[2:],
            "measures": {
                name: {
                    "summary": _finite_or_none(self.summary(name)),
                    **{key: value.tolist() for key, value in arrays.items()},
                }
                for name, arrays in self.values.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> RealismStats:
        """The stats :meth:`to_dict` wrote (for stats measured once and compared many times)."""
        try:
            w, h = (int(v) for v in data["size"])
            intrinsics = Intrinsics(w, h, *(float(v) for v in data["intrinsics"]))
            values = {
                name: {
                    key: np.asarray(value, np.float64 if key in _FLOAT_ARRAYS else np.int64)
                    for key, value in arrays.items()
                    if key != "summary"
                }
                for name, arrays in data["measures"].items()
                if name in MEASURES
            }
            return cls(int(data["frames"]), (w, h), intrinsics, values)
        except (KeyError, TypeError, ValueError) as exc:
            raise SynthcamError(
                f"not realism statistics written by RealismStats.to_dict ({exc}); measure again"
            ) from None


_FLOAT_ARRAYS = {"weight", "sum_mm"}


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def measure_frames(
    frames: Iterable[MeasureFrame], intrinsics: Intrinsics, measures: Sequence[str] | None = None
) -> RealismStats:
    """Measure ``frames`` (one in memory at a time) and return their summed statistics.

    intrinsics : the camera of every frame (each image must be (intrinsics.height, intrinsics.width)).
    measures : names from :data:`MEASURES` (default all). Measures needing a reference depth are left
    out once a frame lacks one; measures needing labels are summed over the frames that carry labels
    (left out when none does). An unknown name or a frame of another size raises :class:`SynthcamError`.
    """
    names = list(check_measures(measures))
    shape = (intrinsics.height, intrinsics.width)
    totals: dict[str, dict[str, np.ndarray]] = {}
    count = 0
    for frame in frames:
        for image, what in ((frame.depth, "depth"), (frame.reference, "reference"), (frame.label13, "label13")):
            if image is not None and np.shape(image) != shape:
                raise SynthcamError(
                    f"frame {count}: {what} is {np.shape(image)}, not {shape} as the camera "
                    f"{intrinsics.width}x{intrinsics.height} says; measure frames of one size"
                )
        if frame.reference is None:
            names = [n for n in names if MEASURES[n].needs != "reference"]
        todo = [n for n in names if frame.label13 is not None or MEASURES[n].needs != "labels"]
        for name, arrays in measure_one(frame, intrinsics, todo).items():
            if name not in totals:
                totals[name] = {
                    key: np.array(value, np.float64 if key in _FLOAT_ARRAYS else np.int64)
                    for key, value in arrays.items()
                }
            else:
                for key, value in arrays.items():
                    totals[name][key] += value
        count += 1
    values = {name: totals[name] for name in names if name in totals}
    return RealismStats(count, (intrinsics.width, intrinsics.height), intrinsics, values)


# --- one-number summaries ------------------------------------------------------------------------


def _percent(part, whole) -> float:
    whole = float(np.sum(whole))
    return 100.0 * float(np.sum(part)) / whole if whole > 0 else math.nan


def _missing_beyond(values, first_bin: int) -> float:
    return _percent(values["missing"][first_bin:], values["pixels"][first_bin:])


def _median_hole(values) -> float:
    weight = values["weight"]
    if weight.sum() <= 0:
        return math.nan
    k = int(np.searchsorted(np.cumsum(weight) / weight.sum(), 0.5))
    return 100.0 * 10.0 ** HOLE_BIN_LOG10[min(k, len(weight) - 1)]


def _mean_depth(values) -> float:
    counts = values["counts"]
    centres = (np.arange(len(counts)) + 0.5) * HIST_BIN_M
    return float(counts @ centres / counts.sum()) if counts.sum() > 0 else math.nan


def _mean_angle(values) -> float:
    counts = values["counts"]
    return float(counts @ (np.arange(len(counts)) + 0.5) / counts.sum()) if counts.sum() > 0 else math.nan


def _mean_noise(values) -> float:
    triplets = values["triplets"].sum()
    return float(values["sum_mm"].sum() / triplets) if triplets > 0 else math.nan


SUMMARIES = {
    "missing": lambda v: _percent(v["missing"], v["pixels"]),
    "missing_by_depth": lambda v: _missing_beyond(v, int(round(3.0 / DEPTH_BIN_M))),
    "missing_by_edge_distance": lambda v: _percent(
        v["missing"][EDGE_DISTANCE_EDGES < 4], v["pixels"][EDGE_DISTANCE_EDGES < 4]
    ),
    "missing_border": lambda v: _percent(v["missing"], v["pixels"]),
    "hole_sizes": _median_hole,
    "depth_histogram": _mean_depth,
    "local_noise": _mean_noise,
    "depth_steps": lambda v: _percent(v["equal"], v["pairs"]),
    "normal_angle": _mean_angle,
    "class_shares": lambda v: _percent(v["pixels"][WALL - 1], v["pixels"]),
}
"""The one-number summary of each measure's accumulated arrays (each measure's docstring names it)."""
SUMMARY_TEXT = {
    "missing": "missing pixels, %",
    "missing_by_depth": "missing where the reference is beyond 3 m, %",
    "missing_by_edge_distance": "missing within 4 px of an edge, %",
    "missing_border": "missing in the 10 % border bands, %",
    "hole_sizes": "median hole, % of the image",
    "depth_histogram": "mean valid depth, m",
    "local_noise": "mean |second difference|, mm",
    "depth_steps": "equal-depth neighbours, %",
    "normal_angle": "mean normal-to-ray angle, degrees",
    "class_shares": "wall share, %",
}
"""What each summary is, in a few words."""
assert set(SUMMARIES) == set(SUMMARY_TEXT) == set(MEASURES)
