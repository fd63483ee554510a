"""The output directory of a dataset: who may write it, what may be removed from it, and what it holds.

An output directory belongs to one run at a time: :func:`synthcam.output_lock.output_lock` holds an
exclusive lock on it (the file ``.synthcam.lock``) for the whole run, workers included. Under that lock
:func:`rooms_to_generate` decides what a run resumes and removes only what this tool provably wrote: its
own temporary names (``room_NNNNN.h5.synthcam-partial``, ``manifest.json.synthcam-partial``), its own
``manifest.json``, and shards whose header says they are synthcam shards. Any other file under a name the run needs (a
``room_00003.h5`` that is not a synthcam shard, a directory called ``manifest.json``) stops the run with
one line saying what to move away. :func:`write_manifest` writes ``manifest.json`` last, whole or not
at all, and after it ``config.yaml``, the run's settings (:mod:`synthcam_core.config_file`:
``synthcam generate --config OUT/config.yaml`` runs it again), which is also the tool's own file: removed
with the manifest when a run starts, replaced only if synthcam wrote it. :func:`prepare_output` only
checks that a directory can be written.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthcam import __version__
from synthcam.generate_config import GenerateConfig, is_int, shard_name
from synthcam.output_lock import holds_output_lock
from synthcam.write_failures import output_error, unwritable_error
from synthcam_core.atomic_file import write_atomic
from synthcam_core.config_file import CONFIG_NAME, config_text, config_values, is_written_config
from synthcam_core.errors import SynthcamError
from synthcam_shards.format import shard_version
from synthcam_shards.layout import probe_root_attrs
from synthcam_shards.manifest import MAX_MANIFEST_BYTES, shard_counts
from synthcam_shards.shard_file import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    SHARD_SUFFIX,
    TEMP_SUFFIX,
    default_label_tables,
)

LEGACY_MANIFEST = "dataset.json"
"""The manifest of format v0 datasets; a directory holding one is an older-format dataset."""
DATASET_FORMAT = "synthcam-dataset"
"""The ``format`` field of ``manifest.json``: how this tool recognises a manifest it wrote."""
MANIFEST_TEMP = MANIFEST + TEMP_SUFFIX
"""The temporary name ``manifest.json`` is written under (created exclusively) before it is renamed."""


def prepare_output(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check that files can be created in it; removes nothing.

    Raises :class:`SynthcamError` (one line naming the directory) if it cannot be created or written.
    """
    import tempfile

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # an unnamed (or uniquely named, exclusive) file
            pass
    except OSError as exc:
        raise unwritable_error(out_dir, exc) from None
    return out_dir


# --- resume ----------------------------------------------------------------------------------


def _config_json(config: object) -> str:
    return json.dumps(config, sort_keys=True)


def _mismatch(out_dir: Path, found: dict, config: GenerateConfig, where: str) -> SynthcamError:
    want = config.to_dict()
    keys = sorted(k for k in set(found) | set(want) if _config_json(found.get(k)) != _config_json(want.get(k)))
    shown = [
        f"{k} {found.get(k)!r} vs {want.get(k)!r}"
        if k != "inputs"
        else "inputs (--scene or a file it references has other content)"
        for k in keys[:3]
    ]
    diff = ", ".join(shown) or "format"
    return SynthcamError(
        f"{out_dir} already holds a dataset with a different config ({where}: {diff}); "
        f"use a new --out, or --overwrite to replace it"
    )


def _room_index(name: str) -> int | None:
    """The room index of a shard file name this tool writes (``room_00007.h5`` -> 7), else None."""
    digits = name[len("room_") : -len(SHARD_SUFFIX)]
    if not (name.startswith("room_") and name.endswith(SHARD_SUFFIX) and digits.isdigit() and digits.isascii()):
        return None
    index = int(digits)
    return index if shard_name(index) == name else None


@dataclass(frozen=True)
class _Found:
    """What a file under a shard name is: ``kind`` is "foreign" (not provably a synthcam shard: never
    touched), "format" (a synthcam shard of another format version), "config" (of another config),
    "broken" (of this config but incomplete or misnamed: the tool's own, redone) or "same"."""

    kind: str
    why: str = ""
    config: dict | None = None


def _inspect_shard(path: Path, config: GenerateConfig, index: int) -> _Found:
    """Classify the file at shard name ``path`` (room ``index``) from its header (see :class:`_Found`)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError as exc:
        return _Found("foreign", f"cannot be read ({exc.strerror})")
    if stat.S_ISLNK(info.st_mode):
        return _Found("foreign", "is a symbolic link")
    if stat.S_ISDIR(info.st_mode):
        return _Found("foreign", "is a directory")
    if not stat.S_ISREG(info.st_mode):
        return _Found("foreign", "is not a regular file")
    attrs = probe_root_attrs(path, ("format", "format_version", "config", "frame_count", "room_index"))
    if attrs is None:
        return _Found("foreign", "is not a readable HDF5 file")
    fmt, version, text, frames, room = attrs.values()
    if fmt != FORMAT_NAME:
        return _Found("foreign", "is an HDF5 file but not a synthcam shard")
    if not is_int(version) or int(version) != shard_version(config.flow):
        return _Found("format", f"shard format version {version}")
    try:
        found = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return _Found("broken", "has no readable config")
    if _config_json(found) != _config_json(config.to_dict()):
        return _Found("config", config=found)
    if frames != config.frames_per_room or room != index:
        return _Found("broken", "is incomplete or under another room's name")
    return _Found("same")


def _read_own_json(path: Path, is_ours: Callable[[dict[str, Any]], bool]) -> tuple[str, dict[str, Any] | None]:
    """("absent" | "ours" | "foreign: <why>", the parsed object when ours) for a JSON object this tool may
    have written; ``is_ours`` judges the parsed object."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return "absent", None
    except OSError as exc:
        return f"foreign: cannot be read ({exc.strerror})", None
    if stat.S_ISDIR(info.st_mode):
        return "foreign: is a directory", None
    if not stat.S_ISREG(info.st_mode):
        return "foreign: is not a regular file", None
    if info.st_size > MAX_MANIFEST_BYTES:
        return "foreign: is too large to be a synthcam manifest", None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(MAX_MANIFEST_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return "foreign: is not a synthcam manifest", None
    if isinstance(data, dict) and is_ours(data):
        return "ours", data
    return "foreign: is not a synthcam manifest", None


def _refuse(out_dir: Path, name: str, why: str) -> SynthcamError:
    return SynthcamError(
        f"{out_dir / name} {why}, so synthcam will not replace it (it removes only files it wrote); "
        f"move it away, or choose another --out"
    )


@dataclass(frozen=True)
class PendingRooms:
    """The rooms still to generate: every index in ``range(rooms)`` except ``kept``, in order (iterated
    lazily, so a large dataset costs no memory up front)."""

    rooms: int
    kept: frozenset

    def __iter__(self) -> Iterator[int]:
        return (i for i in range(self.rooms) if i not in self.kept)

    def __len__(self) -> int:
        return self.rooms - len(self.kept)


def rooms_to_generate(
    config: GenerateConfig, out_dir: Path, overwrite: bool = False, on_notice: Callable[[str], None] | None = None
) -> PendingRooms:
    """Prepare ``out_dir`` for ``config`` and return the rooms whose shards must be (re)made.

    Call while holding :func:`output_lock` of ``out_dir``. Keeps the complete shards of the same config
    whose checksums all verify; removes (only what this tool wrote) its temporary files, its manifest
    (rewritten at the end), its shards of this config that are damaged (each reported through
    ``on_notice``), and, with ``overwrite``, every synthcam shard under a room name and an older-format
    ``dataset.json``. Raises :class:`SynthcamError` before removing anything if a file under a name the
    run needs is not provably synthcam's (never removed or replaced), if the directory holds another
    config's or an older format's dataset (unless ``overwrite``).
    """
    out_dir = Path(out_dir)
    if not holds_output_lock(out_dir):
        raise RuntimeError("rooms_to_generate needs the output lock; call it inside output_lock(out_dir)")
    want = config.to_dict()
    manifest_state, manifest = _read_own_json(out_dir / MANIFEST, lambda d: d.get("format") == DATASET_FORMAT)
    if manifest_state.startswith("foreign"):
        raise _refuse(out_dir, MANIFEST, manifest_state.split(": ", 1)[1])
    config_state = is_written_config(out_dir / CONFIG_NAME)
    if config_state is False:
        raise _refuse(out_dir, CONFIG_NAME, "is not a config file synthcam wrote")
    legacy_state, _ = _read_own_json(
        out_dir / LEGACY_MANIFEST, lambda d: {"config", "shards", "package_version"} <= set(d)
    )
    temps: list[Path] = []
    shards: dict[int, _Found] = {}
    with os.scandir(out_dir) as entries:
        for entry in entries:
            name = entry.name
            if name == MANIFEST_TEMP or (
                name.endswith(TEMP_SUFFIX) and _room_index(name[: -len(TEMP_SUFFIX)]) is not None
            ):
                if entry.is_dir(follow_symlinks=False):
                    raise _refuse(out_dir, name, "is a directory")
                temps.append(out_dir / name)
            elif (index := _room_index(name)) is not None:
                shards[index] = _inspect_shard(out_dir / name, config, index)
    for index, found in sorted(shards.items()):
        if found.kind == "foreign":
            raise _refuse(out_dir, shard_name(index), found.why)
    if not overwrite:
        if manifest is not None and manifest.get("format_version") != FORMAT_VERSION:  # ours
            raise _older(out_dir, f"{MANIFEST}: format version {manifest.get('format_version')}")
        if manifest is not None and _config_json(manifest.get("config")) != _config_json(want):
            recorded = manifest.get("config")
            raise _mismatch(out_dir, recorded if isinstance(recorded, dict) else {}, config, MANIFEST)
        if legacy_state == "ours":
            raise _older(out_dir, f"{LEGACY_MANIFEST}: format version 0")
        for index, found in sorted(shards.items()):
            if found.kind == "format":
                raise _older(out_dir, f"{shard_name(index)}: {found.why}")
            if found.kind == "config":
                raise _mismatch(out_dir, found.config or {}, config, shard_name(index))
    for path in temps:
        path.unlink(missing_ok=True)
    if manifest_state == "ours":
        (out_dir / MANIFEST).unlink(missing_ok=True)
    if config_state:
        (out_dir / CONFIG_NAME).unlink(missing_ok=True)  # rewritten with the manifest
    if legacy_state == "ours":
        (out_dir / LEGACY_MANIFEST).unlink(missing_ok=True)
    kept: set[int] = set()
    for index, found in sorted(shards.items()):
        path = out_dir / shard_name(index)
        if found.kind == "same" and not overwrite and index < config.rooms:
            problem = _shard_problem(path, config)
            if problem is None:
                kept.add(index)
                continue
            if on_notice is not None:
                on_notice(f"{path.name} is damaged ({problem}); generating it again")
        elif found.kind == "broken" and index < config.rooms and on_notice is not None:
            on_notice(f"{path.name} {found.why}; generating it again")
        path.unlink(missing_ok=True)
    return PendingRooms(config.rooms, frozenset(kept))


def _older(out_dir: Path, where: str) -> SynthcamError:
    return SynthcamError(
        f"{out_dir} holds a dataset of an older synthcam format ({where}; this synthcam writes "
        f"version {FORMAT_VERSION}); pass --overwrite to replace it, or choose another --out"
    )


def _shard_problem(path: Path, config: GenerateConfig) -> str | None:
    """The first problem of a complete-looking shard of this config, by a full check of every checksum."""
    from synthcam_shards.validate import validate_shard

    _, problem = validate_shard(path, expected_frames=config.frames_per_room)
    return problem


# --- manifest --------------------------------------------------------------------------------


def write_manifest(config: GenerateConfig, out_dir: Path, paths: list[Path]) -> Path:
    """Write ``manifest.json``: config, format version, each shard's file, frame count and class40 pixel
    counts (41 ints by class id), and the totals. Reads the counts from the shards. Then writes
    ``config.yaml`` (:func:`write_config`).

    The text goes to ``manifest.json.synthcam-partial``, created exclusively and never through a link,
    and is renamed into place once complete; on a failed write (disk full) the temporary file is removed
    and :class:`SynthcamError` raised, so there is either a whole manifest or none. One line per shard.
    """
    names = default_label_tables().class40_names
    pixels = np.zeros((len(paths), len(names)), dtype=np.int64)
    frames = np.zeros(len(paths), dtype=np.int64)
    for k, path in enumerate(paths):
        frames[k], pixels[k] = shard_counts(path)
    head = {
        "class40_names": list(names),
        "class40_pixels": pixels.sum(axis=0).tolist(),
        "config": config.to_dict(),
        "format": DATASET_FORMAT,
        "format_version": FORMAT_VERSION,
        "frames": int(frames.sum()),
        "package_version": __version__,
    }

    def chunks() -> Iterator[str]:
        yield "{\n"
        for key, value in head.items():
            yield f" {json.dumps(key)}: {json.dumps(value, sort_keys=True, allow_nan=False)},\n"
        yield ' "shards": [\n'
        for k, path in enumerate(paths):
            entry = {"class40_pixels": pixels[k].tolist(), "file": path.name, "frames": int(frames[k])}
            yield f"  {json.dumps(entry, sort_keys=True)}{',' if k + 1 < len(paths) else ''}\n"
        yield " ]\n}\n"

    out = Path(out_dir) / MANIFEST
    temp = out.with_name(MANIFEST_TEMP)
    _write_new_file(temp, chunks())
    try:
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
            raise _refuse(Path(out_dir), MANIFEST, "is a directory") from None
        raise output_error(out, exc.errno or errno.EIO) from None
    write_config(config, out_dir)
    return out


def write_config(config: GenerateConfig, out_dir: Path) -> Path:
    """Write the run's settings to ``out_dir/config.yaml`` atomically (replacing only a config file
    synthcam wrote); ``synthcam generate --config`` on it gives the same dataset."""
    path = Path(out_dir) / CONFIG_NAME
    if is_written_config(path) is False:
        raise _refuse(Path(out_dir), CONFIG_NAME, "is not a config file synthcam wrote")
    text = config_text(
        "generate",
        config_values(config, skip=("inputs",)),
        "the same dataset again: synthcam generate --config THIS_FILE --out NEW_DIR",
    )
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))
    return path


def _write_new_file(path: Path, chunks: Iterator[str]) -> None:
    """Create ``path`` exclusively (never through a link) and write ``chunks`` to it, flushed to disk.
    On any failure the file is removed and :class:`SynthcamError` (or the interrupt) raised."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise _refuse(path.parent, path.name, "already exists and is not this run's") from None
        raise output_error(path, exc.errno or errno.EIO) from None
    try:
        buffer = []
        for piece in chunks:
            buffer.append(piece)
            if len(buffer) >= 4096:
                _write_all(fd, "".join(buffer).encode())
                buffer = []
        _write_all(fd, "".join(buffer).encode())
        os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise output_error(path, exc.errno or errno.EIO) from None
        raise
    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
