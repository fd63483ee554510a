"""Distances between two sides' realism statistics, the tolerances, and the report.

:func:`compare` gives one :class:`ReportRow` per measure both sides have: each side's one-number
summary, the measure's distance between the two accumulated distributions (>= 0, exactly 0 for
identical statistics) and its tolerance. :meth:`RealismReport.score` sums distance / tolerance over
the rows: the objective a noise fit minimises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from synthcam.realism.measures import HIST_BIN_M, HOLE_LOG_BIN, MEASURES, check_measures
from synthcam.realism.stats import SUMMARY_TEXT, RealismStats
from synthcam_core.errors import SynthcamError

MIN_BIN_SHARE = 0.01
"""A by-bin measure compares a bin only when it holds at least 1 % of each side's samples ..."""
MIN_BIN_COUNT = 50
"""... and at least this many samples on each side (fewer give fractions too coarse to compare)."""
NOISE_FLOOR_MM = 0.1
"""Mean second differences below this (mm) count as this in ``local_noise`` ratios: whole-millimetre
rounding alone gives about 0.56 mm, so only noise-free planes fall below it."""

# Where each tolerance comes from. The "real spread" is the distance between two sets of real frames
# of one sensor, measured with this module on ../shared/data/real (issue 13):
#   NYU raw 1|1   : NYUv2 train frame 3 against frame 4, raw depth (filled as the reference);
#   SUN raw 15|15 : SUN RGB-D Kinect v2 raw depth, the first 15 stems against the last 15 (and
#                   odd against even stems, the second figure);
#   NYU fill 6|6  : NYUv2 train filled depth, frames 3-8 against 10-73 (and odd against even);
#   NYU lab 1|2   : NYUv2 train labels, frame 4 (a bedroom) against frames 70 and 73.
# Two real frame sets of one sensor differ this much, so no generator can be asked to come closer
# than about the larger multi-frame spread; where single NYU frames differ far more (one surface
# fills a depth bin), the tolerance lies between. Where issue 13 sets a goal, the goal is the tolerance.
TOLERANCES: dict[str, float] = {
    # goal: kinect_v1 within 5 points of real NYUv2 raw (spread: NYU raw 1|1 2.7, SUN raw 2.6 / 2.2)
    "missing": 5.0,
    # SUN raw 6.1 / 5.9; NYU raw 1|1 20.8 (frame 3's 1.5-2 m bin is a wall, frame 4's a floor)
    "missing_by_depth": 10.0,
    # NYU raw 1|1 3.9, SUN raw 5.4 / 3.0
    "missing_by_edge_distance": 6.0,
    # NYU raw 1|1 2.8, SUN raw 5.5 / 4.5
    "missing_border": 6.0,
    # NYU raw 1|1 0.09, SUN raw 0.45 / 0.09 decades
    "hole_sizes": 0.5,
    # goal: clean generated depth within 0.25 m of filled NYUv2 (spread: room sizes differ, NYU fill
    # 0.45 / 0.44, SUN raw 0.46 / 0.10, NYU raw 1|1 0.27 m)
    "depth_histogram": 0.25,
    # NYU fill 0.30 / 0.16, SUN raw 0.16 / 0.09, SUN fill 0.12; NYU raw 1|1 0.55 (|ln ratio|)
    "local_noise": 0.3,
    # NYU fill 9.7 / 6.6, SUN fill 2.9, SUN raw 0.8 / 0.7 (a ToF sensor: few equal neighbours);
    # NYU raw 1|1 31 (equal pairs follow the surface slope: walls ~63 %, floors ~28 %)
    "depth_steps": 10.0,
    # SUN raw 2.7 / 1.2, NYU fill 2.4 / 1.6, NYU raw 1|1 1.4; NYU lab 1|2 4.9 degrees
    "normal_angle": 3.0,
    # NYU lab 1|2 24.6 points: class shares follow the room type, and three labelled real frames are
    # all the project holds
    "class_shares": 25.0,
}
assert set(TOLERANCES) == set(MEASURES)


@dataclass(frozen=True)
class ReportRow:
    """One measure compared: each side's summary, the distance (in ``unit``), its tolerance and
    whether the distance lies within it (NaN distances never do)."""

    measure: str
    generated: float
    real: float
    distance: float
    tolerance: float
    unit: str
    ok: bool


@dataclass(frozen=True)
class RealismReport:
    """The rows of :func:`compare`, in registry order; ``left_out`` names measures only one side had."""

    rows: tuple[ReportRow, ...]
    left_out: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def row(self, measure: str) -> ReportRow:
        for row in self.rows:
            if row.measure == measure:
                return row
        raise SynthcamError(f"the report has no {measure!r} row; it has {', '.join(r.measure for r in self.rows)}")

    def score(self, measures: Sequence[str] | None = None) -> float:
        """Sum of distance / tolerance over the rows of ``measures`` (default all rows); inf when a
        chosen distance is NaN. A named measure without a row raises :class:`SynthcamError`."""
        rows = self.rows if measures is None else [self.row(m) for m in check_measures(measures)]
        total = sum(row.distance / row.tolerance for row in rows)
        return total if math.isfinite(total) else math.inf

    def table(self) -> str:
        """A plain-text table: measure | generated | real | distance | tolerance | ok."""
        header = ("measure", "generated", "real", "distance", "tolerance", "ok")
        lines = [
            (
                row.measure,
                _number(row.generated),
                _number(row.real),
                _number(row.distance),
                f"{_number(row.tolerance)} {row.unit}",
                "yes" if row.ok else "NO",
            )
            for row in self.rows
        ]
        widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
        text = [
            "  ".join(f"{x:<{w}}" if k in (0, 5) else f"{x:>{w}}" for k, (x, w) in enumerate(zip(line, widths)))
            for line in (header, *lines)
        ]
        text.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(text)

    def to_dict(self) -> dict:
        """JSON-ready rows (NaN as None), the total score and the left-out measures."""
        return {
            "rows": [
                {
                    "measure": r.measure,
                    "summary": SUMMARY_TEXT[r.measure],
                    "generated": _finite(r.generated),
                    "real": _finite(r.real),
                    "distance": _finite(r.distance),
                    "tolerance": r.tolerance,
                    "unit": r.unit,
                    "ok": r.ok,
                }
                for r in self.rows
            ],
            "score": _finite(self.score()),
            "ok": self.ok,
            "left_out": list(self.left_out),
        }


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def compare(generated: RealismStats, real: RealismStats) -> RealismReport:
    """One row per measure both sides have (registry order); see :class:`ReportRow`."""
    rows, left_out = [], []
    for name in MEASURES:
        if name in generated.values and name in real.values:
            distance = DISTANCES[name](generated.values[name], real.values[name])
            rows.append(
                ReportRow(
                    name,
                    generated.summary(name),
                    real.summary(name),
                    distance,
                    TOLERANCES[name],
                    MEASURES[name].unit,
                    bool(distance <= TOLERANCES[name]),
                )
            )
        elif name in generated.values or name in real.values:
            left_out.append(name)
    return RealismReport(tuple(rows), tuple(left_out))


# --- distances ---------------------------------------------------------------------------------


def _fraction(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.asarray(part, np.float64) / np.maximum(np.asarray(whole, np.float64), 1)


def _shared_bins(count_a: np.ndarray, count_b: np.ndarray) -> np.ndarray:
    """(bins,) float64 weights of the bins both sides fill enough (mean of the two shares), 0 elsewhere."""
    share_a = count_a / max(count_a.sum(), 1)
    share_b = count_b / max(count_b.sum(), 1)
    both = (
        (share_a >= MIN_BIN_SHARE)
        & (share_b >= MIN_BIN_SHARE)
        & (count_a >= MIN_BIN_COUNT)
        & (count_b >= MIN_BIN_COUNT)
    )
    return np.where(both, (share_a + share_b) / 2, 0.0)


def _binned(value_a: np.ndarray, count_a: np.ndarray, value_b: np.ndarray, count_b: np.ndarray, gap) -> float:
    """Weighted mean of ``gap(value_a, value_b)`` over the shared bins; with none shared, the gap of
    the pooled values (``value`` arrays are per-bin sums, divided by the counts here)."""
    weights = _shared_bins(count_a, count_b)
    if weights.sum() > 0:
        gaps = gap(_fraction(value_a, count_a), _fraction(value_b, count_b))
        return float(np.sum(weights * np.where(weights > 0, gaps, 0.0)) / weights.sum())
    if count_a.sum() == 0 or count_b.sum() == 0:
        return math.nan
    return float(gap(_fraction(value_a.sum(), count_a.sum()), _fraction(value_b.sum(), count_b.sum())))


def _points(a, b):
    return 100.0 * np.abs(a - b)


def _log_ratio(a, b):
    return np.abs(np.log(np.maximum(a, NOISE_FLOOR_MM) / np.maximum(b, NOISE_FLOOR_MM)))


def wasserstein_bins(weights_a: np.ndarray, weights_b: np.ndarray, width: float) -> float:
    """Wasserstein-1 distance between two histograms on the same equal-width bins (mass at the bin
    centres), in the bins' unit: the area between the two cumulative distributions. NaN when either
    histogram is empty."""
    a, b = np.asarray(weights_a, np.float64), np.asarray(weights_b, np.float64)
    if a.sum() <= 0 or b.sum() <= 0:
        return math.nan
    return float(np.abs(np.cumsum(a / a.sum()) - np.cumsum(b / b.sum()))[:-1].sum() * width)


def _missing(a: Mapping, b: Mapping) -> float:
    return float(
        _points(_fraction(a["missing"].sum(), a["pixels"].sum()), _fraction(b["missing"].sum(), b["pixels"].sum()))
    )


def _missing_binned(a: Mapping, b: Mapping) -> float:
    return _binned(a["missing"], a["pixels"], b["missing"], b["pixels"], _points)


def _missing_border(a: Mapping, b: Mapping) -> float:
    """Mean gap over the bands both sides hold pixels in (below 100 px a side some 1 % bands hold no row)."""
    both = (a["pixels"] > 0) & (b["pixels"] > 0)
    gaps = _points(_fraction(a["missing"], a["pixels"]), _fraction(b["missing"], b["pixels"]))
    return float(gaps[both].mean()) if both.any() else math.nan


def _hole_sizes(a: Mapping, b: Mapping) -> float:
    wa, wb = a["weight"].copy(), b["weight"].copy()
    for w in (wa, wb):  # no holes at all: holes of vanishing size
        if w.sum() <= 0:
            w[0] = 1.0
    return wasserstein_bins(wa, wb, HOLE_LOG_BIN)


def _depth_steps(a: Mapping, b: Mapping) -> float:
    return _binned(a["equal"], a["pairs"], b["equal"], b["pairs"], _points)


DISTANCES = {
    "missing": _missing,
    "missing_by_depth": _missing_binned,
    "missing_by_edge_distance": _missing_binned,
    "missing_border": _missing_border,
    "hole_sizes": _hole_sizes,
    "depth_histogram": lambda a, b: wasserstein_bins(a["counts"], b["counts"], HIST_BIN_M),
    "local_noise": lambda a, b: _binned(a["sum_mm"], a["triplets"], b["sum_mm"], b["triplets"], _log_ratio),
    "depth_steps": _depth_steps,
    "normal_angle": lambda a, b: wasserstein_bins(a["counts"], b["counts"], 1.0),
    "class_shares": lambda a, b: float(
        50.0 * np.abs(_fraction(a["pixels"], a["pixels"].sum()) - _fraction(b["pixels"], b["pixels"].sum())).sum()
    ),
}
"""Each measure's distance between two sides' accumulated arrays (units: :data:`MEASURES` ``.unit``)."""
assert set(DISTANCES) == set(MEASURES)
