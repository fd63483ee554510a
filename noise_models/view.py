"""What a noise stage reads from a rendered frame (duck-typed; no renderer import).

A frame handed to a stage must provide:

- ``depth``: (H, W) float32 z-depth in metres, 0 = invalid;
- ``normals``: (H, W, 3) float32 unit camera-frame normals facing the camera, or None;
- optionally ``incidence``: (H, W) float32 |cos theta| between each pixel's surface normal and its
  viewing ray (0 where nothing was hit), or None; stages that only need the angle read it instead of
  ``normals`` when a renderer provides it (see :func:`synthcam_core.geometry.surface.incidence_from_normals`);
- ``intrinsics``: an object with ``width, height, fx, fy, cx, cy`` (pixel centres at u + 0.5);
- and be a dataclass, so :class:`noise_models.stages.Compose` can hand each stage the updated depth.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np


class DepthView(Protocol):
    """A frame as a stage reads it (read-only attributes; a dataclass, see the module docstring)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def depth(self) -> np.ndarray: ...

    @property
    def normals(self) -> np.ndarray | None: ...

    @property
    def intrinsics(self) -> Any: ...
