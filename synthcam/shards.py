"""HDF5 shards, format v0 (see FORMAT.md): one room's trajectory per file, one frame per chunk.

Shards are written under ``<name>.tmp`` and renamed when complete, so a crash never leaves a file
that looks whole. Depth is stored as uint16 millimetres (0 = invalid).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from synthcam.camera import Intrinsics
from synthcam.errors import ShardError

FORMAT_NAME = "synthcam-shard"
FORMAT_VERSION = 0
SHARD_SUFFIX = ".h5"
FRAME_DATASETS = ("depth", "depth_clean", "class40", "instance")


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 metres (0 = invalid) -> (H, W) uint16 millimetres; beyond 65.535 m becomes 0."""
    mm = np.rint(depth * np.float32(1000.0))
    mm[~np.isfinite(mm) | (mm < 0) | (mm > 65535)] = 0
    return mm.astype(np.uint16)


def mm_to_depth(mm: np.ndarray) -> np.ndarray:
    """uint16 millimetres -> float32 metres (0 stays 0 = invalid)."""
    return mm.astype(np.float32) / np.float32(1000.0)


def _compression() -> tuple[str, dict]:
    """(name, h5py filter keywords): zstd level 1 through hdf5plugin, else gzip level 1."""
    try:
        import hdf5plugin

        return "zstd", dict(hdf5plugin.Zstd(clevel=1))
    except ImportError:
        return "gzip", {"compression": "gzip", "compression_opts": 1}


class ShardWriter:
    """Writes one shard frame by frame; use as a context manager.

    path : final path (``.h5``); data goes to ``path + '.tmp'`` until :meth:`close` renames it.
    n_frames, intrinsics : fixed shape of the shard.
    attrs : JSON-serialisable metadata stored as root attributes (config, seeds, versions, ...).
    scene : JSON-serialisable scene description (instance table) stored as ``scene_json``.
    class_names : class-id-indexed names stored as ``class40_names``.
    """

    def __init__(self, path: Path, n_frames: int, intrinsics: Intrinsics, attrs: dict, scene: dict, class_names: tuple[str, ...]):
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        self.n_frames = n_frames
        h, w = intrinsics.height, intrinsics.width
        self.compression, filters = _compression()
        self._file = h5py.File(self.tmp_path, "w", track_order=True)
        f = self._file
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["compression"] = self.compression
        f.attrs["depth_unit_m"] = 0.001
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value, sort_keys=True)
        f.attrs["scene_json"] = json.dumps(scene, sort_keys=True)
        common = dict(chunks=(1, h, w), track_times=False, **filters)
        f.create_dataset("depth", (n_frames, h, w), dtype=np.uint16, **common)
        f.create_dataset("depth_clean", (n_frames, h, w), dtype=np.uint16, **common)
        f.create_dataset("class40", (n_frames, h, w), dtype=np.uint8, **common)
        f.create_dataset("instance", (n_frames, h, w), dtype=np.uint16, **common)
        f.create_dataset("pose", (n_frames, 4, 4), dtype=np.float64, track_times=False)
        f.create_dataset("timestamp", (n_frames,), dtype=np.float64, track_times=False)
        f.create_dataset("intrinsics", data=intrinsics.as_array(), track_times=False)
        f.create_dataset("class40_names", data=np.array(class_names, dtype=object), dtype=h5py.string_dtype(), track_times=False)
        self._written = np.zeros(n_frames, dtype=bool)
        self._pose = np.zeros((n_frames, 4, 4), dtype=np.float64)  # small: written once, at close
        self._timestamp = np.zeros(n_frames, dtype=np.float64)

    def write(self, index: int, depth: np.ndarray, depth_clean: np.ndarray, class40: np.ndarray, instance: np.ndarray,
              pose: np.ndarray, timestamp: float) -> None:
        """Store frame ``index``: depths (H, W) float32 metres, labels (H, W) uint8/uint16, pose (4, 4)."""
        f = self._file
        f["depth"][index] = depth_to_mm(depth)
        f["depth_clean"][index] = depth_to_mm(depth_clean)
        f["class40"][index] = class40
        f["instance"][index] = instance
        self._pose[index] = pose
        self._timestamp[index] = timestamp
        self._written[index] = True

    def close(self) -> Path:
        """Finish the file and rename it into place; raises if a frame was never written."""
        if not self._written.all():
            missing = int((~self._written).sum())
            self.abort()
            raise RuntimeError(f"shard {self.path.name}: {missing} frames were never written")
        self._file["pose"][...] = self._pose
        self._file["timestamp"][...] = self._timestamp
        self._file.attrs["frame_count"] = self.n_frames
        self._file.close()
        os.replace(self.tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file."""
        try:
            self._file.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


@dataclass(frozen=True)
class Shard:
    """A shard read into memory.

    depth, depth_clean : (N, H, W) float32 metres, 0 = invalid.
    class40 : (N, H, W) uint8; instance : (N, H, W) uint16.
    pose : (N, 4, 4) float64 camera-to-world; timestamp : (N,) float64 seconds.
    attrs : root attributes with JSON strings decoded (config, seeds, ...).
    """

    path: Path
    depth: np.ndarray
    depth_clean: np.ndarray
    class40: np.ndarray
    instance: np.ndarray
    pose: np.ndarray
    timestamp: np.ndarray
    intrinsics: Intrinsics
    class_names: tuple[str, ...]
    scene: dict
    attrs: dict


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_shard(path: Path) -> h5py.File:
    """Open a shard read-only after checking it is a complete shard of a supported version."""
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path} does not exist or is not a file; pass a shard (.h5) or a directory of shards")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise ShardError(f"{path} is not an HDF5 file; pass a shard written by 'synthcam generate'") from None
    if f.attrs.get("format") != FORMAT_NAME:
        f.close()
        raise ShardError(f"{path} is an HDF5 file but not a synthcam shard; pass a shard written by 'synthcam generate'")
    version = int(f.attrs.get("format_version", -1))
    if version != FORMAT_VERSION:
        f.close()
        raise ShardError(f"{path} has shard format version {version}; this synthcam reads version {FORMAT_VERSION}")
    if "frame_count" not in f.attrs:
        f.close()
        raise ShardError(f"{path} is incomplete (no frame_count); delete it and generate again")
    if f.attrs.get("compression") == "zstd":
        try:
            import hdf5plugin  # noqa: F401  (registers the zstd filter)
        except ImportError:
            f.close()
            raise ShardError(f"{path} is zstd-compressed; install hdf5plugin to read it") from None
    return f


def read_shard(path: Path) -> Shard:
    """Read a whole shard into memory (see :class:`Shard`)."""
    with open_shard(path) as f:
        try:
            return Shard(
                path=Path(path),
                depth=mm_to_depth(f["depth"][()]),
                depth_clean=mm_to_depth(f["depth_clean"][()]),
                class40=f["class40"][()],
                instance=f["instance"][()],
                pose=f["pose"][()],
                timestamp=f["timestamp"][()],
                intrinsics=Intrinsics.from_array(f["intrinsics"][()]),
                class_names=tuple(s.decode() if isinstance(s, bytes) else s for s in f["class40_names"][()]),
                scene=json.loads(f.attrs["scene_json"]),
                attrs={k: _decode_attr(v) for k, v in f.attrs.items() if k != "scene_json"},
            )
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise ShardError(f"{path} is damaged ({exc}); delete it and generate again") from None


def find_shards(path: Path) -> list[Path]:
    """The shard files at ``path``: the file itself, or the sorted ``*.h5`` files of a directory."""
    path = Path(path)
    if path.is_dir() and (path / "dataset.json").is_file():  # a complete dataset: exactly its listed shards
        try:
            listed = [path / s["file"] for s in json.loads((path / "dataset.json").read_text())["shards"]]
        except (ValueError, KeyError, TypeError):
            raise ShardError(f"{path / 'dataset.json'} is damaged; delete it to read the shards of {path} directly") from None
        missing = [p.name for p in listed if not p.is_file()]
        if missing:
            raise ShardError(f"{path} lacks shards its dataset.json lists ({', '.join(missing[:3])}); generate again")
        return listed
    if path.is_dir():
        shards = sorted(p for p in path.glob(f"*{SHARD_SUFFIX}") if p.is_file())
        if not shards:
            raise ShardError(f"{path} holds no shards (*.h5); run 'synthcam generate --out {path}' first")
        return shards
    if not path.exists():
        raise ShardError(f"{path} does not exist; pass a shard (.h5) or a directory of shards")
    return [path]
