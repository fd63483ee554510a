"""The one colour scheme of every picture: a fixed colour per class of a class space, void black,
depth in the turbo colour map, and legends that name the classes a picture shows.

A class's colour follows its meaning, not its number: each NYU40 class has a fixed colour
(:func:`nyu40_colors`, well separated hues by the golden ratio), and a class of the 13- or 37-class
space takes the colour of its NYU40 class (the first NYU40 class that maps to it: ``furniture`` of
the 13 classes is NYU40 ``cabinet``'s colour), so ``wall`` is the same colour in a shard preview
and in a 13-class prediction. Void (id 0) is black in every space.

:func:`legend_items` lists the classes present in label images (with their pixel share);
:func:`legend_handles` turns them into matplotlib legend patches (for a ``Figure`` drawn without
pyplot) and :func:`legend_strip` draws them as an RGB strip in numpy (for pictures put together
pixel by pixel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthcam_core.errors import InputError
from synthcam_core.labels import class13_names, class37_names, class40_names, class40_to_13, class40_to_37

CLASS_SPACES = (13, 37, 40)
"""The class spaces that have colours (those of :data:`synthcam_core.sample.CLASS_SPACES`)."""

INVALID_RGB = (1.0, 1.0, 1.0)
"""Colour of invalid (0) depth pixels: white."""


def nyu40_colors() -> np.ndarray:
    """(41, 3) float RGB in [0, 1] of NYU40 ids 0..40; id 0 (void) is black.

    Hue steps by the golden ratio per id, saturation and value cycle, so neighbouring ids differ.
    """
    ids = np.arange(41)
    h = (ids * 0.618034) % 1.0
    s = 0.55 + 0.45 * ((ids * 3) % 4) / 3
    v = 0.95 - 0.35 * ((ids * 5) % 3) / 2
    rgb = _hsv_to_rgb(h, s, v)
    rgb[0] = 0.0
    return rgb


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N, 3) float RGB of hue, saturation, value arrays in [0, 1] (the standard six-sector formula)."""
    i = np.floor(h * 6.0).astype(np.int64)
    f = h * 6.0 - i
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    sector = i % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = np.zeros((len(h), 3))
    for k, (r, g, b) in enumerate(choices):
        at = sector == k
        rgb[at] = np.stack([r[at], g[at], b[at]], axis=1)
    return rgb


def _check(classes: int) -> int:
    if isinstance(classes, bool) or classes not in CLASS_SPACES:
        raise InputError(f"classes={classes!r} has no palette; choose one of {', '.join(map(str, CLASS_SPACES))}")
    return int(classes)


def _lut40(classes: int) -> np.ndarray:
    """(41,) NYU40 id -> id in ``classes``."""
    return {13: class40_to_13, 37: class40_to_37}[classes]() if classes != 40 else np.arange(41)


def class_palette(classes: int = 40) -> np.ndarray:
    """(classes + 1, 3) float RGB in [0, 1]: the colour of each class id 0..classes of a class space
    (13, 37 or 40); id 0 (void) is black. A class takes its NYU40 class's colour (module docstring)."""
    lut = _lut40(_check(classes))
    first40 = np.zeros(classes + 1, dtype=np.int64)
    for id40 in range(len(lut) - 1, 0, -1):  # downwards: the smallest NYU40 id of each class wins
        first40[lut[id40]] = id40
    first40[0] = 0
    return nyu40_colors()[first40]


def class_colors(classes: int = 40) -> np.ndarray:
    """(classes + 1, 3) uint8 RGB of :func:`class_palette`, for indexing label images directly."""
    return np.round(class_palette(classes) * 255).astype(np.uint8)


def class_names(classes: int) -> tuple[str, ...]:
    """Names of ids 0..classes of a class space (entry 0 is ``"void"``)."""
    return {13: class13_names, 37: class37_names, 40: class40_names}[_check(classes)]()


def colorize_depth(depth: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """(H, W) float metres -> (H, W, 3) float RGB with the turbo colour map; invalid (0) pixels white."""
    from matplotlib import colormaps

    norm = np.clip((depth - vmin) / max(vmax - vmin, 1e-6), 0.0, 1.0)
    rgb = colormaps["turbo"](norm)[..., :3]
    rgb[depth <= 0] = INVALID_RGB
    return rgb


@dataclass(frozen=True)
class LegendItem:
    """One class a picture shows: its id, name, float RGB colour and share of the counted pixels."""

    class_id: int
    name: str
    color: tuple[float, float, float]
    share: float


def legend_items(
    labels: Sequence[np.ndarray], classes: int, names: Sequence[str] | None = None, void: bool = False
) -> list[LegendItem]:
    """The classes (void only with ``void``) present in any of the (H, W) integer label images ``labels``, most
    pixels first (ties by id); ``share`` is the fraction of all pixels counted, void included.

    classes : the class space (13, 37, 40) giving colours and, unless ``names`` (ids 0..classes) is
    given, names. Counting goes in bands of rows, so a large frame needs little memory.
    """
    names = tuple(names) if names is not None else class_names(classes)
    palette = class_palette(classes)
    counts = np.zeros(classes + 1, dtype=np.int64)
    for image in labels:
        image = np.asarray(image)
        for r in range(0, len(image), 256):
            band = image[r : r + 256].ravel()
            counts += np.bincount(band[(band >= 0) & (band <= classes)].astype(np.int64), minlength=classes + 1)
    total = max(int(counts.sum()), 1)
    ids = np.flatnonzero(counts) if void else np.flatnonzero(counts[1:]) + 1
    order = ids[np.argsort(-counts[ids], kind="stable")]
    return [LegendItem(int(i), names[i], _rgb(palette[i]), counts[i] / total) for i in order]


def _rgb(color: Sequence[float]) -> tuple[float, float, float]:
    """An RGB triple in [0, 1] as three Python floats."""
    r, g, b = color
    return float(r), float(g), float(b)


def _rgb255(color: Sequence[float]) -> tuple[int, int, int]:
    """An RGB triple in [0, 1] as three ints in 0..255 (rounded)."""
    r, g, b = color
    return int(round(255 * r)), int(round(255 * g)), int(round(255 * b))


def legend_handles(items: Sequence[LegendItem], shares: bool = True) -> list:
    """matplotlib ``Patch`` handles of ``items`` (labels ``name (12.3 %)`` with ``shares``) for
    ``Axes.legend`` or ``Figure.legend``; needs no pyplot."""
    from matplotlib.patches import Patch

    return [
        Patch(color=item.color, label=f"{item.name} ({100 * item.share:.1f} %)" if shares else item.name)
        for item in items
    ]


LEGEND_ROW = 16
"""Height in pixels of one row of :func:`legend_strip`."""


def legend_strip(items: Sequence[LegendItem], width: int, title: str = "") -> np.ndarray:
    """(H, width, 3) uint8 RGB: white strip with a colour swatch and the name of each item, filled
    row by row left to right (an item wider than ``width`` gets a row of its own, its name cut);
    ``title`` starts the first row. Drawn with OpenCV's Hershey font, no matplotlib."""
    import cv2

    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    swatch, pad = LEGEND_ROW - 6, 4
    cells: list[tuple[str, tuple[int, int, int] | None]] = [(title, None)] if title else []
    cells += [(item.name, _rgb255(item.color)) for item in items]
    rows: list[list[tuple[int, str, tuple[int, int, int] | None]]] = [[]]
    x = pad
    for text, color in cells:
        text_w = cv2.getTextSize(text, font, scale, thick)[0][0]
        cell_w = (swatch + 3 if color is not None else 0) + text_w + 2 * pad
        if x + cell_w > width and rows[-1]:
            rows.append([])
            x = pad
        rows[-1].append((x, text, color))
        x += cell_w
    strip = np.full((LEGEND_ROW * len(rows) + 2, max(int(width), 1), 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        top = r * LEGEND_ROW + 2
        for x, text, color in row:
            if color is not None:
                cv2.rectangle(strip, (x, top + 2), (x + swatch - 1, top + 1 + swatch), color, thickness=-1)
                cv2.rectangle(strip, (x, top + 2), (x + swatch - 1, top + 1 + swatch), (0, 0, 0), thickness=1)
                x += swatch + 3
            cv2.putText(strip, text, (x, top + LEGEND_ROW - 5), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return strip
