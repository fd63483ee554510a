"""Run files written atomically: a crash leaves the previous file or the new one, never a half file.

:func:`synthcam_core.atomic_file.write_atomic` writes a run file (checkpoint, ``config.json``,
``history.json``, ``curves.png``) under a fresh temporary name of its own, created exclusively (never
an existing file, never through a symbolic link), and renames it over the target when complete: no
file the tool did not create is ever written into. :func:`save_state` and :func:`write_text` are its
two uses here; :func:`make_directory` creates an output directory. :func:`write_run_config` writes the
run's settings as ``config.yaml`` (:mod:`synthcam_core.config_file`), which ``synthcam train --config``
reads back; :func:`check_config_out` refuses, before a run starts, a ``config.yaml`` synthcam did not write.
"""

from __future__ import annotations

from pathlib import Path

import torch

from synthcam_core.atomic_file import first_line, write_atomic
from synthcam_core.config_file import CONFIG_NAME, config_text, config_values, is_written_config
from synthcam_core.errors import SynthcamError


def make_directory(path: str | Path, option: str) -> None:
    """Create directory ``path`` with its parents (an existing one is kept); a failure raises a
    one-line :class:`SynthcamError` naming the command-line ``option`` that gave the path."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"cannot create {option} {path}: {exc.strerror}; choose a writable directory") from None


def save_state(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically (see :func:`write_atomic`).

    A failed write is reported in plain words: torch turns the file's ``OSError`` (a full disk,
    a file size limit) into a ``RuntimeError`` that quotes its C++ source; :func:`_torch_save`
    hands on the ``OSError`` itself, so the one-line error names the cause (``No space left on
    device``), never torch's internals.
    """
    write_atomic(path, lambda file: _torch_save(state, file))


def _torch_save(state: dict, file) -> None:
    """``torch.save(state, file)``; a failure raises ``OSError`` with a plain message."""
    try:
        torch.save(state, file)
    except RuntimeError as exc:
        cause = _os_error_behind(exc)
        if cause is not None and cause.strerror:
            raise OSError(cause.errno, cause.strerror) from None
        raise OSError(f"the write failed{_plain_reason(exc)}") from None


def _os_error_behind(exc: BaseException) -> OSError | None:
    """The first ``OSError`` in the cause/context chain of ``exc`` (at most 8 links), else None."""
    link = exc.__cause__ or exc.__context__
    for _ in range(8):
        if link is None or isinstance(link, OSError):
            return link
        link = link.__cause__ or link.__context__
    return None


def _plain_reason(exc: BaseException) -> str:
    """``" (reason)"`` from torch's message without its C++ location (``[enforce fail at x.cc:1]``),
    or ``""`` where nothing plain is left."""
    text = first_line(exc, limit=100)
    if "]" in text and text.lstrip().startswith("["):
        text = text.split("]", 1)[1]
    text = text.strip(" .:")
    if not text or ".cc" in text or ".cpp" in text:
        return ""
    if text.startswith("unexpected pos"):
        return " (the file came out shorter than written)"
    return f" ({text})"


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))


def check_config_out(out: str | Path) -> None:
    """Refuse a run directory whose ``config.yaml`` synthcam did not write (a user's settings file there
    would be replaced at the end of the run); one line saying what to do."""
    path = Path(out) / CONFIG_NAME
    if is_written_config(path) is False:
        raise SynthcamError(
            f"{path} is not a config file synthcam wrote, and a run writes its settings there; "
            f"move it away or choose another --out"
        )


def write_run_config(out: str | Path, config=None) -> Path:
    """Write ``out/config.yaml``: the settings of ``config`` (a :class:`~segnet.config.TrainConfig`), or
    without one those saved in ``out/last.pt`` (a resumed run, whose epochs, device and workers may have
    changed). ``synthcam train --config`` on it trains the same run again."""
    from segnet.checkpoint import load_checkpoint
    from segnet.config import TrainConfig

    if config is None:
        config = TrainConfig.from_dict(load_checkpoint(Path(out) / "last.pt")["config"])
    check_config_out(out)
    path = Path(out) / CONFIG_NAME
    write_text(
        path,
        config_text(
            "train", config_values(config), "the same run again: synthcam train --config THIS_FILE --out NEW_DIR"
        ),
    )
    return path
