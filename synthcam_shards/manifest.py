"""A dataset directory's ``manifest.json`` and its shard list: :func:`read_manifest` reads and checks
the manifest (size, JSON, format and version, plain shard file names, counts) and :func:`find_shards`
lists the shards of a file or directory; :func:`shard_counts` reads the per-shard figures a manifest lists.
Writing the manifest is generation's job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from synthcam_core.errors import ShardError
from synthcam_shards.format import CLASS_COUNTS, FORMAT_VERSION, MANIFEST, MANIFEST_FORMAT, MAX_FRAMES, SHARD_SUFFIX

if TYPE_CHECKING:
    import numpy as np

MAX_MANIFEST_BYTES = 32 << 20
"""Largest ``manifest.json`` read (32 MiB, by the readers and by generation reading its own). Parsing JSON
costs up to about 25 times the text in memory (a manifest of nothing but ``{}`` objects), so at most
about 800 MiB. A shard's line is at most about 700 bytes (41 pixel counts of up to 13 digits), so the
most rooms a run may have (:data:`synthcam.generate_config.MAX_ROOMS`, 40,000) fit in about 27 MiB."""


class NotEnoughMemory(ShardError):
    """Reading a manifest or a shard ran out of memory: a limit of the machine, not damage to the data."""


def not_enough_memory(path: Path) -> NotEnoughMemory:
    """The one-line error for a read of ``path`` that ran out of memory."""
    return NotEnoughMemory(
        f"not enough memory to read {path}; free memory (close other programs) or raise the "
        f"process's memory limit, then try again"
    )


def plain_shard_name(name) -> bool:
    """True if ``name`` is a plain shard file name: a str ending in ``.h5`` with no directory part
    (no ``/`` or ``\\``, not ``..``, not hidden), at most 255 bytes; what a manifest may list."""
    return (
        isinstance(name, str)
        and name.endswith(SHARD_SUFFIX)
        and len(name) > len(SHARD_SUFFIX)
        and not name.startswith(".")
        and not any(c in name for c in "/\\\0")
        and len(name.encode("utf-8", "surrogatepass")) <= 255
    )


def _count(value: object, largest: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= largest


def _manifest_problem(manifest) -> str | None:
    """What is wrong with the structure of a parsed manifest (None if nothing): fields, types, file names."""
    if not isinstance(manifest, dict):
        return "is not a JSON object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"is not a synthcam dataset manifest (format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r})"
    version = manifest.get("format_version")
    if _count(version, 2**62) and version > FORMAT_VERSION:
        return (
            f"has dataset format version {version} (written by a newer synthcam); this synthcam reads version "
            f"{FORMAT_VERSION}, upgrade synthcam to read this dataset"
        )
    if version != FORMAT_VERSION:
        older = " (written by an older synthcam)" if isinstance(version, int) and version < FORMAT_VERSION else ""
        return (
            f"has dataset format version {version!r}{older}; this synthcam reads version {FORMAT_VERSION}, "
            f"regenerate the dataset with 'synthcam generate'"
        )
    n_classes = CLASS_COUNTS["class40_names"]
    if not isinstance(manifest.get("config"), dict):
        return "has no config object"
    if not isinstance(manifest.get("frames"), int) or not isinstance(manifest.get("shards"), list):
        return "lacks its frames count or shard list"
    names = manifest.get("class40_names")
    if not (isinstance(names, list) and len(names) == n_classes and all(isinstance(x, str) for x in names)):
        return f"has no list of {n_classes} class40 names"
    totals = manifest.get("class40_pixels")
    if not (isinstance(totals, list) and len(totals) == n_classes and all(_count(x, 2**62) for x in totals)):
        return f"has no list of {n_classes} class40 pixel totals"
    seen = set()
    for entry in manifest["shards"]:
        name = entry.get("file") if isinstance(entry, dict) else None
        if not plain_shard_name(name):
            return (
                f"lists {str(name)[:80]!r}, not a plain shard file name (NAME.h5 in the dataset directory, "
                f"no '/' or '..')"
            )
        if name in seen:
            return f"lists {name} twice"
        seen.add(name)
        pixels = entry.get("class40_pixels")
        if not _count(entry.get("frames"), MAX_FRAMES) or not (
            isinstance(pixels, list) and len(pixels) == n_classes and all(_count(x, 2**62) for x in pixels)
        ):
            return f"has no valid frame count or class40 pixel counts for {name}"
    return None


def read_manifest(directory: Path) -> dict | None:
    """The parsed ``manifest.json`` of a dataset directory, or None if it has none.

    Raises :class:`ShardError` if it is larger than :data:`MAX_MANIFEST_BYTES`, not a file, unreadable, not JSON,
    not a dataset manifest of this format version, or lists a shard by anything but a plain file name
    (:func:`plain_shard_name`: never a path out of the directory); :class:`NotEnoughMemory` (a ShardError)
    if the machine has too little memory to read it.
    """
    path = Path(directory) / MANIFEST
    if not os.path.lexists(path):
        return None
    damaged = (
        f"move it away or delete it to read the shards of {directory} directly ('synthcam generate' "
        f"never replaces a manifest it cannot read as its own)"
    )
    too_large = f"{path} is larger than {MAX_MANIFEST_BYTES >> 20} MiB, too large for a manifest; {damaged}"
    try:
        if not path.is_file():
            raise ShardError(f"{path} is not a file; {damaged}")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ShardError(too_large)
        with path.open("rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)  # bounded even if the file grows after the size check
    except MemoryError:
        raise not_enough_memory(path) from None
    except OSError as exc:
        raise ShardError(
            f"{path} cannot be read ({os.strerror(exc.errno) if exc.errno else exc}); make it readable, or {damaged}"
        ) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ShardError(too_large)
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        raise ShardError(f"{path} is damaged (not JSON); {damaged}") from None
    except MemoryError:
        del data
        raise not_enough_memory(path) from None
    problem = _manifest_problem(manifest)
    if problem:
        raise ShardError(f"{path} {problem}; {damaged}")
    return manifest


def find_shards(path: Path) -> list[Path]:
    """The shard files at ``path``: the file itself, the shards a directory's manifest lists, or
    (no manifest) the sorted ``*.h5`` files of a directory."""
    path = Path(path)
    if path.is_dir():
        manifest = read_manifest(path)
        if manifest is not None:  # a complete dataset: exactly its listed shards
            listed = [path / s["file"] for s in manifest["shards"]]
            missing = [p.name for p in listed if not p.is_file()]
            if missing:
                raise ShardError(f"{path} lacks shards its {MANIFEST} lists ({', '.join(missing[:3])}); generate again")
            return listed
        shards = sorted(p for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file())
        if not shards:
            raise ShardError(f"{path} holds no shards (*.h5); run 'synthcam generate --out {path}' first")
        return shards
    if not path.exists():
        raise ShardError(f"{path} does not exist; pass a shard (.h5) or a directory of shards")
    return [path]


def shard_counts(path: Path) -> tuple[int, np.ndarray]:
    """``(frame_count, class40 pixels)`` of a shard this run wrote, for its manifest line: the frame count
    attribute and the (41,) int64 pixels of each class40 id summed over its frames."""
    import h5py

    with h5py.File(path, "r") as f:
        return int(f.attrs["frame_count"]), f["class40_pixels"][()].sum(axis=0)
