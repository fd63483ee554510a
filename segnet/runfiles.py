"""Run files written atomically: a crash leaves the previous file or the new one, never a half file.

:func:`synthcam.atomic_file.write_atomic` writes a run file (checkpoint, ``config.json``,
``history.json``, ``curves.png``) under a fresh temporary name of its own, created exclusively (never
an existing file, never through a symbolic link), and renames it over the target when complete: no
file the tool did not create is ever written into. :func:`save_state` and :func:`write_text` are its
two uses here; :func:`make_directory` creates an output directory.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synthcam.atomic_file import TEMP_SUFFIX, first_line, write_atomic  # noqa: F401  (re-exported)
from synthcam.errors import SynthcamError


def make_directory(path: str | Path, option: str) -> None:
    """Create directory ``path`` with its parents (an existing one is kept); a failure raises a
    one-line :class:`SynthcamError` naming the command-line ``option`` that gave the path."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"cannot create {option} {path}: {exc.strerror}; choose a writable directory") from None


def save_state(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: torch.save(state, file))


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))
