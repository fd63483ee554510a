"""TUM RGB-D trajectory files: one camera pose per line, read strictly.

Each line is ``timestamp tx ty tz qx qy qz qw`` (seconds; metres; a unit quaternion, **w last** as TUM
writes it), separated by spaces or tabs; ``#`` starts a comment and blank lines are skipped. A pose is
camera-to-world with the OpenCV camera axes (x right, y down, z forward), as every pose of the project.

:func:`read_tum` refuses, in one line naming the file and line, anything else: a file larger than
:data:`MAX_TUM_BYTES`, text that is not UTF-8, a line with another number of fields, a field that is
not a finite number, a quaternion whose norm is off 1 by more than :data:`UNIT_TOLERANCE`, timestamps
that do not increase, and a file with no pose. :func:`write_tum` writes the same format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from synthcam_core.atomic_file import write_atomic
from synthcam_core.errors import InputError
from synthcam_core.geometry.se3 import quaternion_to_rotation, rotation_to_quaternion

MAX_TUM_BYTES = 64 << 20
"""Largest trajectory file read (about a million poses of 60 characters)."""
UNIT_TOLERANCE = 1e-3
"""Largest | |q| - 1 | accepted: TUM files print quaternions to 4 decimals or more."""
FIELDS = 8
"""Numbers on a pose line: timestamp, tx, ty, tz, qx, qy, qz, qw."""


@dataclass(frozen=True)
class Trajectory:
    """Poses read from a TUM file, in file order.

    timestamps : (N,) float64 seconds, increasing; poses : (N, 4, 4) float64 camera-to-world (metres).
    lines : (N,) int64 1-based line number of each pose in the file (for messages).
    """

    path: Path
    timestamps: np.ndarray
    poses: np.ndarray
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamps)


def _text(path: Path, option: str) -> str:
    """The file's text; one-line errors for a missing, special, oversized or non-UTF-8 file."""
    where = f"{option} {path}"
    if path.exists() and not path.is_file() and not path.is_dir():  # a pipe would block, a device never end
        raise InputError(f"{where} is not a regular file (a pipe or device); pass a TUM trajectory file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TUM_BYTES + 1)
    except FileNotFoundError:
        raise InputError(
            f"{where} does not exist; pass a TUM trajectory file (timestamp tx ty tz qx qy qz qw)"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{where} is a directory; pass a TUM trajectory file") from None
    except OSError as exc:
        raise InputError(f"cannot read {where}: {exc.strerror}; check the file") from None
    if len(data) > MAX_TUM_BYTES:
        raise InputError(f"{where} is larger than {MAX_TUM_BYTES} bytes; pass a TUM trajectory file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where} is not text; pass a TUM trajectory file (timestamp tx ty tz qx qy qz qw)") from None


def _numbers(line: str, where: str) -> list[float]:
    """The eight finite numbers of a pose line."""
    tokens = line.split()
    if len(tokens) != FIELDS:
        raise InputError(
            f"{where} has {len(tokens)} fields, not {FIELDS} (timestamp tx ty tz qx qy qz qw); fix the line"
        )
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise InputError(f"{where}: {token[:20]!r} is not a number; fix the line") from None
        if not math.isfinite(value):
            raise InputError(f"{where}: {token[:20]!r} is not a finite number; fix the line")
        values.append(value)
    return values


def read_tum(path: str | Path, option: str = "--poses") -> Trajectory:
    """The poses of a TUM RGB-D trajectory file (module docstring); ``option`` names the file in errors.

    Each quaternion is normalised after the tolerance check, so every rotation is orthonormal.
    Raises :class:`InputError` (one line naming the file and line) for anything the module docstring refuses.
    """
    path = Path(path)
    text = _text(path, option)
    stamps: list[float] = []
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{option} {path} line {number}"
        t, tx, ty, tz, qx, qy, qz, qw = _numbers(line, where)
        norm = math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw)
        if abs(norm - 1.0) > UNIT_TOLERANCE:
            raise InputError(f"{where}: quaternion (qx qy qz qw) has norm {norm:.6g}, not 1; fix the line")
        if stamps and t <= stamps[-1]:
            raise InputError(f"{where}: timestamp {t!r} does not follow {stamps[-1]!r}; sort the poses by time")
        stamps.append(t)
        rows.append([tx, ty, tz, qw, qx, qy, qz])
        lines.append(number)
    if not rows:
        raise InputError(f"{option} {path} holds no pose lines (timestamp tx ty tz qx qy qz qw); pass a TUM file")
    values = np.asarray(rows, dtype=np.float64)
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    poses[:, :3, :3] = quaternion_to_rotation(torch.from_numpy(values[:, 3:])).numpy()
    poses[:, :3, 3] = values[:, :3]
    return Trajectory(path, np.asarray(stamps, dtype=np.float64), poses, np.asarray(lines, dtype=np.int64))


def write_tum(path: str | Path, timestamps: np.ndarray, poses: np.ndarray, option: str = "--out") -> Path:
    """Write (N,) timestamps (s) and (N, 4, 4) camera-to-world poses (m) as a TUM file, atomically;
    quaternions are printed w last with w >= 0, nine decimals (what :func:`read_tum` reads back)."""
    poses = np.asarray(poses, dtype=np.float64)
    quaternions = rotation_to_quaternion(torch.from_numpy(np.ascontiguousarray(poses[:, :3, :3]))).numpy()
    lines = ["# timestamp tx ty tz qx qy qz qw"]
    for t, pose, (w, x, y, z) in zip(np.asarray(timestamps, dtype=np.float64), poses, quaternions):
        tx, ty, tz = pose[:3, 3]
        lines.append(" ".join(f"{v:.9f}" for v in (t, tx, ty, tz, x, y, z, w)))
    data = ("\n".join(lines) + "\n").encode()

    def write(file: BinaryIO) -> None:
        file.write(data)

    write_atomic(path, write, option)
    return Path(path)
