"""HDF5 shards, format v1 (see FORMAT.md): one room's trajectory per file, one frame per chunk.

Shards are written under ``<name>.synthcam-partial`` and renamed when complete, so a crash never leaves a file
that looks whole. Depth is stored as uint16 millimetres (0 = invalid). Every frame carries a CRC32
per stored field, checked on read (:meth:`ShardFile.read_frame`) and by ``synthcam validate``.

Reading: :class:`ShardFile` gives frame-by-frame (:meth:`~ShardFile.read_frame`) and run-of-frames
(:meth:`~ShardFile.read_frames`, one HDF5 read per field) access, what a torch ``Dataset`` wants;
:func:`read_shard` loads a whole shard; :func:`find_shards` lists the shards of a dataset.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np

from synthcam.camera import Intrinsics
from synthcam.errors import ShardError

FORMAT_NAME = "synthcam-shard"
FORMAT_VERSION = 1
SHARD_SUFFIX = ".h5"
MANIFEST = "manifest.json"
TEMP_SUFFIX = ".synthcam-partial"
"""Suffix of a shard being written (``room_00000.h5.synthcam-partial``): the only temporary name this
tool creates, exclusively (never through an existing file or symlink), and the only one it removes."""
FRAME_DATASETS = ("depth", "depth_clean", "class40", "instance")
"""The (N, H, W) image datasets, one frame per chunk."""
CHECKSUM_FIELDS = ("depth", "depth_clean", "class40", "instance", "pose", "timestamp", "trajectory_id")
"""Column order of the ``checksum`` dataset: CRC32 of each frame's stored bytes of these datasets."""
READ_FIELDS = ("depth", "depth_clean", "depth_mm", "depth_clean_mm", "class40", "class13", "class37", "instance",
               "pose", "timestamp", "trajectory_id")
"""Field names accepted by :meth:`ShardFile.read_frame` and :meth:`ShardFile.read_frames`."""
_STORED = {"depth": "depth", "depth_mm": "depth", "depth_clean": "depth_clean", "depth_clean_mm": "depth_clean",
           "class40": "class40", "class13": "class40", "class37": "class40", "instance": "instance",
           "pose": "pose", "timestamp": "timestamp", "trajectory_id": "trajectory_id"}
_AS_STORED = {"depth_mm": np.uint16, "depth_clean_mm": np.uint16, "class40": np.uint8, "instance": np.uint16}
"""Image fields returned exactly as stored, so :meth:`ShardFile.read_frames` can read them into ``out``."""


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 metres (0 = invalid) -> (H, W) uint16 millimetres, rounded to nearest; NaN and
    negative values become 0, and so do values beyond 65.535 m (the largest storable)."""
    import cv2

    depth = np.ascontiguousarray(depth, dtype=np.float32)
    if depth.size == 0:
        return np.zeros(depth.shape, dtype=np.uint16)
    mm = cv2.multiply(depth, 1000.0, dtype=cv2.CV_16U).reshape(depth.shape)  # rounds and saturates; NaN -> 0
    if mm.max() == 65535:  # rare: saturated pixels beyond the range are invalid, not 65.535 m
        mm[~(depth < np.float32(65.5355))] = 0
    return mm


def mm_to_depth(mm: np.ndarray) -> np.ndarray:
    """uint16 millimetres -> float32 metres (0 stays 0 = invalid)."""
    return mm.astype(np.float32) / np.float32(1000.0)


def _crc32_function():
    """zlib's CRC32 as ISA-L computes it (same values, ~3.5x faster: 0.05 vs 0.17 ms for a 640x480 uint16
    image) where the ``isal`` package is installed, else the standard library's."""
    try:
        from isal import isal_zlib

        return isal_zlib.crc32
    except ImportError:
        return zlib.crc32


crc32 = _crc32_function()
"""``crc32(buffer) -> int``: the CRC32 that shard checksums use (zlib's polynomial)."""


def frame_crc(array: np.ndarray) -> int:
    """CRC32 of an array's bytes in C order, little-endian (the dtypes stored in shards are)."""
    return crc32(np.ascontiguousarray(array))  # the buffer itself: no copy


# --- labels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelTables:
    """The label vocabulary stored in every shard.

    class40_names : 41 names by NYUv2-40 id, entry 0 = ``"void"``.
    class13_names, class37_names : names of the derived 13-class (SceneNet/Eigen) and 37-class
        (SUN RGB-D) spaces, entry 0 = ``"void"``.
    class40_to_13, class40_to_37 : (41,) uint8 lookup tables from a 40-class id to the derived id.
    """

    class40_names: tuple[str, ...]
    class13_names: tuple[str, ...]
    class37_names: tuple[str, ...]
    class40_to_13: np.ndarray
    class40_to_37: np.ndarray


@lru_cache(maxsize=None)
def default_label_tables() -> LabelTables:
    """NYUv2-40 names and the 40 -> 13 and 40 -> 37 tables, from :mod:`scene_library.labels`."""
    from scene_library import labels

    return LabelTables(labels.class40_names(), labels.class13_names(), labels.class37_names(),
                       labels.class40_to_13(), labels.class40_to_37())


# --- writing ---------------------------------------------------------------------------------


def compression_filter() -> tuple[str, dict]:
    """(name, h5py filter keywords): zstd level 1 through hdf5plugin, else gzip level 1."""
    try:
        import hdf5plugin

        return "zstd", dict(hdf5plugin.Zstd(clevel=1))
    except ImportError:
        return "gzip", {"compression": "gzip", "compression_opts": 1}


def class_histogram(class40: np.ndarray) -> np.ndarray:
    """(256,) int64 pixel count of each value of a uint8 label image.

    OpenCV's histogram (float32 counts, exact below 2**24 pixels) is ~2x faster than ``np.bincount``,
    which first widens the whole image to intp; larger images use ``np.bincount``.
    """
    import cv2

    class40 = np.ascontiguousarray(class40, dtype=np.uint8)
    if class40.ndim != 2 or class40.size >= 2**24 or class40.size == 0:
        return np.bincount(class40.ravel(), minlength=256).astype(np.int64)
    return cv2.calcHist([class40], [0], None, [256], [0, 256]).ravel().astype(np.int64)


def _strings(f: h5py.File, name: str, values) -> None:
    f.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype(), track_times=False)


class ShardWriter:
    """Writes one shard frame by frame; use as a context manager.

    path : final path (``.h5``); data goes to ``path + TEMP_SUFFIX`` (created exclusively: never
        through an existing file or symlink) until :meth:`close` renames it.
    n_frames, intrinsics : fixed shape of the shard.
    attrs : JSON-serialisable metadata stored as root attributes (config, seeds, versions, ...).
    scene : JSON-serialisable scene description (instance table) stored as ``scene_json``.
    labels : the label vocabulary (default: :func:`default_label_tables`).
    """

    def __init__(self, path: Path, n_frames: int, intrinsics: Intrinsics, attrs: dict, scene: dict,
                 labels: LabelTables | None = None):
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + TEMP_SUFFIX)
        self.n_frames = n_frames
        self.labels = labels or default_label_tables()
        h, w = intrinsics.height, intrinsics.width
        self.compression, filters = compression_filter()
        self._file = h5py.File(self.tmp_path, "x", track_order=True)  # O_EXCL: fails on any existing name
        f = self._file
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["compression"] = self.compression
        f.attrs["checksum"] = "crc32"
        f.attrs["depth_unit_m"] = 0.001
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value, sort_keys=True)
        f.attrs["scene_json"] = json.dumps(scene, sort_keys=True)
        common = dict(chunks=(1, h, w), track_times=False, **filters)
        # Frame images go through the low-level API, one hyperslab per frame (h5py's indexing costs ~0.1 ms a call).
        self._images = {name: f.create_dataset(name, (n_frames, h, w), dtype=np.uint8 if name == "class40" else np.uint16,
                                               **common).id for name in FRAME_DATASETS}
        self._memory_space = h5py.h5s.create_simple((1, h, w))
        self._shape = (h, w)
        plain = dict(track_times=False)
        f.create_dataset("pose", (n_frames, 4, 4), dtype=np.float64, **plain)
        f.create_dataset("timestamp", (n_frames,), dtype=np.float64, **plain)
        f.create_dataset("trajectory_id", (n_frames,), dtype=np.int64, **plain)
        f.create_dataset("checksum", (n_frames, len(CHECKSUM_FIELDS)), dtype=np.uint32, **plain)
        f["checksum"].attrs["columns"] = json.dumps(CHECKSUM_FIELDS)
        f.create_dataset("class40_pixels", (n_frames, len(self.labels.class40_names)), dtype=np.int64, **plain)
        f.create_dataset("intrinsics", data=intrinsics.as_array(), **plain)
        _strings(f, "class40_names", self.labels.class40_names)
        _strings(f, "class13_names", self.labels.class13_names)
        _strings(f, "class37_names", self.labels.class37_names)
        f.create_dataset("class40_to_13", data=np.asarray(self.labels.class40_to_13, dtype=np.uint8), **plain)
        f.create_dataset("class40_to_37", data=np.asarray(self.labels.class40_to_37, dtype=np.uint8), **plain)
        # Small per-frame arrays are kept here and written once, at close.
        self._written = np.zeros(n_frames, dtype=bool)
        self._pose = np.zeros((n_frames, 4, 4), dtype=np.float64)
        self._timestamp = np.zeros(n_frames, dtype=np.float64)
        self._trajectory = np.zeros(n_frames, dtype=np.int64)
        self._checksum = np.zeros((n_frames, len(CHECKSUM_FIELDS)), dtype=np.uint32)
        self._pixels = np.zeros((n_frames, len(self.labels.class40_names)), dtype=np.int64)

    def write(self, index: int, depth: np.ndarray, depth_clean: np.ndarray, class40: np.ndarray, instance: np.ndarray,
              pose: np.ndarray, timestamp: float, trajectory_id: int = 0) -> None:
        """Store frame ``index``: depths (H, W) float32 metres, class40 (H, W) uint8, instance (H, W)
        uint16, pose (4, 4) float64 camera-to-world, timestamp in seconds, the trajectory's id."""
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame index {index} is out of range for a shard of {self.n_frames} frames")
        stored = {
            "depth": depth_to_mm(depth),
            "depth_clean": depth_to_mm(depth_clean),
            "class40": np.asarray(class40, dtype=np.uint8),
            "instance": np.asarray(instance, dtype=np.uint16),
        }
        for name, array in stored.items():
            if array.shape != self._shape:
                raise ValueError(f"{name} of frame {index} has shape {array.shape}; this shard stores {self._shape} images")
            dataset = self._images[name]
            space = dataset.get_space()
            space.select_hyperslab((index, 0, 0), (1,) + array.shape)
            dataset.write(self._memory_space, space, np.ascontiguousarray(array))
        self._pose[index] = pose
        self._timestamp[index] = timestamp
        self._trajectory[index] = trajectory_id
        stored.update(pose=self._pose[index], timestamp=self._timestamp[index], trajectory_id=self._trajectory[index])
        self._checksum[index] = [frame_crc(stored[name]) for name in CHECKSUM_FIELDS]
        self._pixels[index] = class_histogram(stored["class40"])[: self._pixels.shape[1]]
        self._written[index] = True

    def close(self) -> Path:
        """Finish the file and rename it into place; raises if a frame was never written."""
        if not self._written.all():
            missing = int((~self._written).sum())
            self.abort()
            raise RuntimeError(f"shard {self.path.name}: {missing} frames were never written")
        f = self._file
        f["pose"][...] = self._pose
        f["timestamp"][...] = self._timestamp
        f["trajectory_id"][...] = self._trajectory
        f["checksum"][...] = self._checksum
        f["class40_pixels"][...] = self._pixels
        f.attrs["frame_count"] = self.n_frames
        f.close()
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


# --- reading ---------------------------------------------------------------------------------


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


def _decode_strings(values) -> tuple[str, ...]:
    return tuple(s.decode() if isinstance(s, bytes) else str(s) for s in values)


def open_shard(path: Path) -> h5py.File:
    """Open a shard read-only after checking it is a complete shard of format version 1.

    Raises :class:`ShardError` (naming the file and what to do) for a missing file, a non-HDF5 or
    truncated file, another format version, an incomplete shard, or zstd data without hdf5plugin.
    """
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path} does not exist or is not a file; pass a shard (.h5) or a directory of shards")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise ShardError(f"{path} is not an HDF5 file or is truncated; regenerate it with 'synthcam generate'") from None
    try:
        if f.attrs.get("format") != FORMAT_NAME:
            raise ShardError(f"{path} is an HDF5 file but not a synthcam shard; pass a shard written by 'synthcam generate'")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            older = " (written by an older synthcam)" if version < FORMAT_VERSION else ""
            raise ShardError(f"{path} has shard format version {version}{older}; this synthcam reads version "
                             f"{FORMAT_VERSION}, regenerate the dataset with 'synthcam generate'")
        if "frame_count" not in f.attrs:
            raise ShardError(f"{path} is incomplete (no frame_count); delete it and generate again")
        if f.attrs.get("compression") == "zstd":
            try:
                import hdf5plugin  # noqa: F401  (registers the zstd filter)
            except ImportError:
                raise ShardError(f"{path} is zstd-compressed; install hdf5plugin (pip install hdf5plugin) to read it") from None
    except ShardError:
        f.close()
        raise
    except (OSError, KeyError, ValueError) as exc:  # a damaged header
        f.close()
        raise ShardError(f"{path} is damaged ({exc}); regenerate it with 'synthcam generate'") from None
    return f


class ShardFile:
    """One shard opened read-only for frame-by-frame access, with checksums verified on read.

    The HDF5 file is opened lazily and reopened in a new process (after ``fork`` or unpickling), so a
    ShardFile can be handed to torch ``DataLoader`` workers. Opening checks the format name, version
    (1) and completeness, and raises :class:`ShardError` otherwise.

    Attributes (read once at construction):
        path : the shard's path.
        height, width : image size in pixels; ``len(shard)`` is the frame count N.
        intrinsics : :class:`~synthcam.camera.Intrinsics` (pixel centres at u + 0.5, v + 0.5).
        class_names : 41 NYUv2-40 names by id (0 = ``"void"``); class13_names (14), class37_names (38).
        class40_to_13, class40_to_37 : (41,) uint8 lookup tables (index with a class40 image).
        poses : (N, 4, 4) float64 camera-to-world (OpenCV camera axes; world z up, metres).
        timestamps : (N,) float64 seconds from the trajectory's first frame.
        trajectory_ids : (N,) int64 id of each frame's trajectory (the room index for generated data).
        class40_pixels : (N, 41) int64 pixels of each class40 id in each frame.
        attrs : root attributes with JSON strings decoded (config, seeds, noise, package_version, ...).
        scene : the instance table (``objects`` rows with instance_id, class40, class_name, name).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._h5: h5py.File | None = None
        self._pid = -1
        self._datasets: dict[str, h5py.Dataset] = {}  # h5py Dataset objects of this process (a lookup costs ~0.2 ms)
        f = self._file()
        try:
            self.n_frames = int(f.attrs["frame_count"])
            _, self.height, self.width = f["depth"].shape
            self.intrinsics = Intrinsics.from_array(f["intrinsics"][()])
            self.class_names = _decode_strings(f["class40_names"][()])
            self.class13_names = _decode_strings(f["class13_names"][()])
            self.class37_names = _decode_strings(f["class37_names"][()])
            self.class40_to_13 = f["class40_to_13"][()]
            self.class40_to_37 = f["class40_to_37"][()]
            self.poses = f["pose"][()]
            self.timestamps = f["timestamp"][()]
            self.trajectory_ids = f["trajectory_id"][()]
            self.class40_pixels = f["class40_pixels"][()]
            self._checksums = f["checksum"][()]
            columns = tuple(json.loads(f["checksum"].attrs["columns"]))
            self.attrs = {k: _decode_attr(v) for k, v in f.attrs.items() if k != "scene_json"}
            self.scene = json.loads(f.attrs["scene_json"])
        except (KeyError, OSError, ValueError, TypeError) as exc:
            self.close()
            raise ShardError(f"{self.path} is damaged ({exc}); regenerate it with 'synthcam generate'") from None
        self._column = {name: columns.index(name) for name in CHECKSUM_FIELDS if name in columns}
        if len(self._column) != len(CHECKSUM_FIELDS) or self._checksums.shape != (self.n_frames, len(columns)):
            self.close()
            raise ShardError(f"{self.path} has a malformed checksum table; regenerate it with 'synthcam generate'")

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = open_shard(self.path)  # a handle inherited through fork is never reused
            self._pid = os.getpid()
            self._datasets = {}
        return self._h5

    def _dataset(self, name: str) -> h5py.Dataset:
        f = self._file()
        dataset = self._datasets.get(name)
        if dataset is None:
            dataset = self._datasets[name] = f[name]
        return dataset

    def __len__(self) -> int:
        return self.n_frames

    def pose(self, i: int) -> np.ndarray:
        """(4, 4) float64 camera-to-world pose of frame ``i``."""
        return self.poses[self._index(i)].copy()

    def _index(self, i: int) -> int:
        i = int(i)
        if not -self.n_frames <= i < self.n_frames:
            raise IndexError(f"frame {i} is out of range for {self.path.name} ({self.n_frames} frames)")
        return i % self.n_frames

    def read_frame(self, i: int, fields: tuple[str, ...] = ("depth", "class40"), verify: bool = True) -> dict[str, np.ndarray]:
        """Read frame ``i`` (negative counts from the end) and return ``{field: array}``.

        fields, from :data:`READ_FIELDS`:
            ``depth``, ``depth_clean`` : (H, W) float32 z-depth in metres, 0.0 = invalid;
            ``depth_mm``, ``depth_clean_mm`` : the same as stored, (H, W) uint16 millimetres, 0 = invalid;
            ``class40`` : (H, W) uint8 NYUv2-40 id, 0 = void; ``class13``, ``class37`` : (H, W) uint8
            through the shard's mapping tables; ``instance`` : (H, W) uint16, 0 = none;
            ``pose`` : (4, 4) float64 camera-to-world; ``timestamp`` : () float64 seconds;
            ``trajectory_id`` : () int64.
        verify : compare the CRC32 of each stored dataset read against the frame's checksum.

        Raises :class:`ShardError` naming the shard and frame on a checksum mismatch or an HDF5 /
        decompression error, ``IndexError`` for a frame out of range and ``ValueError`` for an
        unknown field name (the message lists the valid ones).
        """
        i = self._index(i)
        return {name: np.asarray(array[0]) for name, array in self.read_frames(i, i + 1, fields, verify).items()}

    def read_frames(self, start: int, stop: int, fields: tuple[str, ...] = ("depth", "class40"), verify: bool = True,
                    out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Read frames ``start .. stop - 1`` with one HDF5 read per stored dataset; ``{field: array}``.

        Each array is what :meth:`read_frame` returns for the field with a leading axis of
        ``stop - start`` frames (``pose`` (n, 4, 4), ``timestamp`` (n,), images (n, H, W)).
        verify : check each frame's CRC32 of each stored dataset read (over the buffer, no copy).
        out : optional ``{field: array}`` to read fields returned as stored (``depth_mm``,
            ``depth_clean_mm``, ``class40``, ``instance``) into: C-contiguous, writable, shape
            (n, H, W) and the stored dtype (uint16; uint8 for class40). The same arrays come back.

        Raises :class:`ShardError` naming the shard and the first bad frame on a checksum mismatch or
        an HDF5 / decompression error, ``IndexError`` unless ``0 <= start <= stop <= N`` and
        ``ValueError`` for an unknown field or an unsuitable ``out`` array.
        """
        unknown = [name for name in fields if name not in _STORED]
        if unknown:
            raise ValueError(f"unknown shard field(s) {', '.join(map(repr, unknown))}; valid fields: {', '.join(READ_FIELDS)}")
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.n_frames:
            raise IndexError(f"frames {start}:{stop} are out of range for {self.path.name} ({self.n_frames} frames)")
        n = stop - start
        targets: dict[str, np.ndarray] = {}
        for name, array in (out or {}).items():
            if name not in fields or name not in _AS_STORED:
                raise ValueError(f"out[{name!r}]: only requested fields among {', '.join(_AS_STORED)} can be read into an array")
            if (array.shape != (n, self.height, self.width) or array.dtype != _AS_STORED[name]
                    or not array.flags.c_contiguous or not array.flags.writeable):
                raise ValueError(f"out[{name!r}] must be a writable C-contiguous {np.dtype(_AS_STORED[name])} array of shape "
                                 f"{(n, self.height, self.width)}, got {array.dtype} {array.shape}")
            targets[_STORED[name]] = array
        stored: dict[str, np.ndarray] = {}
        try:
            for name in dict.fromkeys(_STORED[x] for x in fields):
                dataset = self._dataset(name)
                if name in targets:
                    if n:
                        dataset.read_direct(targets[name], np.s_[start:stop])
                    stored[name] = targets[name]
                else:
                    stored[name] = dataset[start:stop]
        except ShardError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise self._read_error(start, stop, list(dict.fromkeys(_STORED[x] for x in fields)), exc) from None
        if verify:
            for name, array in stored.items():
                expected = self._checksums[start:stop, self._column[name]].tolist()
                for k in range(n):
                    if crc32(array[k:k + 1]) != expected[k]:  # a contiguous one-frame view: no copy
                        raise ShardError(f"{self.path.name}: frame {start + k} fails its {name} checksum; the shard is "
                                         f"corrupt, regenerate it (synthcam validate lists every bad shard)")
        result = {}
        for name in fields:
            array = stored[_STORED[name]]
            if name in ("depth", "depth_clean"):
                array = mm_to_depth(array)
            elif name == "class13":
                array = self.class40_to_13[array]
            elif name == "class37":
                array = self.class40_to_37[array]
            result[name] = array
        return result

    def _read_error(self, start: int, stop: int, names: list[str], exc: Exception) -> ShardError:
        """The error for a failed read of frames start..stop-1, naming the first frame that fails alone."""
        bad = f"frames {start}-{stop - 1}"
        if stop - start == 1:
            bad = f"frame {start}"
        else:
            for i in range(start, stop):
                try:
                    for name in names:
                        self._dataset(name)[i]
                except (OSError, KeyError, ValueError, RuntimeError) as frame_exc:
                    bad, exc = f"frame {i}", frame_exc
                    break
        return ShardError(f"{self.path.name}: {bad} cannot be read ({exc}); the shard is damaged, "
                          f"regenerate it (synthcam validate lists every bad shard)")

    def close(self) -> None:
        """Close the HDF5 handle (reading again reopens it)."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None
        self._datasets = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_h5"], state["_pid"], state["_datasets"] = None, -1, {}
        return state

    def __enter__(self) -> "ShardFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ShardFile({str(self.path)!r}, frames={self.n_frames}, {self.width}x{self.height})"


@dataclass(frozen=True)
class Shard:
    """A shard read into memory (checksums verified).

    depth, depth_clean : (N, H, W) float32 metres, 0 = invalid.
    class40 : (N, H, W) uint8; instance : (N, H, W) uint16.
    pose : (N, 4, 4) float64 camera-to-world; timestamp : (N,) float64 seconds; trajectory_id : (N,) int64.
    labels : names and 40 -> 13 / 40 -> 37 tables; class_names : the 41 class40 names.
    attrs : root attributes with JSON strings decoded (config, seeds, ...).
    """

    path: Path
    depth: np.ndarray
    depth_clean: np.ndarray
    class40: np.ndarray
    instance: np.ndarray
    pose: np.ndarray
    timestamp: np.ndarray
    trajectory_id: np.ndarray
    intrinsics: Intrinsics
    labels: LabelTables
    scene: dict
    attrs: dict

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.labels.class40_names


def read_shard(path: Path, verify: bool = True) -> Shard:
    """Read a whole shard into memory (see :class:`Shard`); raises :class:`ShardError` if damaged."""
    with ShardFile(path) as sf:
        stack = sf.read_frames(0, len(sf), ("depth_mm", "depth_clean_mm", "class40", "instance"), verify)
        return Shard(
            path=Path(path),
            depth=mm_to_depth(stack["depth_mm"]),
            depth_clean=mm_to_depth(stack["depth_clean_mm"]),
            class40=stack["class40"].astype(np.uint8),
            instance=stack["instance"].astype(np.uint16),
            pose=sf.poses,
            timestamp=sf.timestamps,
            trajectory_id=sf.trajectory_ids,
            intrinsics=sf.intrinsics,
            labels=LabelTables(sf.class_names, sf.class13_names, sf.class37_names, sf.class40_to_13, sf.class40_to_37),
            scene=sf.scene,
            attrs=sf.attrs,
        )


def read_manifest(directory: Path) -> dict | None:
    """The parsed ``manifest.json`` of a dataset directory, or None if it has none."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        [s["file"] for s in manifest["shards"]]
    except (ValueError, KeyError, TypeError):
        raise ShardError(f"{path} is damaged; delete it to read the shards of {directory} directly, "
                         f"or rerun 'synthcam generate' to rewrite it") from None
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
