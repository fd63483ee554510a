"""Realism measures: how close generated depth frames come to real sensor frames.

Measure frames of each side with :func:`measure_frames` (streaming, fixed-bin statistics), compare
the two with :func:`compare` (one row per measure: summaries, distance, tolerance), and plot them
with :func:`synthcam.realism.plots.plot_report`. :mod:`synthcam.realism.sources` turns shards and
real folders into :class:`MeasureFrame` streams.
"""

from synthcam.realism.compare import DISTANCES, TOLERANCES, RealismReport, ReportRow, compare
from synthcam.realism.measures import MEASURES, Measure, MeasureFrame, check_measures
from synthcam.realism.stats import RealismStats, measure_frames

__all__ = [
    "DISTANCES",
    "MEASURES",
    "TOLERANCES",
    "Measure",
    "MeasureFrame",
    "RealismReport",
    "RealismStats",
    "ReportRow",
    "check_measures",
    "compare",
    "measure_frames",
]
