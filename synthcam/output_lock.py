"""The lock of an output directory: one run at a time writes it (:func:`output_lock`).

The lock is ``fcntl.flock`` on the file :data:`LOCK_NAME` in the directory, holding the owner's pid; a file
under that name that synthcam did not write is never overwritten or removed.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthcam.write_failures import output_error, unwritable_error
from synthcam_core.errors import SynthcamError

LOCK_NAME = ".synthcam.lock"
"""The lock file of an output directory (holds the pid of the run that owns the directory)."""
MAX_LOCK_BYTES = 32
"""Largest lock file synthcam writes (a pid in decimal and a newline); a larger file under :data:`LOCK_NAME`
is not its."""

_LOCKED: set[str] = set()
"""Output directories (resolved paths) this process holds the lock of."""


@contextmanager
def output_lock(out_dir: Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``out_dir`` (created if needed) for the ``with`` block; yields the directory.

    The lock is ``fcntl.flock`` on ``out_dir/.synthcam.lock``, opened without following a symbolic link,
    with this process's pid written in it; forked workers share it and the kernel drops it when the last
    holder dies, so a killed run never leaves a stale lock. The file is removed on release if it is
    still synthcam's (:func:`_is_lock_text`). Raises :class:`SynthcamError` naming the holder's pid if
    another run holds the lock, and one line if the directory cannot be created or the lock file is a
    link, not a regular file, or a file synthcam did not write (left untouched).
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable_error(out_dir, exc) from None
    path = out_dir / LOCK_NAME
    fd = _acquire_lock(path)
    key = str(out_dir.resolve())
    _LOCKED.add(key)
    try:
        yield out_dir
    finally:
        _LOCKED.discard(key)
        _release_lock(fd, path)


def _acquire_lock(path: Path, tries: int = 20) -> int:
    """Open, lock and stamp the lock file ``path``; returns its descriptor (see :func:`output_lock`)."""
    import fcntl

    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    for _ in range(tries):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise _lock_file_error(path, exc) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SynthcamError(
                    f"{path} is not a regular file, so it cannot be synthcam's lock; move it away "
                    f"or choose another --out"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SynthcamError(
                    f"{path.parent} is in use by another 'synthcam generate' (pid {_lock_holder(fd)}); "
                    f"wait for it to finish, or choose another --out"
                ) from None
            except OSError as exc:
                raise SynthcamError(
                    f"cannot lock {path} ({exc.strerror}); use an --out on a local file system"
                ) from None
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
                os.close(fd)  # the previous holder removed this file as we opened it: lock the new one
                continue
            if not _is_lock_text(_read_lock(fd)):
                raise SynthcamError(
                    f"{path} is not a lock file synthcam wrote, so synthcam will not overwrite it; "
                    f"move it away, or choose another --out"
                )
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:
                raise output_error(path, exc.errno or errno.EIO) from None
            return fd
        except BaseException:
            os.close(fd)
            raise
    raise SynthcamError(f"cannot take the lock {path}: it keeps being replaced; stop the other runs on this --out")


def _lock_file_error(path: Path, exc: OSError) -> SynthcamError:
    if exc.errno == errno.ELOOP:
        return SynthcamError(
            f"{path} is a symbolic link; synthcam never writes through links in --out: remove it "
            f"or choose another --out"
        )
    if exc.errno == errno.EISDIR:
        return SynthcamError(
            f"{path} is a directory, so it cannot be synthcam's lock; move it away or choose another --out"
        )
    return unwritable_error(path.parent, exc)


def _read_lock(fd: int) -> bytes:
    """Up to ``MAX_LOCK_BYTES + 1`` bytes from the start of the open lock file ``fd``."""
    return os.pread(fd, MAX_LOCK_BYTES + 1, 0)


def _is_lock_text(data: bytes) -> bool:
    """Whether ``data`` (the start of a file named :data:`LOCK_NAME`) is what synthcam writes there: nothing
    (a lock created but not yet stamped) or one pid in ASCII decimal and a newline, at most MAX_LOCK_BYTES."""
    if not data:
        return True
    pid = data[:-1]
    return len(data) <= MAX_LOCK_BYTES and data.endswith(b"\n") and pid.isdigit() and pid.isascii()


def _lock_holder(fd: int, wait_s: float = 1.0) -> str:
    """The pid written in a lock file held by another process ("unknown" if it writes none in ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)


def _release_lock(fd: int, path: Path) -> None:
    """Remove the lock file (if it is still the one locked and still holds this process's pid, as
    :func:`_acquire_lock` wrote it) and close it, which releases the lock."""
    try:
        info, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        ours = _read_lock(fd) == f"{os.getpid()}\n".encode()
        if ours and (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)


def holds_output_lock(out_dir: Path) -> bool:
    """Whether this process holds the lock of ``out_dir`` (inside :func:`output_lock` of it)."""
    return str(Path(out_dir).resolve()) in _LOCKED
