"""Optional dependencies: each belongs to one extra of the ``synthcam3d`` distribution, and its absence is one
error line naming that extra.

==========  ===============================  =================================================
extra       packages                         needed for
==========  ===============================  =================================================
``gl``      PyOpenGL                         the ``gl`` renderer (headless EGL)
``pyrender`` pyrender, PyOpenGL              the ``pyrender`` renderer
``ray``     ray                              ``synthcam generate --ray`` (rooms on a Ray cluster)
``train``   tensorboard                      TensorBoard scalars written by ``synthcam train``
==========  ===============================  =================================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

from synthcam_core.errors import SynthcamError

#: extra name -> the top-level modules it installs
EXTRAS: dict[str, tuple[str, ...]] = {
    "gl": ("OpenGL",),
    "pyrender": ("pyrender", "OpenGL"),
    "ray": ("ray",),
    "train": ("tensorboard",),
}


class MissingExtraError(SynthcamError):
    """An optional dependency that is not installed; the message names the extra that installs it."""


def missing_extra(extra: str, purpose: str, module: str) -> MissingExtraError:
    """The error for ``module`` missing: ``purpose`` (e.g. "the pyrender renderer") needs ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(sorted(EXTRAS))}")
    return MissingExtraError(
        f"{purpose} needs the optional package {module!r}, which is not installed; "
        f"install it with: pip install 'synthcam3d[{extra}]'"
    )


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` (dotted) or raise :class:`MissingExtraError` naming ``extra``.

    Only a missing module of the extra's own packages becomes that error; an installed package that fails to
    import (a missing system library, a broken install) keeps its own exception, so its cause is not hidden.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in EXTRAS.get(extra, ()):
            raise missing_extra(extra, purpose, top) from None
        raise
