"""Run files written atomically: a crash leaves the previous file or the new one, never a half file.

:func:`write_atomic` writes a run file (checkpoint, ``config.json``, ``history.json``,
``curves.png``) under a fresh temporary name of its own, created exclusively (never an existing
file, never through a symbolic link), and renames it over the target when complete: no file the
tool did not create is ever written into. :func:`save_state` and :func:`write_text` are its two
uses; :func:`make_directory` creates an output directory; :func:`first_line` shortens an exception
to one line for the messages of this package.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable

import torch

from synthcam.errors import SynthcamError

TEMP_SUFFIX = ".synthcam-partial"
"""Suffix of a run file being written (``.last.pt.<pid>-<random>.synthcam-partial``); a name of
this form is created exclusively by :func:`write_atomic` and renamed or removed by it."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of an exception's message, at most ``limit`` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_directory(path: str | Path, option: str) -> None:
    """Create directory ``path`` with its parents (an existing one is kept); a failure raises a
    one-line :class:`SynthcamError` naming the command-line ``option`` that gave the path."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"cannot create {option} {path}: {exc.strerror}; choose a writable directory") from None


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)`` under a fresh temporary name, then rename it over ``path``.

    The temporary file is created exclusively (``O_EXCL | O_NOFOLLOW``) next to ``path``, flushed to
    disk before the rename, and removed if writing fails; an existing ``path`` is replaced only by
    the rename (a symbolic link at ``path`` is replaced, never written through). A failure to write
    raises a one-line :class:`SynthcamError`.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = None, -1
    for _ in range(8):
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise SynthcamError(f"cannot write {path}: {exc.strerror}; choose a writable --out") from None
    if fd < 0:
        raise SynthcamError(f"cannot create a temporary file next to {path}; remove stale {TEMP_SUFFIX} files there")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write (disk full) as RuntimeError
        tmp.unlink(missing_ok=True)
        what = "it is a directory" if path.is_dir() else getattr(exc, "strerror", None) or first_line(exc)
        raise SynthcamError(f"cannot write {path}: {what}; free disk space or choose another --out") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_state(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: torch.save(state, file))


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))
