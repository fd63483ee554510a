"""Per-frame realism statistics: each measure turns one frame into fixed-bin counts or sums.

A measure is a function ``frame(ctx) -> {name: array}`` over a :class:`FrameContext` (one frame with
its derived images computed once, on demand); the arrays of every frame are added up
(:func:`synthcam.realism.stats.measure_frames`), so any number of frames is measured holding one.
Every bin is fixed in advance and every pixel quantity is normalised to the image: distances in
pixels of a 640-wide image, areas as fractions of the image. Depth is rounded to whole millimetres
before anything is measured, as the shards and real PNGs store it, so a float depth array measured
in memory gives the same figures as the same depth written to disk and read back.

Measures needing a hole-free reference depth (``needs="reference"``) or 13-class labels
(``needs="labels"``) are measured only on frames that carry them. Distances between two accumulated
sides and the tolerances live in :mod:`synthcam.realism.compare`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import cv2
import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.geometry.rays import pixel_slopes

REFERENCE_WIDTH = 640
"""Pixel distances are expressed in pixels of an image this wide (the NYUv2 / Kinect v1 width)."""
EDGE_JUMP = 0.05
"""A depth edge lies between 4-neighbours whose depths differ by more than this fraction of the larger
one (5 %: an object 10 cm in front of a wall at 2 m; a plane must be seen at over 88 degrees at 640 px
before its neighbours differ this much, and Kinect v1 quantisation steps stay under 3 % to 10 m)."""
DEPTH_BIN_M = 0.5
DEPTH_BINS = 20
"""Depth bins of the by-depth measures: 0.5 m wide from 0 m; the last also holds everything beyond 9.5 m."""
EDGE_DISTANCE_EDGES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128], np.float64)
"""Lower edges (pixels at 640 width) of the distance-to-edge bins; the last bin is open-ended."""
BORDER_BINS = 10
"""Bands along each image border, each 1 % of the side across (10 % in all)."""
BORDERS = ("left", "right", "top", "bottom")
HOLE_LOG_MIN, HOLE_LOG_BIN, HOLE_BINS = -7.0, 0.1, 70
"""Bins of log10(hole area / image area): 0.1 decades from 1e-7 (below one pixel of 4096x4096) to 1."""
HOLE_BIN_LOG10 = HOLE_LOG_MIN + (np.arange(HOLE_BINS) + 0.5) * HOLE_LOG_BIN
"""Centres of the hole-size bins, log10 of the area fraction."""
HIST_BIN_M, HIST_BINS = 0.01, 1200
"""Valid-depth histogram: 1 cm bins from 0 to 12 m (the last also holds everything farther)."""
STEP_BIN, STEP_BINS = 0.25, 160
"""Bins of nonzero neighbour depth steps divided by z squared: 0.25 mm/m^2 wide up to 40 (last open)."""
ANGLE_BINS = 90
"""Normal-to-ray angle bins: 1 degree from 0 to 90."""
NORMAL_SPAN = 2
"""Half-width in pixels (at 640 width, at least 1) of the central differences that give normals."""
NORMAL_STRIDE = 2
"""Normals are sampled every this many pixels (at 640 width, at least 1) along rows and columns."""
ROW_STRIDE = 2
"""Row statistics (local noise, depth steps) sample every this many rows (at 640 width, at least 1)."""
CLASSES = 13
"""Class space of :class:`MeasureFrame` labels: ids 1..13 with 0 = void."""


@dataclass(frozen=True)
class MeasureFrame:
    """One frame to measure; every image is (H, W) of the intrinsics' size.

    depth : float32 metres, 0 = missing: the depth being judged (generated noisy / real raw depth).
    reference : float32 metres, hole-free depth of the same view (generated clean depth / real filled
        depth), or None.
    label13 : uint8 13-class ids (0 = void), or None.
    """

    depth: np.ndarray
    reference: np.ndarray | None = None
    label13: np.ndarray | None = None


def _millimetres(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 whole millimetres of a metre depth; 0 where missing, negative or not finite."""
    mm = np.rint(np.asarray(depth, np.float32) * np.float32(1000.0))
    mm[~(mm > 0) | (mm > 1e6)] = 0  # NaN fails mm > 0; beyond a kilometre is no indoor depth
    return mm


_LOG_JUMP = np.float32(-np.log1p(-EDGE_JUMP))
"""|ln a - ln b| over this is a relative jump |a - b| > EDGE_JUMP * max(a, b) (for a, b > 0)."""


def _log_depth(mm: np.ndarray) -> np.ndarray:
    """(H, W) float32 ln(depth in mm), NaN where missing (so every comparison with it is False)."""
    with np.errstate(divide="ignore"):
        log = np.log(mm)
    log[mm <= 0] = np.nan
    return log


def _edges_from_jumps(jump_h: np.ndarray, jump_v: np.ndarray) -> np.ndarray:
    """(H, W) bool pixels on either side of a horizontal (H, W-1) or vertical (H-1, W) jump."""
    edges = np.zeros((jump_v.shape[0] + 1, jump_h.shape[1] + 1), bool)
    edges[:, :-1] |= jump_h
    edges[:, 1:] |= jump_h
    edges[:-1] |= jump_v
    edges[1:] |= jump_v
    return edges


def _depth_bins(mm: np.ndarray) -> np.ndarray:
    """uint8 depth-bin index (DEPTH_BIN_M wide, the last open-ended) of millimetre depths; 255 where
    the depth is 0 (outside every bin)."""
    bins = np.minimum(mm * np.float32(0.001 / DEPTH_BIN_M), DEPTH_BINS - 1).astype(np.uint8)
    bins[mm <= 0] = 255
    return bins


def _count(bins: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """(n,) int64 number of pixels in each bin 0..n-1 of a uint8 bin image (other values count
    nowhere), only where the bool ``mask`` is set when given."""
    if mask is not None:
        mask = mask.view(np.uint8)
    counts = cv2.calcHist(
        [np.ascontiguousarray(bins)], [0], None if mask is None else np.ascontiguousarray(mask), [n], [0, n]
    )
    return np.rint(counts.ravel()).astype(np.int64)  # float32 counts are exact up to 2**24 pixels a frame


class FrameContext:
    """One frame and the images measures share, each computed on first use (not thread-safe)."""

    def __init__(self, frame: MeasureFrame, intrinsics: Intrinsics):
        self.frame = frame
        self.intrinsics = intrinsics
        self.scale = REFERENCE_WIDTH / intrinsics.width
        """Pixels of a 640-wide image per pixel of this one."""
        self.row_stride = max(1, round(ROW_STRIDE / self.scale))

    @cached_property
    def mm(self) -> np.ndarray:
        """(H, W) float32 judged depth in whole millimetres, 0 = missing."""
        return _millimetres(self.frame.depth)

    @cached_property
    def missing(self) -> np.ndarray:
        """(H, W) bool pixels without judged depth."""
        return self.mm <= 0

    @cached_property
    def ref_mm(self) -> np.ndarray:
        """(H, W) float32 reference depth in whole millimetres, 0 = none."""
        assert self.frame.reference is not None, "only measures that need a reference read it"
        return _millimetres(self.frame.reference)

    @cached_property
    def ref_edges(self) -> np.ndarray:
        """(H, W) bool depth edges of the reference depth (a relative jump over EDGE_JUMP to a 4-neighbour)."""
        log = _log_depth(self.ref_mm)
        return _edges_from_jumps(np.abs(log[:, 1:] - log[:, :-1]) > _LOG_JUMP, np.abs(log[1:] - log[:-1]) > _LOG_JUMP)

    @cached_property
    def rows(self) -> np.ndarray:
        """(H', W) float32 mm of the rows the row statistics sample (every ``row_stride``-th)."""
        return self.mm[:: self.row_stride]

    @cached_property
    def row_steps(self) -> np.ndarray:
        """(H', W-1) float32 mm: depth right minus depth left of each horizontal pair of sampled rows."""
        return self.rows[:, 1:] - self.rows[:, :-1]

    @cached_property
    def smooth_pairs(self) -> np.ndarray:
        """(H', W-1) bool: horizontal neighbours of sampled rows, both valid, no depth edge between."""
        log = _log_depth(self.rows)
        return np.abs(log[:, 1:] - log[:, :-1]) <= _LOG_JUMP


def missing(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Missing fraction: pixels without depth over all pixels.

    Summary: missing pixels, %. Distance: absolute difference of the two fractions, percentage points.
    """
    return {"missing": np.array([np.count_nonzero(ctx.missing)]), "pixels": np.array([ctx.missing.size])}


def missing_by_depth(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Missing fraction per 0.5 m bin of the reference depth (pixels where the reference has depth).

    Summary: missing pixels where the reference lies beyond 3 m, %. Distance: mean absolute
    difference of the per-bin fractions over bins both sides fill, weighted by their pixel shares,
    percentage points.
    """
    bins = _depth_bins(ctx.ref_mm)
    return {"pixels": _count(bins, DEPTH_BINS), "missing": _count(bins, DEPTH_BINS, ctx.missing)}


def _edge_distance_lut() -> np.ndarray:
    """(256,) uint8 bin of every whole distance in pixels at 640 width (the last bin from 128 on)."""
    return (np.searchsorted(EDGE_DISTANCE_EDGES, np.arange(256), side="right") - 1).astype(np.uint8)


_EDGE_LUT = _edge_distance_lut()


def missing_by_edge_distance(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Missing fraction by distance to the nearest depth edge of the reference depth, in bins of
    pixels at 640 width (EDGE_DISTANCE_EDGES; an edge pixel has a 4-neighbour whose depth differs
    by more than EDGE_JUMP of the larger depth). Pixels without reference depth are left out.

    Summary: missing pixels within 4 px of an edge, %. Distance: mean absolute difference of the
    per-bin fractions over bins both sides fill, weighted by their pixel shares, percentage points.
    """
    n = len(EDGE_DISTANCE_EDGES)
    distance = cv2.distanceTransform((~ctx.ref_edges).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_3)
    whole = (np.minimum(distance, np.float32(255 / ctx.scale)) * np.float32(ctx.scale)).astype(
        np.uint8
    )  # no edge: huge
    bins = cv2.LUT(whole, _EDGE_LUT)
    bins[ctx.ref_mm <= 0] = 255
    return {"pixels": _count(bins, n), "missing": _count(bins, n, ctx.missing)}


@lru_cache(maxsize=16)
def _border_bins(length: int) -> np.ndarray:
    """(length,) band index (0 = outermost, BORDER_BINS = beyond the bands) of each row or column,
    counted from the start of the side; a band is 1 % of the side across."""
    position = (np.arange(length) + 0.5) / length * 100.0
    return np.minimum(position, BORDER_BINS).astype(np.int64)


def missing_border(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Missing fraction in bands along each image border (left, right, top, bottom), from the border
    inward in steps of 1 % of the side, 10 % deep: where a sensor's invalid border shows.

    Summary: missing pixels in the 10 % bands of all four borders, %. Distance: mean absolute
    difference over the 40 bands, percentage points.
    """
    columns = np.count_nonzero(ctx.missing, axis=0)
    rows = np.count_nonzero(ctx.missing, axis=1)
    h, w = ctx.missing.shape
    out_missing = np.zeros((4, BORDER_BINS), np.int64)
    out_pixels = np.zeros((4, BORDER_BINS), np.int64)
    for k, (counts, across) in enumerate(((columns, h), (columns[::-1], h), (rows, w), (rows[::-1], w))):
        bins = _border_bins(len(counts))
        out_missing[k] = np.bincount(bins, weights=counts, minlength=BORDER_BINS + 1)[:BORDER_BINS]
        out_pixels[k] = np.bincount(bins, minlength=BORDER_BINS + 1)[:BORDER_BINS] * across
    return {"missing": out_missing, "pixels": out_pixels}


def hole_sizes(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Size distribution of missing regions: 8-connected components of missing pixels (those touching
    the border too), each weighing its pixels, binned by log10 of its area as a fraction of the image.

    Summary: pixel-weighted median hole area, % of the image. Distance: Wasserstein-1 between the
    two pixel-weighted distributions, decades (a side without holes counts as holes of vanishing
    size, at the lowest bin).
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(ctx.missing.view(np.uint8), connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64) / ctx.missing.size
    bins = np.clip(((np.log10(area) - HOLE_LOG_MIN) / HOLE_LOG_BIN).astype(np.int64), 0, HOLE_BINS - 1)
    return {"weight": np.bincount(bins, weights=area, minlength=HOLE_BINS), "holes": np.array([count - 1])}


def depth_histogram(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Histogram of valid depth: 1 cm bins from 0 to 12 m (the last also holds everything farther).

    Summary: mean valid depth, m. Distance: Wasserstein-1 between the two normalised histograms, m.
    """
    bins = np.minimum(ctx.mm * np.float32(0.001 / HIST_BIN_M), HIST_BINS - 1).astype(np.int64)
    counts = np.bincount(bins.ravel(), minlength=HIST_BINS)
    counts[0] -= np.count_nonzero(ctx.missing)  # missing pixels (0 mm) all fell in the first bin
    return {"counts": counts}


def local_noise(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Local noise by depth: mean absolute second difference of depth along rows,
    |z[u-1] - 2 z[u] + z[u+1]| in mm, over triplets whose two neighbour pairs are valid and cross no
    depth edge, per 0.5 m bin of the centre depth (flat and gently curved surfaces give nearly 0;
    noise and quantisation do not); rows sampled every ROW_STRIDE pixels at 640 width.

    Summary: mean absolute second difference over all triplets, mm. Distance: mean |ln(generated /
    real)| of the per-bin means over bins both sides fill, weighted by their triplet shares.
    """
    steps, smooth = ctx.row_steps, ctx.smooth_pairs
    ok = smooth[:, 1:] & smooth[:, :-1]
    bins = _depth_bins(ctx.rows[:, 1:-1])[ok].astype(np.int64)
    second = np.abs(steps[:, 1:][ok] - steps[:, :-1][ok])
    return {
        "triplets": np.bincount(bins, minlength=DEPTH_BINS),
        "sum_mm": np.bincount(bins, weights=second, minlength=DEPTH_BINS),
    }


def depth_steps(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Depth-step (quantisation) statistics by depth: per 0.5 m bin of the right-hand depth of
    horizontal neighbour pairs (both valid, no depth edge between; rows sampled every ROW_STRIDE
    pixels at 640 width), the number of pairs, those of equal millimetre depth, and the histogram of
    the nonzero steps divided by z^2 (mm/m^2, STEP_BIN bins; disparity quantisation makes it a
    constant, about 2.9 mm/m^2 for a Kinect v1).

    Summary: equal-depth neighbour pairs, %. Distance: mean absolute difference of the per-bin
    equal fractions over bins both sides fill, weighted by their pair shares, percentage points.
    """
    steps, smooth = ctx.row_steps, ctx.smooth_pairs
    right = ctx.rows[:, 1:]
    bins = _depth_bins(right)
    equal = steps == 0
    moved = smooth & ~equal
    z = right[moved] * np.float32(0.001)
    normalised = np.minimum(np.abs(steps[moved]) / (z * z * np.float32(STEP_BIN)), STEP_BINS - 1).astype(np.int64)
    histogram = np.bincount(bins[moved].astype(np.int64) * STEP_BINS + normalised, minlength=DEPTH_BINS * STEP_BINS)
    return {
        "pairs": _count(bins, DEPTH_BINS, smooth),
        "equal": _count(bins, DEPTH_BINS, smooth & equal),
        "steps": histogram.reshape(DEPTH_BINS, STEP_BINS),
    }


@lru_cache(maxsize=8)
def _ray_slopes(intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """(1, W) x/z and (H, 1) y/z of the pixel centres' viewing rays, float32."""
    u, v = pixel_slopes(intrinsics)
    return u.astype(np.float32)[None, :], v.astype(np.float32)[:, None]


def normal_angle(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Histogram of the angle between the surface normal and the viewing ray, 1 degree bins 0..90.

    Pixels are sampled every NORMAL_STRIDE pixels (at 640 width) along rows and columns. The normal
    is that of the back-projected surface from central depth differences over k = NORMAL_SPAN pixels
    (at 640 width) each way; a pixel counts when it and its four stencil neighbours are valid and
    each neighbour's depth lies within a relative EDGE_JUMP per pixel of its own (no depth edge).
    With z_u, z_v the depth derivatives per pixel and (a, b, 1) the viewing ray,
    n = (-fx z_u, -fy z_v, z + a fx z_u + b fy z_v) and cos(angle) = z / (|n| |(a, b, 1)|).

    Summary: mean angle, degrees. Distance: Wasserstein-1 between the two normalised histograms,
    degrees.
    """
    k = max(1, round(NORMAL_SPAN / ctx.scale))
    s = max(1, round(NORMAL_STRIDE / ctx.scale))
    mm = ctx.mm
    h, w = mm.shape
    rows, cols = slice(k, h - k, s), slice(k, w - k, s)
    z = mm[rows, cols]
    right, left = mm[rows, 2 * k :: s], mm[rows, : w - 2 * k : s]
    down, up = mm[2 * k :: s, cols], mm[: h - 2 * k : s, cols]
    limit = z * np.float32(k * EDGE_JUMP)
    ok = z > 0
    for side in (right, left, down, up):
        ok &= np.abs(side - z) < limit  # also false where the neighbour is missing
    a, b = _ray_slopes(ctx.intrinsics)
    a, b = a[:, cols], b[rows]
    nx = (right - left) * np.float32(0.5 * ctx.intrinsics.fx / k)
    ny = (down - up) * np.float32(0.5 * ctx.intrinsics.fy / k)
    nz = z + a * nx + b * ny
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) * np.sqrt(a * a + b * b + 1)
    cosine = np.minimum(z[ok] / np.maximum(norm[ok], np.float32(1e-6)), 1)
    degrees = np.degrees(np.arccos(cosine))
    return {"counts": np.bincount(np.minimum(degrees, ANGLE_BINS - 1).astype(np.int64), minlength=ANGLE_BINS)}


def class_shares(ctx: FrameContext) -> dict[str, np.ndarray]:
    """Per-class pixel shares of the 13 classes (void left out), over the frames that carry labels.

    Summary: wall share of labelled pixels, %. Distance: total variation distance between the two
    share vectors, percentage points (half the sum of absolute share differences).
    """
    labels = np.asarray(ctx.frame.label13)
    return {
        "pixels": np.bincount(np.minimum(labels, CLASSES + 1).ravel(), minlength=CLASSES + 2)[1 : CLASSES + 1],
        "frames": np.array([1]),
    }


@dataclass(frozen=True)
class Measure:
    """A registered measure: its per-frame function, what it needs, and its distance's unit."""

    name: str
    frame: Callable[[FrameContext], dict[str, np.ndarray]]
    unit: str
    needs: str | None = None  # "reference" or "labels"

    @property
    def doc(self) -> str:
        return self.frame.__doc__ or ""


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("missing", missing, "points"),
        Measure("missing_by_depth", missing_by_depth, "points", "reference"),
        Measure("missing_by_edge_distance", missing_by_edge_distance, "points", "reference"),
        Measure("missing_border", missing_border, "points"),
        Measure("hole_sizes", hole_sizes, "decades"),
        Measure("depth_histogram", depth_histogram, "m"),
        Measure("local_noise", local_noise, "|ln ratio|"),
        Measure("depth_steps", depth_steps, "points"),
        Measure("normal_angle", normal_angle, "degrees"),
        Measure("class_shares", class_shares, "points", "labels"),
    )
}
"""Every measure by name, in report order."""


def check_measures(names: Iterable[str] | None) -> tuple[str, ...]:
    """The measure names to use (all when None), in registry order; an unknown name raises
    :class:`SynthcamError` listing the valid ones."""
    if names is None:
        return tuple(MEASURES)
    names = list(names)
    unknown = [n for n in names if n not in MEASURES]
    if unknown:
        raise SynthcamError(
            f"unknown realism measure(s) {', '.join(repr(n[:40]) for n in unknown[:5])}; "
            f"choose from {', '.join(MEASURES)}"
        )
    return tuple(n for n in MEASURES if n in names)


def measure_one(frame: MeasureFrame, intrinsics: Intrinsics, names: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """The statistics of one frame for each of ``names`` (all applicable: checked by the caller)."""
    ctx = FrameContext(frame, intrinsics)
    return {name: MEASURES[name].frame(ctx) for name in names}
