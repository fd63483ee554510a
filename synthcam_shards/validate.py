"""Dataset validation for ``synthcam validate``: every shard, every frame, against the manifest.

Checks the format name and version, completeness, the declared layout and sizes, the header digest
(every attribute, name list, label table, the intrinsics, poses and checksum table), the CRC32 of
every stored frame, the per-frame class pixel counts, and that every value is in range (class ids
0..40, instance ids of the shard's scene table, rigid finite poses, finite timestamps, intrinsics,
label tables; in a version 3 shard, flow mask codes 0..3 and flow 0 wherever the mask is not 1); and, for a
dataset directory, ``manifest.json``: its format, config, class names, shard
list, frame counts and class pixel totals, missing shards, extra and partial (``.synthcam-partial``) files.
Reading is frame by frame, so memory stays at one frame (at most 4096 x 4096 x 7 bytes, 112 MiB; with
flow 4096 x 4096 x 16 bytes, 256 MiB, the stored flow and its (H, W, 2) copy) and a few MiB besides whatever
the shard declares. Running out of memory stops validation with
:class:`~synthcam_shards.manifest.NotEnoughMemory` (a limit of the machine, not a problem of the data).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthcam_core.errors import ShardError
from synthcam_shards.format import (
    FLOW_LIMIT,
    FLOW_MASK_CODES,
    FLOW_VALID,
    MANIFEST,
    SHARD_SUFFIX,
    TEMP_SUFFIX,
    class_counts,
)
from synthcam_shards.manifest import NotEnoughMemory, not_enough_memory, read_manifest
from synthcam_shards.shard_file import ShardFile

_ALL_STORED = ("depth_mm", "depth_clean_mm", "class40", "instance", "pose", "timestamp", "trajectory_id")
_FLOW_STORED = ("flow_raw", "flow_mask")
ROTATION_TOLERANCE = 1e-6
"""Largest deviation of a pose's rotation from orthonormal (max |R^T R - I|, |det R - 1|) accepted."""
DEPTH_UNIT_M = 0.001
"""The only depth unit of the format: stored uint16 values are millimetres."""
MAX_INSTANCE_ID = 65535
"""Largest instance id (stored as uint16)."""


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
            return text[len(prefix) :]
    return text


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True)


def _header_problem(shard: ShardFile) -> str | None:
    """The first out-of-range value among what a shard holds besides its frames (None if none)."""
    k = shard.intrinsics
    if not (k.fx > 0 and k.fy > 0 and 0 <= k.cx <= k.width and 0 <= k.cy <= k.height):
        return (
            f"intrinsics fx {k.fx}, fy {k.fy}, cx {k.cx}, cy {k.cy} are not a camera of its {k.width}x{k.height} "
            f"images (focal lengths > 0, principal point inside the image)"
        )
    for name, table, names in (
        ("class40_to_13", shard.class40_to_13, shard.class13_names),
        ("class40_to_37", shard.class40_to_37, shard.class37_names),
    ):
        if int(table.max()) >= len(names) or table[0] != 0:
            return f"label table {name} maps to ids outside 0..{len(names) - 1} (or void to a class)"
    if shard.attrs.get("depth_unit_m") != DEPTH_UNIT_M or shard.attrs.get("checksum") != "crc32":
        unit, checksum = shard.attrs.get("depth_unit_m"), shard.attrs.get("checksum")
        return f"depth_unit_m {unit!r} or checksum {checksum!r} is not the format's"
    poses = shard.poses
    if len(poses):
        bad = ~np.isfinite(poses).all(axis=(1, 2))
        rotation = poses[:, :3, :3]
        gram = np.abs(np.einsum("nji,njk->nik", rotation, rotation) - np.eye(3)).max(axis=(1, 2))
        det = np.linalg.det(np.where(np.isfinite(rotation), rotation, 0.0))
        bad |= ~(gram <= ROTATION_TOLERANCE) | ~(np.abs(det - 1.0) <= ROTATION_TOLERANCE)
        bad |= ~(poses[:, 3] == [0.0, 0.0, 0.0, 1.0]).all(axis=1)
        if bad.any():
            return (
                f"pose of frame {int(np.flatnonzero(bad)[0])} is not a rigid camera-to-world transform "
                f"(finite, orthonormal rotation with det +1, last row 0 0 0 1)"
            )
    if not np.isfinite(shard.timestamps).all():
        return f"timestamp of frame {int(np.flatnonzero(~np.isfinite(shard.timestamps))[0])} is not finite"
    if (shard.trajectory_ids < 0).any():
        return f"trajectory id of frame {int(np.flatnonzero(shard.trajectory_ids < 0)[0])} is negative"
    return None


def _instance_table(shard: ShardFile) -> tuple[np.ndarray | None, str | None]:
    """(largest listed id + 1,) bool: the instance ids a frame may hold (0 and those of the scene's
    ``objects``); or a problem."""
    objects = shard.scene.get("objects", [])
    if not isinstance(objects, list):
        return None, "scene_json objects is not a list"
    ids = []
    for row in objects:
        ident = row.get("instance_id") if isinstance(row, dict) else None
        cls = row.get("class40") if isinstance(row, dict) else None
        if not (isinstance(ident, int) and 1 <= ident <= MAX_INSTANCE_ID and isinstance(cls, int) and 0 <= cls <= 40):
            return None, f"scene_json lists an object without an instance id 1..{MAX_INSTANCE_ID} and class40 id 0..40"
        ids.append(ident)
    allowed = np.zeros(max(ids, default=0) + 1, dtype=bool)
    allowed[[0, *ids]] = True
    return allowed, None


def _frame_problem(
    i: int, frame: dict[str, np.ndarray], shard: ShardFile, allowed: np.ndarray, n_classes: int
) -> tuple[np.ndarray | None, str | None]:
    """(class40 pixel counts, None) of a frame whose values are in range, else (None, the problem)."""
    counts = class_counts(frame["class40"], n_classes)
    if len(counts) > n_classes:
        return None, f"frame {i} holds class40 id {len(counts) - 1}; ids are 0..{n_classes - 1}"
    if not np.array_equal(counts, shard.class40_pixels[i]):
        return None, f"frame {i} class40 pixel counts do not match its labels"
    instance = frame["instance"]
    top = int(instance.max()) if instance.size else 0
    if top >= len(allowed):
        return None, f"frame {i} holds instance id {top}, which its scene table does not list"
    stray = _first_stray(instance, allowed)
    if stray is not None:
        return None, f"frame {i} holds instance id {stray}, which its scene table does not list"
    if "flow_mask" in frame:
        return counts, _flow_problem(i, frame["flow_raw"], frame["flow_mask"])
    return counts, None


def _flow_problem(i: int, raw: np.ndarray, mask: np.ndarray) -> str | None:
    """The problem with frame ``i``'s stored flow (H, W, 2) int16 and mask (H, W) uint8, or None."""
    top = int(mask.max(initial=0))
    if top >= len(FLOW_MASK_CODES):
        return f"frame {i} holds flow mask code {top}; codes are 0..{len(FLOW_MASK_CODES) - 1}"
    if raw[mask != FLOW_VALID].any():
        return f"frame {i} holds flow where its flow mask is not 1 (valid); flow is stored 0 there"
    if int(raw.min(initial=0)) < -FLOW_LIMIT:
        return f"frame {i} holds flow {int(raw.min())} units, beyond the stored range +-{FLOW_LIMIT}"
    return None


def _first_stray(instance: np.ndarray, allowed: np.ndarray) -> int | None:
    """The first id of the (H, W) uint16 ``instance`` image that ``allowed`` (bool by id) does not allow,
    or None; looked up a block of rows at a time, so the temporary stays a few MiB."""
    rows = max(1, COUNT_ROWS_PIXELS // max(1, instance.shape[-1]))
    for start in range(0, len(instance), rows):
        block = instance[start : start + rows]
        stray = ~allowed[block]
        if stray.any():
            return int(block[stray][0])
    return None


COUNT_ROWS_PIXELS = 1 << 20
"""Pixels of an instance image looked up at a time by :func:`_first_stray`."""


def validate_shard(
    path: Path,
    expected_frames: int | None = None,
    expected_pixels: list[int] | None = None,
    expected_config: dict | None = None,
    expected_names: list[str] | None = None,
) -> tuple[int, str | None]:
    """Check one shard completely, frame by frame; returns (frames verified, first problem or None).

    expected_frames, expected_pixels, expected_config, expected_names : the manifest's frame count,
    class40 pixel totals, config and class40 names, if any. Never raises for bad data: every problem
    is returned as text; raises :class:`~synthcam_shards.manifest.NotEnoughMemory` if the machine runs out of
    memory. Memory: the shard's header, one frame and a few MiB.
    """
    path = Path(path)
    try:
        return _validate_shard(path, expected_frames, expected_pixels, expected_config, expected_names)
    except MemoryError:
        raise not_enough_memory(path) from None


def _validate_shard(
    path: Path,
    expected_frames: int | None,
    expected_pixels: list[int] | None,
    expected_config: dict | None,
    expected_names: list[str] | None,
) -> tuple[int, str | None]:
    """:func:`validate_shard` without its translation of MemoryError."""
    try:
        shard = ShardFile(path)
    except ShardError as exc:
        return 0, _reason(exc, path)
    with shard:
        n = len(shard)
        if expected_frames is not None and n != expected_frames:
            return 0, f"has {n} frames but {MANIFEST} lists {expected_frames}"
        if expected_config is not None and _canonical(shard.attrs.get("config")) != _canonical(expected_config):
            return 0, f"was generated with another config than {MANIFEST} records"
        if expected_names is not None and list(shard.class_names) != list(expected_names):
            return 0, f"has other class40 names than {MANIFEST}"
        problem = _header_problem(shard)
        allowed, scene_problem = _instance_table(shard)
        if problem or scene_problem:
            return 0, problem or scene_problem
        assert allowed is not None  # _instance_table gives the table or a problem
        n_classes = len(shard.class_names)
        pixels = np.zeros(n_classes, dtype=np.int64)
        for i in range(n):
            try:
                frame = shard.read_frame(i, _ALL_STORED + (_FLOW_STORED if shard.has_flow else ()), verify=True)
            except ShardError as exc:
                return i, _reason(exc, path)
            counts, problem = _frame_problem(i, frame, shard, allowed, n_classes)
            if problem:
                return i, problem
            assert counts is not None  # _frame_problem gives the counts or a problem
            pixels += counts
        if expected_pixels is not None and pixels.tolist() != list(expected_pixels):
            return n, f"class40 pixel totals differ from {MANIFEST}"
    return n, None


def _totals_problem(manifest: dict) -> ShardProblem | None:
    """A manifest whose class40 pixel totals are not the sum of its shards' counts (each checked against its shard)."""
    totals = np.zeros(len(manifest["class40_pixels"]), dtype=np.int64)
    for entry in manifest["shards"]:
        totals += np.asarray(entry["class40_pixels"], dtype=np.int64)
    if totals.tolist() != manifest["class40_pixels"]:
        return ShardProblem(MANIFEST, "class40_pixels totals differ from the sum over its shards")
    return None


def validate_path(path: Path, on_shard: Callable[[Path], None] | None = None) -> ValidationReport:
    """Validate a shard file or a dataset directory (see module docstring).

    Raises :class:`ShardError` if ``path`` does not exist or a directory holds no dataset (no
    ``manifest.json``, no shards, no partial shards), :class:`~synthcam_shards.manifest.NotEnoughMemory` if the
    machine runs out of memory reading the manifest or a shard; every problem with the data itself is reported
    in the :class:`ValidationReport`.
    """
    path = Path(path)
    if path.is_file():
        frames, problem = validate_shard(path)
        if on_shard is not None:
            on_shard(path)
        return ValidationReport(path, 1, frames, (ShardProblem(path.name, problem),) if problem else ())
    if not path.is_dir():
        raise ShardError(f"{path} does not exist; pass a shard (.h5) or a dataset directory")
    on_disk = {p.name for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file()}
    partial = sorted(p.name for p in path.glob(f"*{SHARD_SUFFIX}{TEMP_SUFFIX}"))
    has_manifest = (path / MANIFEST).exists() or (path / MANIFEST).is_symlink()
    if not on_disk and not partial and not has_manifest:
        raise ShardError(
            f"{path} holds no dataset (no {MANIFEST}, no shards *.h5); pass the --out directory of "
            f"'synthcam generate' or a shard file"
        )
    problems: list[ShardProblem] = []
    try:
        manifest = read_manifest(path)
    except NotEnoughMemory:
        raise
    except ShardError as exc:
        manifest = None
        problems.append(ShardProblem(MANIFEST, _reason(exc, path / MANIFEST)))
    if manifest is None:
        if not problems:
            problems.append(
                ShardProblem(
                    MANIFEST,
                    "missing: the generation did not finish; rerun 'synthcam generate' "
                    "with the same options to resume it",
                )
            )
        listed = {name: (None, None) for name in sorted(on_disk)}
        expected = {}
    else:
        listed = {s["file"]: (s["frames"], s["class40_pixels"]) for s in manifest["shards"]}
        expected = {"expected_config": manifest["config"], "expected_names": manifest["class40_names"]}
        if not listed:
            problems.append(ShardProblem(MANIFEST, "lists no shards; rerun 'synthcam generate' to rewrite it"))
    problems += [
        ShardProblem(name, "partial shard left by an interrupted run; rerun 'synthcam generate' to finish it")
        for name in partial
    ]
    problems += [ShardProblem(name, f"not listed in {MANIFEST}") for name in sorted(on_disk - set(listed))]
    frames = checked = 0
    for name, (want_frames, want_pixels) in listed.items():
        if name not in on_disk:
            problems.append(ShardProblem(name, f"missing (listed in {MANIFEST})"))
            continue
        n, problem = validate_shard(path / name, want_frames, want_pixels, **expected)
        checked += 1
        frames += n
        if problem:
            problems.append(ShardProblem(name, problem))
        if on_shard is not None:
            on_shard(path / name)
    if manifest is not None and not problems:
        totals = _totals_problem(manifest)
        if totals:
            problems.append(totals)
        elif frames != manifest["frames"]:
            problems.append(ShardProblem(MANIFEST, f"says {manifest['frames']} frames but the shards hold {frames}"))
    return ValidationReport(path, checked, frames, tuple(problems))
