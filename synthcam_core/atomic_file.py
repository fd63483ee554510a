"""Files written atomically: a crash leaves the previous file or the new one, never a half file, and
nothing is ever written through a file or link the tool did not create.

:func:`write_atomic` is used for run files (checkpoints, ``config.json``, ``history.json``,
``curves.png``) and preview pictures.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from synthcam_core.errors import SynthcamError

TEMP_SUFFIX = ".synthcam-partial"
"""Suffix of a file being written (``.last.pt.<pid>-<random>.synthcam-partial``); a name of this
form is created exclusively by :func:`write_atomic` and renamed or removed by it."""


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of an exception's message, at most ``limit`` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object], option: str = "--out") -> None:
    """Write ``path`` through ``write(file)`` under a fresh temporary name, then rename it over ``path``.

    The temporary file is created exclusively (``O_EXCL | O_NOFOLLOW``) next to ``path``, flushed to
    disk before the rename, and removed if writing fails; an existing ``path`` is replaced only by
    the rename (a symbolic link at ``path`` is replaced, never written through). A failure to write
    raises a one-line :class:`SynthcamError` that names ``option``, the command-line option of ``path``.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp: Path | None = None
    fd = -1
    for _ in range(8):
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise SynthcamError(f"cannot write {path}: {exc.strerror}; choose a writable {option}") from None
    if fd < 0 or tmp is None:
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
        raise SynthcamError(f"cannot write {path}: {what}; free disk space or choose another {option}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data, option: str = "--json", indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` (through a link, to the file it names) with :func:`write_atomic`,
    so a failed write never leaves a half-written file; a link that leads nowhere (a loop) is one
    :class:`SynthcamError` naming ``option``."""
    import json

    target = Path(os.path.realpath(path))
    if target.is_symlink():
        raise SynthcamError(f"{option} {path} is a link that leads nowhere (a loop); pass a file name")
    text = (json.dumps(data, indent=indent) + "\n").encode()
    write_atomic(target, lambda file: file.write(text), option)
