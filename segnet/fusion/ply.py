"""A fused map's labelled points as a binary PLY file: position, normal, palette colour and class id a vertex."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from segnet.fusion.volume import LabelledPoints


def point_colors(labels: np.ndarray, classes: int) -> np.ndarray:
    """(N, 3) uint8 RGB of (N,) class ids in the palette of every picture (:mod:`synthcam_core.palette`):
    the 13-, 37- or 40-class space for 14, 38 or 41 ids; NYU40 colours by id for any other count."""
    from synthcam_core.palette import CLASS_SPACES, class_colors, nyu40_colors

    if classes - 1 in CLASS_SPACES:
        table = class_colors(classes - 1)
    else:
        table = np.round(nyu40_colors()[np.arange(classes) % 41] * 255).astype(np.uint8)
    return table[np.minimum(labels, classes - 1)]


PLY_VERTEX = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    + [("red", "u1"), ("green", "u1"), ("blue", "u1"), ("class", "u1")]
)
"""One vertex of :func:`write_ply`: position (m) and normal as float32, palette colour and class id as uint8."""


def write_ply(path: Path, points: LabelledPoints, option: str = "--out") -> Path:
    """Write ``points`` as a binary little-endian PLY (:data:`PLY_VERTEX` per vertex) at ``path``, atomically:
    an interrupted write leaves the previous file or none, never half a PLY. ``option`` names ``path`` in errors."""
    from synthcam_core.atomic_file import write_atomic

    path = Path(path)
    vertices = np.empty(len(points.points), PLY_VERTEX)
    for axis, name in enumerate("xyz"):
        vertices[name] = points.points[:, axis]
        vertices[f"n{name}"] = points.normals[:, axis]
    rgb = point_colors(points.labels, points.classes)
    vertices["red"], vertices["green"], vertices["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    vertices["class"] = points.labels
    properties = "".join(
        f"property {'float' if vertices.dtype[name].kind == 'f' else 'uchar'} {name}\n"
        for name in PLY_VERTEX.names or ()
    )
    header = f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n{properties}end_header\n"

    def write(file: BinaryIO) -> None:
        file.write(header.encode("ascii"))
        file.write(vertices.tobytes())

    write_atomic(path, write, option)
    return path
