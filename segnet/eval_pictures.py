"""Prediction pictures of ``synthcam evaluate --predictions``: one PNG per frame, named by split and index.

Each shows the input depth (turbo, invalid white), the prediction and the ground truth side by side,
in the colours of every picture of the project (:mod:`synthcam_core.palette`), with a legend of the
classes they show below them.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from synthcam_core.atomic_file import write_atomic
from synthcam_core.errors import SynthcamError

LEGEND_WIDTH = 320
"""Narrowest legend below a prediction picture (pixels): small frames get a wider picture."""


def prediction_name(split: str, index: int) -> str:
    """File name of a frame's prediction picture: ``val_000123.png`` (split, index in its dataset)."""
    return f"{split}_{index:06d}.png"


def save_prediction_png(path: Path, depth: np.ndarray, pred: np.ndarray, gt: np.ndarray, classes: int) -> None:
    """Depth (turbo, invalid white) | prediction | ground truth side by side, and below them a legend
    of the classes either shows (:mod:`synthcam_core.palette`: the colours of every picture), as an
    RGB PNG written atomically.

    depth : (H, W) float metres; pred, gt : (H, W) integer class ids 0..classes.
    """
    import cv2

    from synthcam_core.palette import class_colors, colorize_depth, legend_items, legend_strip

    colors = class_colors(classes)
    valid = depth[depth > 0]
    lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    left = (colorize_depth(depth, lo, max(hi, lo + 1e-3)) * 255).astype(np.uint8)
    gap = np.full((depth.shape[0], 4, 3), 255, dtype=np.uint8)
    panels = np.concatenate([left, gap, colors[pred], gap, colors[gt]], axis=1)
    legend = legend_strip(
        legend_items([pred, gt], classes), max(panels.shape[1], LEGEND_WIDTH), title="prediction | ground truth:"
    )
    image = np.full((panels.shape[0] + legend.shape[0], legend.shape[1], 3), 255, dtype=np.uint8)
    image[: panels.shape[0], : panels.shape[1]] = panels
    image[panels.shape[0] :] = legend
    ok, encoded = cv2.imencode(".png", image[..., ::-1])
    if not ok:
        raise SynthcamError(f"cannot encode {path}; choose another --predictions directory")

    def write(file: BinaryIO) -> None:
        file.write(encoded.tobytes())

    write_atomic(path, write, "--predictions")
