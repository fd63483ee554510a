"""A fused map's labelled points seen from above, as a PNG picture with a legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segnet.fusion.ply import point_colors
from segnet.fusion.volume import LabelledPoints
from synthcam_core.errors import SynthcamError

TOPDOWN_MAX_SIDE = 800
"""Longest side in pixels of the map in :func:`topdown_picture`."""
TOPDOWN_CELL = 0.02
"""Smallest side in metres of a top-down map cell (then drawn enlarged): the spacing of 2 cm voxels' points."""


def topdown_picture(points: LabelledPoints, path: Path, class_names: Sequence[str], option: str = "--out") -> Path:
    """Write a PNG of the points seen from above (world z up, x to the right, y up), each pixel the colour of
    the highest point in it below the ceiling (points named ``ceiling`` are left out), with a legend of the
    classes shown; white where there is nothing. ``class_names`` names ids 0..classes - 1. Atomic."""
    import cv2

    from synthcam_core.atomic_file import write_atomic
    from synthcam_core.palette import LegendItem, legend_strip

    keep = np.ones(len(points.labels), bool)
    if "ceiling" in class_names:
        keep &= points.labels != list(class_names).index("ceiling")
    xyz, labels = points.points[keep], points.labels[keep]
    side = TOPDOWN_MAX_SIDE
    image: np.ndarray = np.full((side // 2, side, 3), 255, np.uint8)
    if len(xyz):
        low, high = xyz[:, :2].min(axis=0), xyz[:, :2].max(axis=0)
        cell = max(float((high - low).max()) / (side - 1), TOPDOWN_CELL)  # metres a pixel: no gaps between points
        width, height = (np.floor((high - low) / cell).astype(int) + 1).tolist()
        image = np.full((height, width, 3), 255, np.uint8)
        order = np.argsort(xyz[:, 2], kind="stable")  # highest last: it covers what lies below it
        col = np.floor((xyz[order, 0] - low[0]) / cell).astype(int)
        row = height - 1 - np.floor((xyz[order, 1] - low[1]) / cell).astype(int)
        image[row, col] = point_colors(labels[order], points.classes)
        zoom = max(1, side // max(width, height))
        image = cv2.resize(image, (width * zoom, height * zoom), interpolation=cv2.INTER_NEAREST)
    rgb = point_colors(np.arange(points.classes, dtype=np.uint8), points.classes)
    shown = np.bincount(labels, minlength=points.classes)
    items = [
        LegendItem(
            int(i), class_names[i], (rgb[i, 0] / 255, rgb[i, 1] / 255, rgb[i, 2] / 255), shown[i] / max(len(labels), 1)
        )
        for i in np.argsort(-shown, kind="stable")
        if shown[i] and i > 0
    ]
    picture = np.concatenate([image, legend_strip(items, image.shape[1], "classes:")], axis=0)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(picture[..., ::-1]))
    if not ok:
        raise SynthcamError(f"could not encode the top-down picture for {path}")
    write_atomic(Path(path), lambda file: file.write(png.tobytes()), option)
    return Path(path)
