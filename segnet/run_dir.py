"""The run directory of ``synthcam train``: which files it holds, the check before a run starts,
saving a completed epoch, and the message of a run that stopped being finite.

A run directory holds :data:`RUN_FILES`. A new run never starts in a directory that holds any of
them, and a resume needs ``last.pt`` (:func:`check_out_dir`). :func:`save_epoch` writes an epoch's
checkpoints (``best.pt`` first, then ``last.pt``, then on the first epoch ``config.json``), each
under a fresh temporary name and renamed (:mod:`segnet.runfiles`), so the directory always holds a
resumable pair; :func:`diverged` is the one-line error of a run whose loss or weights became NaN.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from segnet.config import TrainConfig
from segnet.runfiles import save_state, write_text
from synthcam_core.errors import SynthcamError

RUN_FILES = ("last.pt", "best.pt", "config.json", "history.json", "curves.png")
"""Files of a run directory; a new run never starts in a directory that holds any of them."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` with torch.save under a fresh temporary name, then rename (never a half
    file, never a file this tool did not create; see :func:`synthcam_core.atomic_file.write_atomic`)."""
    save_state(path, state)


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse an ``out`` that is a file, a new run in a directory that already holds run files
    (:data:`RUN_FILES`; they are never replaced by a new run), and a resume without ``last.pt`` or
    with a run file that is not a regular file."""
    if out.exists() and not out.is_dir():
        raise SynthcamError(f"--out {out} is a file; pass a directory for the run")
    if not resume:
        for name in RUN_FILES:
            if (out / name).exists() or (out / name).is_symlink():
                if not (out / "last.pt").exists():  # nothing to resume: --resume would be a dead end
                    raise SynthcamError(
                        f"{out} holds {name} but no last.pt to resume from; move {name} away "
                        f"(it is never replaced) or choose another --out"
                    )
                raise SynthcamError(
                    f"{out} already holds {name} of a run; pass --resume to continue it or choose another --out"
                )
        return
    if not (out / "last.pt").exists():
        raise SynthcamError(f"nothing to resume: {out / 'last.pt'} does not exist")
    for name in RUN_FILES:
        if name != "last.pt" and (out / name).exists() and not (out / name).is_file():
            raise SynthcamError(f"{out / name} is not a file this run wrote; move it away, then --resume again")


def save_epoch(out: Path, state: dict, config: TrainConfig, improved: bool, first: bool, fresh: bool) -> None:
    """Save a completed epoch: ``best.pt`` (if ``improved``), ``last.pt``, and on the ``first``
    epoch of this call ``config.json``, in that order.

    ``best.pt`` comes first, so a ``last.pt`` that could not be written leaves the previous epoch's
    pair, which ``--resume`` repeats from. In a ``fresh`` run (the directory held no run file when
    it started, see :func:`check_out_dir`) a failure removes the run files this call has written: a
    directory never holds run files without ``last.pt``, which would refuse a new run and have
    nothing to resume. The failure itself is a one-line :class:`SynthcamError`.
    """
    written: list[Path] = []
    try:
        if improved:
            save_checkpoint(out / "best.pt", state)
            written.append(out / "best.pt")
        save_checkpoint(out / "last.pt", state)
        written.append(out / "last.pt")
        if first:
            write_text(out / "config.json", json.dumps(asdict(config), indent=1) + "\n")
    except BaseException:
        if fresh:
            for path in written:
                path.unlink(missing_ok=True)
        raise


def diverged(config: TrainConfig, out: Path, epoch: int, step: int | None, what: str) -> SynthcamError:
    """The one-line error for a run whose loss or weights stopped being finite (``epoch`` 1-based,
    ``step`` 1-based in that epoch or None): what ``last.pt`` and ``best.pt`` keep, and what to do."""
    at = f"epoch {epoch}, step {step}" if step else f"epoch {epoch}"
    saved = out / "last.pt"
    keep = (
        f"; last.pt keeps epoch {epoch - 1} and best.pt the best epoch before it, so a new run with "
        f"--init {saved} starts from there"
        if saved.is_file() and epoch > 1
        else "; no checkpoint was written"
    )
    return SynthcamError(f"training diverged: {what} at {at}{keep}; lower --lr (it is {config.lr:g}) or check the data")
