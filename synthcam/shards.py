"""HDF5 shards, format v2 (see FORMAT.md): one room's trajectory per file, one frame per chunk.

Shards are written under ``<name>.synthcam-partial`` and renamed when complete, so a crash never leaves a file
that looks whole. Depth is stored as uint16 millimetres (0 = invalid). Every frame carries a CRC32
per stored field, checked on read (:meth:`ShardFile.read_frame`) and by ``synthcam validate``; a
SHA-256 header digest covers everything else (every root attribute, every dataset's shape, dtype and
chunking, and the data of every dataset but the four image stacks), checked whenever a shard is opened.

Opening a shard checks its declared layout before reading any value: the exact set of datasets,
their shapes against ``frame_count``, image sides of at most :data:`MAX_IMAGE_SIDE`, at most
:data:`MAX_FRAMES` frames, one frame per chunk, and stored sizes that fit in the file; so a crafted
or damaged file is refused (:class:`ShardError`) before anything large is allocated.

Reading: :class:`ShardFile` gives frame-by-frame (:meth:`~ShardFile.read_frame`) and run-of-frames
(:meth:`~ShardFile.read_frames`, one HDF5 read per field) access, what a torch ``Dataset`` wants;
:func:`read_shard` loads a whole shard; :func:`find_shards` lists the shards of a dataset.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np

from synthcam.camera import Intrinsics
from synthcam.errors import ShardError

FORMAT_NAME = "synthcam-shard"
FORMAT_VERSION = 2
"""Version of the shard format and of ``manifest.json`` (v2 added the header digest, :data:`HEADER_DIGEST`)."""
MANIFEST_FORMAT = "synthcam-dataset"
"""The ``format`` field of ``manifest.json``."""
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
HEADER_DIGEST = "header_sha256"
"""Root attribute holding the hex SHA-256 of the shard's header (see :func:`header_digest`)."""
HEADER_DATASETS = ("pose", "timestamp", "trajectory_id", "checksum", "class40_pixels", "intrinsics", "class40_names",
                   "class13_names", "class37_names", "class40_to_13", "class40_to_37")
"""Datasets read whole when a shard is opened; the header digest covers their data."""
CLASS_COUNTS = {"class40_names": 41, "class13_names": 14, "class37_names": 38}
"""Entries of each class-name list (ids 0..40, 0..13, 0..37; entry 0 = ``"void"``)."""

MAX_FRAMES = 100_000
"""Most frames one shard may hold (about 55 minutes at 30 frames/s); checked before a shard is read."""
MAX_IMAGE_SIDE = 8192
"""Largest image width or height, in pixels, a shard may declare; one frame of the four image
datasets is then at most 8192 * 8192 * 7 bytes (448 MiB), the most a frame-by-frame reader holds."""
MAX_ATTRIBUTES = 64
"""Most attributes on the root group (or on one dataset) of a shard."""
MAX_NAME_BYTES = 256
"""Longest class name, in UTF-8 bytes."""
MAX_MANIFEST_BYTES = 256 << 20
"""Largest ``manifest.json`` read (256 MiB, as generation reads its own; about 600 bytes a shard, so room
for the most rooms a run may have, 100,000)."""
READ_SHARD_MIN_BYTES = 256 << 20
READ_SHARD_RATIO = 64
""":func:`read_shard` loads a whole shard into memory only if that takes at most
``max(READ_SHARD_MIN_BYTES, READ_SHARD_RATIO * file size)`` bytes; larger shards are read frame by
frame with :class:`ShardFile` (a crafted file cannot make it allocate more than that)."""
_FILTERS = {"zstd": 32015, "gzip": 1}
"""HDF5 filter id of each ``compression`` attribute value."""
_IMAGE_DTYPES = {"depth": np.dtype("<u2"), "depth_clean": np.dtype("<u2"), "class40": np.dtype("|u1"),
                 "instance": np.dtype("<u2")}
_RESERVED_ATTRS = ("format", "format_version", "compression", "checksum", "depth_unit_m", "scene_json", "frame_count",
                   HEADER_DIGEST)
"""Root attributes the writer sets itself (``attrs`` passed to :class:`ShardWriter` may not use these names)."""
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


LIBVER = ("v110", "v110")
"""HDF5 file format the writer uses (readable by HDF5 1.10 and later): version 3 superblock, version 2
object headers, fixed-array chunk indexes and dense attribute storage, all carrying HDF5's own
metadata checksums, so a damaged byte in the file's structure is refused by HDF5 before it is parsed."""


def _strings(f: h5py.File, name: str, values) -> None:
    """A (len(values),) dataset of fixed-length UTF-8 strings (no variable-length data: no HDF5 global heap)."""
    encoded = [v.encode("utf-8") for v in values]
    dtype = h5py.string_dtype("utf-8", max(1, *map(len, encoded)))
    f.create_dataset(name, data=np.array(encoded, dtype=dtype), track_times=False)


def _attr_value(key: str, value) -> int | float | bytes:
    """How a root attribute is stored: a number as is; a str, or the JSON of anything else, as UTF-8
    bytes for a fixed-length string attribute (no NUL characters: fixed-length strings drop them)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if "\0" in text:
        raise ValueError(f"attribute {key!r} holds a NUL character, which a shard cannot store")
    return text.encode("utf-8")


def _set_attr(obj, key: str, value: int | float | bytes) -> None:
    """Store one attribute: numbers as HDF5 numbers, bytes as a fixed-length UTF-8 string."""
    if isinstance(value, bytes):
        obj.attrs.create(key, data=value, dtype=h5py.string_dtype("utf-8", max(1, len(value))))
    else:
        obj.attrs[key] = value


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
        reserved = sorted(set(attrs) & set(_RESERVED_ATTRS))
        if reserved:
            raise ValueError(f"attrs may not set {', '.join(reserved)}: the shard writer sets these itself")
        stored_attrs = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "compression": None, "checksum": "crc32",
                        "depth_unit_m": 0.001, **attrs, "scene_json": scene}
        self.compression, filters = compression_filter()
        stored_attrs["compression"] = self.compression
        stored_attrs = {key: _attr_value(key, value) for key, value in stored_attrs.items()}
        # O_EXCL: fails on any existing name
        self._file = h5py.File(self.tmp_path, "x", track_order=True, libver=LIBVER)
        f = self._file
        for key, value in stored_attrs.items():
            _set_attr(f, key, value)
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
        _set_attr(f["checksum"], "columns", _attr_value("columns", list(CHECKSUM_FIELDS)))
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
        histogram = class_histogram(stored["class40"])
        n_classes = self._pixels.shape[1]
        if histogram[n_classes:].any():
            raise ValueError(f"class40 of frame {index} holds ids above {n_classes - 1} "
                             f"(largest {int(np.flatnonzero(histogram)[-1])}); labels are NYUv2-40 ids 0..{n_classes - 1}")
        for name, array in stored.items():
            dataset = self._images[name]
            space = dataset.get_space()
            space.select_hyperslab((index, 0, 0), (1,) + array.shape)
            dataset.write(self._memory_space, space, np.ascontiguousarray(array))
        self._pose[index] = pose
        self._timestamp[index] = timestamp
        self._trajectory[index] = trajectory_id
        stored.update(pose=self._pose[index], timestamp=self._timestamp[index], trajectory_id=self._trajectory[index])
        self._checksum[index] = [frame_crc(stored[name]) for name in CHECKSUM_FIELDS]
        self._pixels[index] = histogram[:n_classes]
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
        _set_attr(f, HEADER_DIGEST, header_digest(f).encode())  # last: it covers every other attribute and dataset
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


# --- header digest ---------------------------------------------------------------------------


def _record(digest, key: str, payload: bytes) -> None:
    """Feed one (key, payload) record: u32 key length, UTF-8 key, u64 payload length, payload (little-endian)."""
    k = key.encode("utf-8")
    digest.update(struct.pack("<I", len(k)) + k + struct.pack("<Q", len(payload)))
    digest.update(payload)


def _value_bytes(value) -> bytes:
    """Canonical bytes of an attribute or dataset value as h5py returns it (see FORMAT.md, "Header digest").

    A str is ``b"s"`` + UTF-8; bytes are ``b"b"`` + the bytes; a numeric value is ``b"n"`` + its numpy
    dtype string (``<i8``, ``<f8``, ``|u1``, ...) + u32 rank + u64 dims + its bytes in C order; an
    array of variable-length strings is ``b"o"`` + u32 rank + u64 dims + each element as u64 length +
    its own encoding (shards store none: they keep fixed-length strings, numeric here with dtype ``|S<n>``).
    """
    if isinstance(value, str):
        return b"s" + value.encode("utf-8")
    if isinstance(value, bytes):
        return b"b" + value
    array = np.asarray(value)
    shape = struct.pack(f"<I{array.ndim}Q", array.ndim, *array.shape)
    if array.dtype.kind == "O":
        parts = [b"o", shape]
        for item in array.ravel():
            encoded = _value_bytes(item)
            parts += [struct.pack("<Q", len(encoded)), encoded]
        return b"".join(parts)
    if array.dtype.kind not in "biufS":
        raise TypeError(f"unexpected value type {array.dtype}")
    return b"n" + array.dtype.str.encode() + shape + np.ascontiguousarray(array).tobytes()


def _describe_dataset(ds: h5py.Dataset) -> bytes:
    """``dtype;shape;chunks`` of a dataset (e.g. ``<u2;2,12,16;1,12,16``, ``<f8;2,4,4;contiguous``)."""
    chunks = ",".join(map(str, ds.chunks)) if ds.chunks else "contiguous"
    return f"{ds.dtype.str};{','.join(map(str, ds.shape))};{chunks}".encode()


def _digest(root_attrs: dict, datasets: dict[str, h5py.Dataset], dataset_attrs: dict[str, dict],
            data: dict[str, np.ndarray]) -> str:
    """Hex SHA-256 over the records of FORMAT.md's "Header digest": the root attributes but
    :data:`HEADER_DIGEST`, then per dataset (by name) its description, attributes and, for all but the
    image datasets, its data. ``data``: the value of every dataset in :data:`HEADER_DATASETS`."""
    digest = hashlib.sha256()
    for name in sorted(root_attrs):
        if name != HEADER_DIGEST:
            _record(digest, "attr:" + name, _value_bytes(root_attrs[name]))
    for name in sorted(datasets):
        _record(digest, "dataset:" + name, _describe_dataset(datasets[name]))
        for key in sorted(dataset_attrs[name]):
            _record(digest, f"attr:{name}/{key}", _value_bytes(dataset_attrs[name][key]))
        if name not in FRAME_DATASETS:
            _record(digest, "data:" + name, _value_bytes(data[name]))
    return digest.hexdigest()


def header_digest(f: h5py.File) -> str:
    """The header digest of an open shard as :class:`ShardWriter` stores it in :data:`HEADER_DIGEST`:
    hex SHA-256 over every root attribute (but the digest itself), every dataset's dtype, shape,
    chunking and attributes, and the data of every dataset but the four (N, H, W) image stacks (those
    are covered frame by frame by the ``checksum`` table, which the digest covers). Reads the whole
    header; meant for a shard this process wrote (readers check the layout first, :func:`open_shard`)."""
    datasets = {name: f[name] for name in f}
    data = {name: ds[()] for name, ds in datasets.items() if name not in FRAME_DATASETS}
    return _digest(dict(f.attrs.items()), datasets, {name: dict(ds.attrs.items()) for name, ds in datasets.items()}, data)


# --- reading ---------------------------------------------------------------------------------


def _decode_attr(value):
    """An attribute value as Python: bytes decoded, JSON objects and lists parsed, numpy scalars unwrapped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_strings(values) -> tuple[str, ...]:
    return tuple(s.decode() if isinstance(s, bytes) else str(s) for s in values)


def _text(value) -> str | None:
    """A string attribute as str (None if it is not a string or not UTF-8)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _integer(value) -> int | None:
    """An integer attribute as int (None for anything else, bool included)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return None


def _damaged(path: Path, what: str) -> ShardError:
    return ShardError(f"{path} is damaged ({what}); regenerate it with 'synthcam generate'")


def _read_attrs(obj, path: Path, file_size: int) -> dict:
    """Every attribute of an HDF5 object as h5py returns it, after checking there are at most
    :data:`MAX_ATTRIBUTES`, each a single number or fixed-length string whose stored size fits in the
    file. A variable-length string is refused unread: its value would live in HDF5's global heap,
    which carries no checksum (a damaged one can make HDF5 loop forever)."""
    names = list(obj.attrs)
    if len(names) > MAX_ATTRIBUTES:
        raise _damaged(path, f"{len(names)} attributes on {obj.name}, at most {MAX_ATTRIBUTES} expected")
    values = {}
    for name in names:
        if not isinstance(name, str):  # h5py hands back a name that is not UTF-8 as bytes
            raise _damaged(path, f"attribute name {name!r} of {obj.name} is not UTF-8")
        attr = h5py.h5a.open(obj.id, name.encode("utf-8"))
        string = h5py.check_string_dtype(attr.dtype)
        fixed = string is not None and string.length is not None
        if attr.shape != () or not (attr.dtype.kind in "biuf" or fixed):
            raise _damaged(path, f"attribute {name!r} of {obj.name} is {attr.dtype} {attr.shape}, not a single number "
                                 f"or fixed-length string")
        if attr.get_storage_size() > file_size:
            raise _damaged(path, f"attribute {name!r} of {obj.name} declares more bytes than the file holds")
        values[name] = obj.attrs[name]
    return values


@dataclass(frozen=True)
class _Layout:
    """What :func:`_check_layout` found: N frames of H x W, the root attributes as read, the datasets."""

    n: int
    height: int
    width: int
    attrs: dict
    datasets: dict


def _is_shard(f: h5py.File) -> bool:
    """True if the root's ``format`` attribute is the single string ``"synthcam-shard"`` (the one
    attribute also read as a variable-length string: how shards before version 2 stored it, so that
    they are named as older shards)."""
    if "format" not in f.attrs:
        return False
    attr = h5py.h5a.open(f.id, b"format")
    if attr.shape != () or h5py.check_string_dtype(attr.dtype) is None or attr.get_storage_size() > 1024:
        return False
    return _text(f.attrs["format"]) == FORMAT_NAME


def _check_format(attrs: dict, path: Path) -> None:
    """Refuse a file that is not a complete shard of this format version (before looking at its datasets)."""
    version = _integer(attrs.get("format_version", -1))
    if version is None:
        raise _damaged(path, "format_version is not an integer")
    if version != FORMAT_VERSION:
        older = " (written by an older synthcam)" if version < FORMAT_VERSION else ""
        raise ShardError(f"{path} has shard format version {version}{older}; this synthcam reads version "
                         f"{FORMAT_VERSION}, regenerate the dataset with 'synthcam generate'")
    if "frame_count" not in attrs:
        raise ShardError(f"{path} is incomplete (no frame_count); delete it and generate again")
    compression = _text(attrs.get("compression"))
    if compression not in _FILTERS:
        raise _damaged(path, f"unknown compression {attrs.get('compression')!r}")
    if compression == "zstd":
        try:
            import hdf5plugin  # noqa: F401  (registers the zstd filter)
        except ImportError:
            raise ShardError(f"{path} is zstd-compressed; install hdf5plugin (pip install hdf5plugin) to read it") from None


def _check_layout(f: h5py.File, path: Path, file_size: int) -> _Layout:
    """Check a shard's declared layout before reading any dataset (see FORMAT.md, "Limits").

    The root holds exactly the datasets of the format (hard links; no groups, external or virtual
    storage); every shape matches ``frame_count`` (at most :data:`MAX_FRAMES`) and the image size
    (sides 1..:data:`MAX_IMAGE_SIDE`); image stacks are chunked one frame per chunk with the filter the
    ``compression`` attribute names and every chunk stored; header datasets are contiguous and
    completely stored; and all stored bytes together fit in the file.
    """
    if not _is_shard(f):
        raise ShardError(f"{path} is an HDF5 file but not a synthcam shard; pass a shard written by 'synthcam generate'")
    attrs = _read_attrs(f, path, file_size)
    _check_format(attrs, path)
    n = _integer(attrs["frame_count"])
    if n is None or not 0 <= n <= MAX_FRAMES:
        raise _damaged(path, f"frame_count {attrs['frame_count']!r} is not a whole number of frames from 0 to {MAX_FRAMES}")
    names = list(f)
    expected = (*FRAME_DATASETS, *HEADER_DATASETS)
    if sorted(names) != sorted(expected):
        odd = sorted(set(names) - set(expected)) or sorted(set(expected) - set(names))
        what = "unexpected" if set(names) - set(expected) else "missing"
        raise _damaged(path, f"{what} dataset(s) {', '.join(map(repr, odd[:3]))}")
    datasets = {}
    for name in expected:
        if not isinstance(f.get(name, getlink=True), h5py.HardLink):
            raise _damaged(path, f"{name!r} is a link, not a dataset")
        datasets[name] = f[name]
        if not isinstance(datasets[name], h5py.Dataset):
            raise _damaged(path, f"{name!r} is a group, not a dataset")
    depth_shape = datasets["depth"].shape
    if len(depth_shape) != 3 or not all(1 <= side <= MAX_IMAGE_SIDE for side in depth_shape[1:]):
        raise _damaged(path, f"depth is {depth_shape}, expected (N, H, W) with sides of 1 to {MAX_IMAGE_SIDE} pixels")
    if depth_shape[0] != n:
        raise ShardError(f"{path} is damaged: its frame_count says {n} frames but its datasets hold {depth_shape[0]}; "
                         f"regenerate it with 'synthcam generate'")
    _, h, w = depth_shape
    string = f"fixed-length utf-8 string of at most {MAX_NAME_BYTES} bytes"
    shapes = {**{name: ((n, h, w), dtype) for name, dtype in _IMAGE_DTYPES.items()},
              "pose": ((n, 4, 4), np.dtype("<f8")), "timestamp": ((n,), np.dtype("<f8")),
              "trajectory_id": ((n,), np.dtype("<i8")), "checksum": ((n, len(CHECKSUM_FIELDS)), np.dtype("<u4")),
              "class40_pixels": ((n, CLASS_COUNTS["class40_names"]), np.dtype("<i8")), "intrinsics": ((6,), np.dtype("<f8")),
              **{name: ((count,), string) for name, count in CLASS_COUNTS.items()},
              "class40_to_13": ((CLASS_COUNTS["class40_names"],), np.dtype("|u1")),
              "class40_to_37": ((CLASS_COUNTS["class40_names"],), np.dtype("|u1"))}
    filter_id = _FILTERS[_text(attrs["compression"])]
    stored = 0
    for name, (shape, dtype) in shapes.items():
        ds = datasets[name]
        info = h5py.check_string_dtype(ds.dtype)
        fixed = info is not None and info.encoding == "utf-8" and info.length is not None and info.length <= MAX_NAME_BYTES
        found = string if fixed else ds.dtype
        if ds.shape != shape or found != dtype:
            raise _damaged(path, f"dataset {name} is {ds.shape} {found}, expected {shape} {dtype}")
        plist = ds.id.get_create_plist()
        if plist.get_external_count() or ds.is_virtual:
            raise _damaged(path, f"dataset {name} keeps its data outside the file")
        size = ds.id.get_storage_size()
        stored += size
        if name in FRAME_DATASETS:
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            if ds.chunks != (1, h, w) or filters != [filter_id] or ds.id.get_num_chunks() != n:
                raise _damaged(path, f"dataset {name} is not stored one compressed frame per chunk")
        elif plist.get_layout() != h5py.h5d.CONTIGUOUS or size != math.prod(shape) * ds.dtype.itemsize:
            raise _damaged(path, f"dataset {name} is not stored whole")
    if stored > file_size:
        raise _damaged(path, "its datasets declare more stored bytes than the file holds")
    return _Layout(n, h, w, attrs, datasets)


@dataclass(frozen=True)
class _Header:
    """Everything :class:`ShardFile` reads when a shard is opened (see its attributes)."""

    digest: str
    intrinsics: Intrinsics
    labels: LabelTables
    poses: np.ndarray
    timestamps: np.ndarray
    trajectory_ids: np.ndarray
    class40_pixels: np.ndarray
    checksums: np.ndarray
    attrs: dict
    scene: dict


def _read_header(layout: _Layout, path: Path, file_size: int) -> _Header:
    """Read the header datasets (sizes already checked), verify the header digest, the per-frame
    checksums of pose, timestamp and trajectory id and the class counts; parse what they hold."""
    datasets = layout.datasets
    data = {name: datasets[name][()] for name in HEADER_DATASETS}
    dataset_attrs = {name: _read_attrs(ds, path, file_size) for name, ds in datasets.items()}
    stored = _text(layout.attrs.get(HEADER_DIGEST))
    if stored is None:
        raise _damaged(path, "no header digest")
    digest = _digest(layout.attrs, datasets, dataset_attrs, data)
    if digest != stored:
        raise ShardError(f"{path} fails its header checksum (an attribute, a label table or name list, the intrinsics, "
                         f"poses or checksums changed); the shard is corrupt, regenerate it with 'synthcam generate'")
    columns = json.loads(_text(dataset_attrs["checksum"].get("columns")) or "null")
    if columns != list(CHECKSUM_FIELDS):
        raise _damaged(path, "checksum columns are not " + ", ".join(CHECKSUM_FIELDS))
    checksums = data["checksum"]
    for name in ("pose", "timestamp", "trajectory_id"):
        column = checksums[:, CHECKSUM_FIELDS.index(name)].tolist()
        values = data[name]
        for i in range(layout.n):
            if crc32(values[i:i + 1]) != column[i]:
                raise ShardError(f"{path.name}: frame {i} fails its {name} checksum; the shard is corrupt, "
                                 f"regenerate it (synthcam validate lists every bad shard)")
    pixels = data["class40_pixels"]
    short = np.flatnonzero(pixels.sum(axis=1) != layout.height * layout.width) if layout.n else []
    if len(short) or (pixels < 0).any():
        raise _damaged(path, f"the class counts of frame {int(short[0]) if len(short) else 0} do not add up to its "
                             f"pixels (class40 ids outside 0..40)")
    values = data["intrinsics"]
    if not np.isfinite(values).all() or values[0] != layout.width or values[1] != layout.height:
        raise _damaged(path, f"intrinsics {values.tolist()} do not describe its {layout.width}x{layout.height} images")
    names = {}
    for key in CLASS_COUNTS:
        names[key] = tuple(s.decode("utf-8") for s in data[key].tolist())
    scene = json.loads(_text(layout.attrs.get("scene_json")) or "null")
    if not isinstance(scene, dict):
        raise _damaged(path, "scene_json is not a JSON object")
    labels = LabelTables(names["class40_names"], names["class13_names"], names["class37_names"],
                         data["class40_to_13"], data["class40_to_37"])
    return _Header(digest, Intrinsics.from_array(values), labels, data["pose"], data["timestamp"], data["trajectory_id"],
                   pixels, checksums, {k: _decode_attr(v) for k, v in layout.attrs.items() if k != "scene_json"}, scene)


_DAMAGE = (OSError, KeyError, ValueError, TypeError, RuntimeError, OverflowError, RecursionError, struct.error)
"""What h5py, numpy and json raise on a damaged file; turned into :class:`ShardError`."""


def _open_checked(path: Path, header: bool = True) -> tuple[h5py.File, _Layout, _Header | None]:
    """Open a shard read-only, check its layout and (``header``) read and verify its header.

    Raises :class:`ShardError` (naming the file and what to do) for a missing file, a non-HDF5 or
    truncated file, another format version, an incomplete or damaged shard, or zstd data without hdf5plugin.
    """
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"{path} does not exist or is not a file; pass a shard (.h5) or a directory of shards")
    file_size = path.stat().st_size
    try:
        f = h5py.File(path, "r")
    except _DAMAGE:
        raise ShardError(f"{path} is not an HDF5 file or is truncated; regenerate it with 'synthcam generate'") from None
    try:
        layout = _check_layout(f, path, file_size)
        return f, layout, _read_header(layout, path, file_size) if header else None
    except ShardError:
        f.close()
        raise
    except _DAMAGE as exc:
        f.close()
        raise _damaged(path, str(exc) or type(exc).__name__) from None


def open_shard(path: Path) -> h5py.File:
    """Open a shard read-only after checking it is a complete, undamaged shard of format version 2
    (its layout, sizes and header digest; see :class:`ShardFile`).

    Raises :class:`ShardError` (naming the file and what to do) for a missing file, a non-HDF5 or
    truncated file, another format version, an incomplete or damaged shard, or zstd data without hdf5plugin.
    """
    return _open_checked(path)[0]


class ShardFile:
    """One shard opened read-only for frame-by-frame access, with checksums verified on read.

    The HDF5 file is opened lazily and reopened in a new process (after ``fork`` or unpickling), so a
    ShardFile can be handed to torch ``DataLoader`` workers. Opening checks the format name, version
    (2), completeness and declared layout (sizes bounded, see FORMAT.md), verifies the header digest
    (attributes, names, tables, intrinsics, poses, checksum table) and each frame's pose, timestamp
    and trajectory-id checksum, and raises :class:`ShardError` otherwise. A reopen checks the layout
    and that the header digest is still the one verified.

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
        self._datasets: dict[str, h5py.Dataset] = {}  # h5py Dataset objects of this process (a lookup costs ~0.2 ms)
        self._h5, layout, header = _open_checked(self.path)
        self._pid = os.getpid()
        self.n_frames, self.height, self.width = layout.n, layout.height, layout.width
        self._digest = header.digest
        self.intrinsics = header.intrinsics
        self.class_names = header.labels.class40_names
        self.class13_names = header.labels.class13_names
        self.class37_names = header.labels.class37_names
        self.class40_to_13 = header.labels.class40_to_13
        self.class40_to_37 = header.labels.class40_to_37
        self.poses = header.poses
        self.timestamps = header.timestamps
        self.trajectory_ids = header.trajectory_ids
        self.class40_pixels = header.class40_pixels
        self._checksums = header.checksums
        self.attrs = header.attrs
        self.scene = header.scene
        self._column = {name: k for k, name in enumerate(CHECKSUM_FIELDS)}

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            # A handle inherited through fork is never reused. Frames are checked against the checksum
            # table verified at construction, so a reopen (0.3 ms) only confirms the digest and the
            # image layout that bounds a frame read; anything else changed fails those checks.
            self._h5, self._pid, self._datasets = self._reopen(), os.getpid(), {}
        return self._h5

    def _reopen(self) -> h5py.File:
        """Open the file again and check it is still the shard verified at construction."""
        changed = ShardError(f"{self.path} changed on disk since it was opened; open it again")
        try:
            f = h5py.File(self.path, "r")
        except _DAMAGE:
            raise changed from None
        try:
            digest = h5py.h5a.open(f.id, HEADER_DIGEST.encode())
            same = digest.shape == () and h5py.check_string_dtype(digest.dtype) is not None
            same = same and _text(f.attrs[HEADER_DIGEST]) == self._digest
            for name, dtype in _IMAGE_DTYPES.items():
                same = same and isinstance(f.get(name, getlink=True), h5py.HardLink)
                ds = f[name] if same else None
                same = (same and isinstance(ds, h5py.Dataset) and ds.dtype == dtype and ds.chunks == (1, self.height, self.width)
                        and ds.shape == (self.n_frames, self.height, self.width))
        except _DAMAGE:
            same = False
        if not same:
            f.close()
            raise changed
        return f

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
    """Read a whole shard into memory (see :class:`Shard`), frame by frame into the result arrays.

    Raises :class:`ShardError` if it is damaged, or if its frames would take more than
    ``max(READ_SHARD_MIN_BYTES, READ_SHARD_RATIO * file size)`` bytes (read such a shard frame by
    frame with :class:`ShardFile`).
    """
    with ShardFile(path) as sf:
        n, h, w = len(sf), sf.height, sf.width
        need = n * h * w * (4 + 4 + 1 + 2)  # depth, depth_clean float32; class40 uint8; instance uint16
        limit = max(READ_SHARD_MIN_BYTES, READ_SHARD_RATIO * Path(path).stat().st_size)
        if need > limit:
            raise ShardError(f"{path}: its {n} frames of {w}x{h} would take {need / 2**20:.0f} MiB in memory, more than "
                             f"{limit / 2**20:.0f} MiB for a file of its size; read it frame by frame with ShardFile")
        depth = np.empty((n, h, w), np.float32)
        depth_clean = np.empty((n, h, w), np.float32)
        class40 = np.empty((n, h, w), np.uint8)
        instance = np.empty((n, h, w), np.uint16)
        for i in range(n):
            frame = sf.read_frames(i, i + 1, ("depth_mm", "depth_clean_mm", "class40", "instance"), verify,
                                   out={"class40": class40[i:i + 1], "instance": instance[i:i + 1]})
            np.divide(frame["depth_mm"], np.float32(1000.0), out=depth[i:i + 1])  # = mm_to_depth
            np.divide(frame["depth_clean_mm"], np.float32(1000.0), out=depth_clean[i:i + 1])
        return Shard(
            path=Path(path),
            depth=depth,
            depth_clean=depth_clean,
            class40=class40,
            instance=instance,
            pose=sf.poses,
            timestamp=sf.timestamps,
            trajectory_id=sf.trajectory_ids,
            intrinsics=sf.intrinsics,
            labels=LabelTables(sf.class_names, sf.class13_names, sf.class37_names, sf.class40_to_13, sf.class40_to_37),
            scene=sf.scene,
            attrs=sf.attrs,
        )


def plain_shard_name(name) -> bool:
    """True if ``name`` is a plain shard file name: a str ending in ``.h5`` with no directory part
    (no ``/`` or ``\\``, not ``..``, not hidden), at most 255 bytes; what a manifest may list."""
    return (isinstance(name, str) and name.endswith(SHARD_SUFFIX) and len(name) > len(SHARD_SUFFIX)
            and not name.startswith(".") and not any(c in name for c in "/\\\0")
            and len(name.encode("utf-8", "surrogatepass")) <= 255)


def _count(value, largest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= largest


def _manifest_problem(manifest) -> str | None:
    """What is wrong with the structure of a parsed manifest (None if nothing): fields, types, file names."""
    if not isinstance(manifest, dict):
        return "is not a JSON object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"is not a synthcam dataset manifest (format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r})"
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        older = " (written by an older synthcam)" if isinstance(version, int) and version < FORMAT_VERSION else ""
        return (f"has dataset format version {version!r}{older}; this synthcam reads version {FORMAT_VERSION}, "
                f"regenerate the dataset with 'synthcam generate'")
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
            return (f"lists {str(name)[:80]!r}, not a plain shard file name (NAME.h5 in the dataset directory, "
                    f"no '/' or '..')")
        if name in seen:
            return f"lists {name} twice"
        seen.add(name)
        pixels = entry.get("class40_pixels")
        if not _count(entry.get("frames"), MAX_FRAMES) or not (
                isinstance(pixels, list) and len(pixels) == n_classes and all(_count(x, 2**62) for x in pixels)):
            return f"has no valid frame count or class40 pixel counts for {name}"
    return None


def read_manifest(directory: Path) -> dict | None:
    """The parsed ``manifest.json`` of a dataset directory, or None if it has none.

    Raises :class:`ShardError` if it is larger than :data:`MAX_MANIFEST_BYTES`, not a file, not JSON,
    not a dataset manifest of this format version, or lists a shard by anything but a plain file name
    (:func:`plain_shard_name`: never a path out of the directory).
    """
    path = Path(directory) / MANIFEST
    if not os.path.lexists(path):
        return None
    damaged = (f"move it away or delete it to read the shards of {directory} directly ('synthcam generate' "
               f"never replaces a manifest it cannot read as its own)")
    if not path.is_file():
        raise ShardError(f"{path} is not a file; {damaged}")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ShardError(f"{path} is larger than {MAX_MANIFEST_BYTES >> 20} MiB, too large for a manifest; {damaged}")
    try:
        manifest = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        raise ShardError(f"{path} is damaged (not JSON); {damaged}") from None
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
