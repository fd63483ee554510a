"""Plots of two sides' realism statistics: one PNG per measure with both distributions overlaid, and an
overview of every distance against its tolerance.

Figures are built with :class:`matplotlib.figure.Figure` and saved through the Agg canvas directly,
so no pyplot state or process-wide backend is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthcam.realism.compare import MIN_BIN_COUNT, RealismReport
from synthcam.realism.measures import (
    BORDER_BINS,
    BORDERS,
    DEPTH_BIN_M,
    DEPTH_BINS,
    EDGE_DISTANCE_EDGES,
    HIST_BIN_M,
    HOLE_BIN_LOG10,
    STEP_BIN,
)
from synthcam.realism.stats import RealismStats

SIDES = (("generated", "tab:orange"), ("real", "tab:blue"))
DEPTH_CENTRES = (np.arange(DEPTH_BINS) + 0.5) * DEPTH_BIN_M


def _save(figure, path: Path) -> None:
    """Write ``figure`` as a PNG through a temporary file and a rename (never half a picture, never
    through a link)."""
    from synthcam_core.atomic_file import write_atomic

    write_atomic(path, lambda file: figure.savefig(file, format="png"), "--plots")


def _figure(columns: int = 1, rows: int = 1, size=(6.0, 4.0)):
    from matplotlib.figure import Figure  # no pyplot: drawing changes no process-wide backend

    figure = Figure(figsize=(size[0] * columns, size[1] * rows), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    return figure, axes


def _ratio(part, whole, scale=100.0, min_count=MIN_BIN_COUNT) -> np.ndarray:
    """Per-bin ``scale * part / whole``, NaN (not drawn) where ``whole`` is below ``min_count``."""
    whole = np.asarray(whole, np.float64)
    return np.where(whole >= min_count, scale * np.asarray(part, np.float64) / np.maximum(whole, 1), np.nan)


def _by_depth(ax, values: list, key: str, total: str, ylabel: str, scale=100.0) -> None:
    for (side, colour), v in zip(SIDES, values):
        ax.plot(DEPTH_CENTRES, _ratio(v[key], v[total], scale), "o-", color=colour, label=side)
    ax.set_xlabel("reference depth (m)" if key == "missing" else "depth (m)")
    ax.set_ylabel(ylabel)


def _density(ax, x: np.ndarray, values: list, key: str, xlabel: str, group: int = 1) -> None:
    """Normalised histograms (``group`` bins merged for legibility) drawn as steps."""
    for (side, colour), v in zip(SIDES, values):
        weights = np.asarray(v[key], np.float64)
        if weights.sum() <= 0:
            ax.text(
                0.5,
                0.5 if side == "generated" else 0.4,
                f"{side}: nothing to show",
                color=colour,
                transform=ax.transAxes,
                ha="center",
            )
            continue
        n = len(weights) // group * group
        merged = weights[:n].reshape(-1, group).sum(axis=1) / weights.sum()
        ax.step(x[:n].reshape(-1, group).mean(axis=1), merged, where="mid", color=colour, label=side)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share")


def _draw(name: str, axes, values: list) -> None:
    ax = axes[0]
    if name == "missing":
        shares = [_ratio(v["missing"].sum(), v["pixels"].sum(), min_count=1) for v in values]
        ax.bar([s for s, _ in SIDES], shares, color=[c for _, c in SIDES])
        ax.set_ylabel("missing pixels (%)")
    elif name == "missing_by_depth":
        _by_depth(ax, values, "missing", "pixels", "missing pixels (%)")
    elif name == "missing_by_edge_distance":
        for (side, colour), v in zip(SIDES, values):
            ax.plot(
                np.arange(len(EDGE_DISTANCE_EDGES)), _ratio(v["missing"], v["pixels"]), "o-", color=colour, label=side
            )
        ax.set_xticks(np.arange(len(EDGE_DISTANCE_EDGES)), [f"{e:g}" for e in EDGE_DISTANCE_EDGES], fontsize=8)
        ax.set_xlabel("distance to the nearest reference depth edge (px at 640 width, bin start)")
        ax.set_ylabel("missing pixels (%)")
    elif name == "missing_border":
        bands = np.arange(BORDER_BINS) + 0.5
        for k, border in enumerate(BORDERS):
            for (side, colour), v in zip(SIDES, values):
                axes[k].plot(
                    bands, _ratio(v["missing"][k], v["pixels"][k], min_count=1), "o-", color=colour, label=side
                )
            axes[k].set_title(border)
            axes[k].set_xlabel("distance from the border (% of the side)")
            axes[k].set_ylabel("missing pixels (%)")
    elif name == "hole_sizes":
        _density(ax, HOLE_BIN_LOG10, values, "weight", "log10 hole area (fraction of the image)")
        ax.set_ylabel("share of missing pixels")
    elif name == "depth_histogram":
        _density(
            ax, (np.arange(len(values[0]["counts"])) + 0.5) * HIST_BIN_M, values, "counts", "valid depth (m)", group=10
        )
    elif name == "local_noise":
        _by_depth(ax, values, "sum_mm", "triplets", "mean |second difference| (mm)", scale=1.0)
        ax.set_yscale("log")
    elif name == "depth_steps":
        _by_depth(ax, values, "equal", "pairs", "equal-depth neighbour pairs (%)")
        for (side, colour), v in zip(SIDES, values):
            steps = np.asarray(v["steps"], np.float64)
            cumulative = np.cumsum(steps, axis=1) / np.maximum(steps.sum(axis=1, keepdims=True), 1)
            median = (np.argmax(cumulative >= 0.5, axis=1) + 0.5) * STEP_BIN
            axes[1].plot(
                DEPTH_CENTRES,
                np.where(steps.sum(axis=1) >= MIN_BIN_COUNT, median, np.nan),
                "o-",
                color=colour,
                label=side,
            )
        axes[1].set_xlabel("depth (m)")
        axes[1].set_ylabel("median nonzero step / z^2 (mm/m^2)")
    elif name == "normal_angle":
        _density(
            ax,
            np.arange(len(values[0]["counts"])) + 0.5,
            values,
            "counts",
            "angle between normal and viewing ray (degrees)",
        )
    elif name == "class_shares":
        from synthcam_core.labels import class13_names

        names = class13_names()[1:]
        x = np.arange(len(names))
        for k, ((side, colour), v) in enumerate(zip(SIDES, values)):
            ax.bar(
                x + (k - 0.5) * 0.4, _ratio(v["pixels"], v["pixels"].sum(), min_count=1), 0.4, color=colour, label=side
            )
        ax.set_xticks(x, names, rotation=45, ha="right")
        ax.set_ylabel("share of labelled pixels (%)")
    for a in axes:
        if a.has_data() and name != "missing":
            a.legend(fontsize=8)


_PANELS = {"missing_border": (2, 2), "depth_steps": (2, 1)}


def plot_report(generated: RealismStats, real: RealismStats, report: RealismReport, out_dir: str | Path) -> list[Path]:
    """Write ``<measure>.png`` for each row of ``report`` and ``overview.png`` into ``out_dir`` (which
    must exist); return the paths written."""
    out_dir = Path(out_dir)
    written = []
    for row in report.rows:
        columns, rows = _PANELS.get(row.measure, (1, 1))
        figure, axes = _figure(columns, rows)
        _draw(row.measure, axes, [generated.values[row.measure], real.values[row.measure]])
        verdict = "within" if row.ok else "OUTSIDE"
        figure.suptitle(
            f"{row.measure}: distance {row.distance:.3g} {row.unit} ({verdict} tolerance {row.tolerance:g})"
        )
        path = out_dir / f"{row.measure}.png"
        _save(figure, path)
        written.append(path)
    figure, (ax,) = _figure(size=(7.0, 0.45 * len(report.rows) + 1.2))
    names = [row.measure for row in report.rows]
    ratios = [row.distance / row.tolerance if np.isfinite(row.distance) else 0.0 for row in report.rows]
    ax.barh(names, ratios, color=["tab:green" if row.ok else "tab:red" for row in report.rows])
    ax.axvline(1.0, color="black", linestyle="--")
    ax.invert_yaxis()
    ax.set_xlabel("distance / tolerance (1 = at the tolerance)")
    ax.set_title(f"realism: {generated.frames} generated against {real.frames} real frames, score {report.score():.3g}")
    path = out_dir / "overview.png"
    _save(figure, path)
    written.append(path)
    return written
