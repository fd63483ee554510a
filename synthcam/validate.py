"""Dataset validation for ``synthcam validate``: every shard, every frame, against the manifest.

Checks the format name and version, completeness, dataset shapes and dtypes, the CRC32 of every
stored frame, the per-frame class pixel counts, and (for a dataset directory) the shard list, frame
counts and class pixel totals of ``manifest.json``, missing shards, extra and partial (``.synthcam-partial``) files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from synthcam.errors import ShardError
from synthcam.shards import CHECKSUM_FIELDS, MANIFEST, SHARD_SUFFIX, TEMP_SUFFIX, ShardFile, read_manifest

_ALL_STORED = ("depth_mm", "depth_clean_mm", "class40", "instance", "pose", "timestamp", "trajectory_id")


@dataclass(frozen=True)
class ShardProblem:
    """What is wrong with one file of a dataset: ``name`` (file name) and a one-line ``problem``."""

    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.name}: {self.problem}"


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate_path`: shards and frames checked, and every problem found."""

    path: Path
    shards: int
    frames: int
    problems: tuple[ShardProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _reason(exc: Exception, path: Path) -> str:
    """The message of ``exc`` without the leading shard path or name (the report names the shard)."""
    text = str(exc)
    for prefix in (f"{path}: ", f"{path} ", f"{path.name}: ", f"{path.name} "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def validate_shard(path: Path, expected_frames: int | None = None,
                   expected_pixels: list[int] | None = None) -> tuple[int, str | None]:
    """Check one shard completely; returns (frames verified, first problem or None).

    expected_frames, expected_pixels : the manifest's frame count and class40 pixel totals, if any.
    """
    path = Path(path)
    try:
        shard = ShardFile(path)
    except ShardError as exc:
        return 0, _reason(exc, path)
    with shard:
        n, h, w = len(shard), shard.height, shard.width
        if expected_frames is not None and n != expected_frames:
            return 0, f"has {n} frames but {MANIFEST} lists {expected_frames}"
        if (w, h) != (shard.intrinsics.width, shard.intrinsics.height):
            return 0, f"images are {w}x{h} but its intrinsics say {shard.intrinsics.width}x{shard.intrinsics.height}"
        f = shard._file()
        expected = {"depth": ((n, h, w), np.uint16), "depth_clean": ((n, h, w), np.uint16),
                    "class40": ((n, h, w), np.uint8), "instance": ((n, h, w), np.uint16),
                    "pose": ((n, 4, 4), np.float64), "timestamp": ((n,), np.float64), "trajectory_id": ((n,), np.int64),
                    "checksum": ((n, len(CHECKSUM_FIELDS)), np.uint32),
                    "class40_pixels": ((n, len(shard.class_names)), np.int64)}
        for name, (shape, dtype) in expected.items():
            ds = f[name]
            if ds.shape != shape or ds.dtype != dtype:
                return 0, f"dataset {name} is {ds.shape} {ds.dtype}, expected {shape} {np.dtype(dtype)}"
        pixels = np.zeros(len(shard.class_names), dtype=np.int64)
        for i in range(n):
            try:
                frame = shard.read_frame(i, _ALL_STORED, verify=True)
            except ShardError as exc:
                return i, _reason(exc, path)
            counts = np.bincount(frame["class40"].ravel(), minlength=len(pixels))[: len(pixels)]
            if not np.array_equal(counts, shard.class40_pixels[i]):
                return i, f"frame {i} class40 pixel counts do not match its labels"
            pixels += counts
        if expected_pixels is not None and pixels.tolist() != list(expected_pixels):
            return n, f"class40 pixel totals differ from {MANIFEST}"
    return n, None


def validate_path(path: Path, on_shard: Callable[[Path], None] | None = None) -> ValidationReport:
    """Validate a shard file or a dataset directory (see module docstring).

    Raises :class:`ShardError` if ``path`` does not exist or a directory holds nothing to check;
    every problem with the data itself is reported in the :class:`ValidationReport`.
    """
    path = Path(path)
    if path.is_file():
        frames, problem = validate_shard(path)
        if on_shard is not None:
            on_shard(path)
        return ValidationReport(path, 1, frames, (ShardProblem(path.name, problem),) if problem else ())
    if not path.is_dir():
        raise ShardError(f"{path} does not exist; pass a shard (.h5) or a dataset directory")
    problems: list[ShardProblem] = []
    try:
        manifest = read_manifest(path)
    except ShardError as exc:
        manifest = None
        problems.append(ShardProblem(MANIFEST, _reason(exc, path / MANIFEST)))
    on_disk = {p.name for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file()}
    partial = sorted(p.name for p in path.glob(f"*{SHARD_SUFFIX}{TEMP_SUFFIX}"))
    if manifest is None:
        if not problems:
            problems.append(ShardProblem(MANIFEST, "missing: the generation did not finish; rerun 'synthcam generate' "
                                                   "with the same options to resume it"))
        listed = {name: (None, None) for name in sorted(on_disk)}
    else:
        listed = {s["file"]: (s.get("frames"), s.get("class40_pixels")) for s in manifest["shards"]}
    if not listed and not partial and not problems:
        raise ShardError(f"{path} holds no shards (*.h5); run 'synthcam generate --out {path}' first")
    problems += [ShardProblem(name, "partial shard left by an interrupted run; rerun 'synthcam generate' to finish it")
                 for name in partial]
    problems += [ShardProblem(name, f"not listed in {MANIFEST}") for name in sorted(on_disk - set(listed))]
    frames = checked = 0
    for name, (want_frames, want_pixels) in listed.items():
        if name not in on_disk:
            problems.append(ShardProblem(name, f"missing (listed in {MANIFEST})"))
            continue
        n, problem = validate_shard(path / name, want_frames, want_pixels)
        checked += 1
        frames += n
        if problem:
            problems.append(ShardProblem(name, problem))
        if on_shard is not None:
            on_shard(path / name)
    if manifest is not None and not problems and frames != manifest.get("frames"):
        problems.append(ShardProblem(MANIFEST, f"says {manifest.get('frames')} frames but the shards hold {frames}"))
    return ValidationReport(path, checked, frames, tuple(problems))
