"""The noise-stage contract: the :class:`Stage` base class and the incidence angle a stage may read.

Each stage is a frozen dataclass whose fields are its parameters. ``stage(frame, rng)`` returns a new
(H, W) float32 depth array in metres (0 = invalid) and never mutates its input. Random draws are
float32 and come only from the ``numpy.random.Generator`` passed in (normal draws through
:func:`noise_models.sampling.standard_normal`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from noise_models.view import DepthView
from synthcam_core.geometry.surface import incidence_from_normals


class Stage:
    """Base class: subclasses are frozen dataclasses and implement ``__call__(frame, rng) -> depth``."""

    #: Declared for type checkers: every concrete stage is a dataclass (its fields are its parameters).
    __dataclass_fields__: ClassVar[dict[str, Any]]

    needs_normals: bool = False
    #: True when the stage reads the incidence angle (``frame.incidence``, or derived from normals).
    needs_incidence: bool = False
    #: True for a correlation-window test that widens every hole and depth edge by a few pixels (the
    #: conformance suite measures the projector shadow without such stages).
    widens_edges: bool = False

    def __call__(self, frame: DepthView, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def incidence_cosine(frame: DepthView) -> np.ndarray:
    """(H, W) float32 |cos theta|, theta the angle between the surface normal and the viewing ray: the
    frame's ``incidence`` when the renderer provided it (read-only here), else from its ``normals``."""
    incidence = getattr(frame, "incidence", None)
    if incidence is not None:
        return incidence
    if frame.normals is None:
        raise ValueError("this noise stage needs the incidence angle; render with incidence=True (or normals=True)")
    return incidence_from_normals(frame.normals, frame.intrinsics)
