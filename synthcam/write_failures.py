"""Failed writes into the output directory: the errno of a failed write (:func:`write_errno`), its one-line
error (:func:`output_error`, :class:`OutputFullError` when the output is full; :func:`unwritable_error`
for a directory that cannot be written), and the shard writers HDF5 cannot close after such a failure
(:data:`FAILED_WRITERS`, :func:`hdf5_write_failed`, :func:`silence_failed_hdf5_closes`).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from synthcam_core.errors import SynthcamError

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
"""Write errors that mean the output has no room left (no space, file size limit, quota)."""


class OutputFullError(SynthcamError):
    """The output has no room left (no space, a file size limit or a quota): nothing half-written was kept."""


FAILED_WRITERS: list = []
"""Shard writers whose HDF5 file failed to write. HDF5 cannot close such a file: it crashes (SIGSEGV) when
it tries again, which it does when Python frees the writer or when the process exits normally. They are
kept here, never freed, and a process that holds any should end with ``os._exit`` (see
:func:`hdf5_write_failed`); their temporary files are already unlinked."""


def hdf5_write_failed() -> bool:
    """True once a shard write failed in this process (disk full): end the process with ``os._exit`` then,
    since a normal exit runs HDF5's clean-up, which crashes on the failed file."""
    return bool(FAILED_WRITERS)


def silence_failed_hdf5_closes() -> Callable[[], None]:
    """Drop the reports h5py prints when it frees an HDF5 object of a file that failed to write (one
    traceback per open dataset, through ``sys.excepthook`` and ``sys.unraisablehook``, after every
    failed write, which is reported once as a :class:`SynthcamError`); every other report goes to the
    previous hooks. Returns a function that restores them. For processes this tool owns: the
    ``synthcam generate`` command and its workers (a library call leaves process-wide hooks alone)."""
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook

    def unraisable_hook(unraisable) -> None:
        if not (_failed_hdf5_close(unraisable.exc_value) and "h5py" in repr(unraisable.object)):
            previous_unraisable(unraisable)

    def except_hook(exc_type, exc, tb) -> None:
        frames, step = [], tb
        while step is not None:
            frames.append(step.tb_frame.f_code.co_filename)
            step = step.tb_next
        if not (_failed_hdf5_close(exc) and frames and all("h5py" in name for name in frames)):
            previous_except(exc_type, exc, tb)

    sys.unraisablehook, sys.excepthook = unraisable_hook, except_hook

    def restore() -> None:
        sys.unraisablehook, sys.excepthook = previous_unraisable, previous_except

    return restore


def _failed_hdf5_close(exc: BaseException | None) -> bool:
    return isinstance(exc, (RuntimeError, OSError)) and write_errno(exc) is not None


_ERRNO_IN_TEXT = re.compile(r"errno = (\d+)")


def write_errno(exc: BaseException) -> int | None:
    """The errno of a failed write: of ``exc`` or an exception it chains to; HDF5 errors carry it in their
    text (``errno = 28``). None when there is none (not an I/O error)."""
    current: BaseException | None = exc
    seen = 0
    while current is not None and seen < 8:
        code = getattr(current, "errno", None)
        if isinstance(code, int) and code > 0:
            return code
        match = _ERRNO_IN_TEXT.search(str(current))
        if match:
            return int(match.group(1))
        current, seen = current.__cause__ or current.__context__, seen + 1
    return None


def output_error(path: Path, code: int) -> SynthcamError:
    """The one-line error for a failed write of ``path`` with ``errno`` ``code``."""
    reason = os.strerror(code)
    if code in DISK_FULL_ERRNOS:
        return OutputFullError(
            f"cannot write {path.name} in {path.parent} ({reason}): the output is full; "
            f"free space (or raise the limit) and rerun 'synthcam generate' to resume, "
            f"or choose another --out (nothing half-written was kept)"
        )
    return SynthcamError(
        f"cannot write {path.name} in {path.parent} ({reason}); check the --out directory "
        f"and rerun 'synthcam generate' to resume"
    )


def unwritable_error(out_dir: Path, exc: OSError) -> SynthcamError:
    """The one-line error for an output directory that cannot be created or written."""
    return SynthcamError(f"cannot write to output directory {out_dir} ({exc.strerror}); choose a writable --out")
