"""Writing shards: :class:`ShardWriter` stores one room's frames under a temporary name
(``<name>.synthcam-partial``, created exclusively) and renames the file into place only when every frame is
written and the header digest is stored, so a crash never leaves a file that looks whole; with optical
flow (``flow=True``) the shard is format version 3, else version 2. Also the compression choice (zstd
through hdf5plugin, else gzip) and the class histogram stored per frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_shards.digest import header_digest
from synthcam_shards.flow import encode_flow, flow_filters
from synthcam_shards.format import (
    CHECKSUM_FIELDS,
    CLASS_COUNTS,
    FLOW_DATASETS,
    FORMAT_NAME,
    FRAME_DATASETS,
    HEADER_DIGEST,
    MAX_ATTRIBUTES,
    MAX_FRAMES,
    MAX_IMAGE_SIDE,
    MAX_NAME_BYTES,
    TEMP_SUFFIX,
    LabelTables,
    checksum_fields,
    default_label_tables,
    depth_to_mm,
    frame_crc,
    shard_version,
)

_RESERVED_ATTRS = (
    "format",
    "format_version",
    "compression",
    "checksum",
    "depth_unit_m",
    "scene_json",
    "frame_count",
    HEADER_DIGEST,
)
"""Root attributes the writer sets itself (``attrs`` passed to :class:`ShardWriter` may not use these names)."""


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


def _attr_value(key: str, value) -> int | float | np.integer | np.floating | bytes:
    """How a root attribute is stored: a number as is; a str, or the JSON of anything else, as UTF-8
    bytes for a fixed-length string attribute (no NUL characters: fixed-length strings drop them)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if "\0" in text:
        raise ValueError(f"attribute {key!r} holds a NUL character, which a shard cannot store")
    return text.encode("utf-8")


def _set_attr(obj, key: str, value: int | float | np.integer | np.floating | bytes) -> None:
    """Store one attribute: numbers as HDF5 numbers, bytes as a fixed-length UTF-8 string."""
    if isinstance(value, bytes):
        obj.attrs.create(key, data=value, dtype=h5py.string_dtype("utf-8", max(1, len(value))))
    else:
        obj.attrs[key] = value


def _check_readable(n_frames: int, height: int, width: int, n_attrs: int, labels: LabelTables) -> None:
    """Raise ``ValueError`` for a shard that readers would refuse (the limits of :mod:`synthcam_shards.format`,
    checked when a shard is opened): called before any file is created."""
    if not 0 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"a shard holds 0 to {MAX_FRAMES} frames, not {n_frames}")
    if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
        raise ValueError(f"{width}x{height} images: a shard's image sides are 1 to {MAX_IMAGE_SIDE} pixels")
    if n_attrs > MAX_ATTRIBUTES:
        raise ValueError(
            f"{n_attrs} root attributes (frame_count and the header digest included); a shard holds at most "
            f"{MAX_ATTRIBUTES}"
        )
    for key, names in (
        ("class40_names", labels.class40_names),
        ("class13_names", labels.class13_names),
        ("class37_names", labels.class37_names),
    ):
        if len(names) != CLASS_COUNTS[key] or any(len(name.encode("utf-8")) > MAX_NAME_BYTES for name in names):
            raise ValueError(
                f"labels.{key} must hold {CLASS_COUNTS[key]} names of at most {MAX_NAME_BYTES} UTF-8 bytes"
            )
    for key in ("class40_to_13", "class40_to_37"):
        if np.shape(getattr(labels, key)) != (CLASS_COUNTS["class40_names"],):
            raise ValueError(f"labels.{key} must be a ({CLASS_COUNTS['class40_names']},) table")


class ShardWriter:
    """Writes one shard frame by frame; use as a context manager.

    path : final path (``.h5``); data goes to ``path + TEMP_SUFFIX`` (created exclusively: never
        through an existing file or symlink) until :meth:`close` renames it.
    n_frames, intrinsics : fixed shape of the shard.
    attrs : JSON-serialisable metadata stored as root attributes (config, seeds, versions, ...).
    scene : JSON-serialisable scene description (instance table) stored as ``scene_json``.
    labels : the label vocabulary (default: :func:`default_label_tables`).
    flow : store each frame's optical flow too (:meth:`write_flow`): a format version 3 shard; without it
        the shard is version 2, byte for byte what it was before flow existed.
    """

    def __init__(
        self,
        path: Path,
        n_frames: int,
        intrinsics: Intrinsics,
        attrs: dict,
        scene: dict,
        labels: LabelTables | None = None,
        flow: bool = False,
    ):
        self.path = Path(path)
        self.flow = bool(flow)
        self.tmp_path = self.path.with_name(self.path.name + TEMP_SUFFIX)
        self.n_frames = n_frames
        self.labels = labels or default_label_tables()
        h, w = intrinsics.height, intrinsics.width
        reserved = sorted(set(attrs) & set(_RESERVED_ATTRS))
        if reserved:
            raise ValueError(f"attrs may not set {', '.join(reserved)}: the shard writer sets these itself")
        stored_attrs = {
            "format": FORMAT_NAME,
            "format_version": shard_version(self.flow),
            "compression": None,
            "checksum": "crc32",
            "depth_unit_m": 0.001,
            **attrs,
            "scene_json": scene,
        }
        self.compression, filters = compression_filter()
        stored_attrs["compression"] = self.compression
        stored_attrs = {key: _attr_value(key, value) for key, value in stored_attrs.items()}
        _check_readable(n_frames, h, w, len(stored_attrs) + 2, self.labels)  # + frame_count, header digest
        self._file = self._create_file()
        try:
            self._create(intrinsics, stored_attrs, filters)
        except BaseException:  # e.g. a number too large for HDF5, a full disk: leave no partial file behind
            self.abort()
            raise

    def _create_file(self) -> h5py.File:
        """Create the temporary file exclusively (O_EXCL: fails on any existing name, links included) and
        open it. If creating it fails part way (a full disk as HDF5 writes its first bytes), the file this
        call made is removed; an existing file under the name is never touched."""
        existed = os.path.lexists(self.tmp_path)
        try:
            return h5py.File(self.tmp_path, "x", track_order=True, libver=LIBVER)
        except BaseException as exc:
            if not existed and not isinstance(exc, FileExistsError):
                self.tmp_path.unlink(missing_ok=True)
            raise

    def _create(self, intrinsics: Intrinsics, stored_attrs: dict, filters: dict) -> None:
        """Store the root attributes and create every dataset of the new file (see FORMAT.md)."""
        f, n_frames, h, w = self._file, self.n_frames, intrinsics.height, intrinsics.width
        for key, value in stored_attrs.items():
            _set_attr(f, key, value)
        common = dict(chunks=(1, h, w), track_times=False, **filters)
        # Frame images go through the low-level API, one hyperslab per frame (h5py's indexing costs ~0.1 ms a call).
        self._images = {
            name: f.create_dataset(
                name, (n_frames, h, w), dtype=np.uint8 if name == "class40" else np.uint16, **common
            ).id
            for name in FRAME_DATASETS
        }
        if self.flow:
            self._images["flow"] = f.create_dataset(
                "flow",
                (n_frames, 2, h, w),
                dtype=np.int16,
                chunks=(1, 2, h, w),
                track_times=False,
                **flow_filters(self.compression),
            ).id
            self._images["flow_mask"] = f.create_dataset("flow_mask", (n_frames, h, w), dtype=np.uint8, **common).id
        self._memory_space = {2: h5py.h5s.create_simple((1, h, w)), 3: h5py.h5s.create_simple((1, 2, h, w))}
        # encoded flow and mask of the frame being written, reused: no fresh memory to fault in per frame
        self._flow_buffers = (np.empty((2, h, w), np.int16), np.empty((h, w), np.uint8))
        self._shape = (h, w)
        columns = checksum_fields(shard_version(self.flow))
        plain = dict(track_times=False)
        f.create_dataset("pose", (n_frames, 4, 4), dtype=np.float64, **plain)
        f.create_dataset("timestamp", (n_frames,), dtype=np.float64, **plain)
        f.create_dataset("trajectory_id", (n_frames,), dtype=np.int64, **plain)
        f.create_dataset("checksum", (n_frames, len(columns)), dtype=np.uint32, **plain)
        _set_attr(f["checksum"], "columns", _attr_value("columns", list(columns)))
        f.create_dataset("class40_pixels", (n_frames, len(self.labels.class40_names)), dtype=np.int64, **plain)
        f.create_dataset("intrinsics", data=intrinsics.as_array(), **plain)
        _strings(f, "class40_names", self.labels.class40_names)
        _strings(f, "class13_names", self.labels.class13_names)
        _strings(f, "class37_names", self.labels.class37_names)
        f.create_dataset("class40_to_13", data=np.asarray(self.labels.class40_to_13, dtype=np.uint8), **plain)
        f.create_dataset("class40_to_37", data=np.asarray(self.labels.class40_to_37, dtype=np.uint8), **plain)
        # Small per-frame arrays are kept here and written once, at close.
        self._written = np.zeros(n_frames, dtype=bool)
        self._flow_written = np.zeros(n_frames, dtype=bool)
        self._pose = np.zeros((n_frames, 4, 4), dtype=np.float64)
        self._timestamp = np.zeros(n_frames, dtype=np.float64)
        self._trajectory = np.zeros(n_frames, dtype=np.int64)
        self._checksum = np.zeros((n_frames, len(columns)), dtype=np.uint32)
        self._pixels = np.zeros((n_frames, len(self.labels.class40_names)), dtype=np.int64)

    def write(
        self,
        index: int,
        depth: np.ndarray,
        depth_clean: np.ndarray,
        class40: np.ndarray,
        instance: np.ndarray,
        pose: np.ndarray,
        timestamp: float,
        trajectory_id: int = 0,
    ) -> None:
        """Store frame ``index``: depths (H, W) float32 metres, class40 (H, W) uint8, instance (H, W)
        uint16, pose (4, 4) float64 camera-to-world, timestamp in seconds, the trajectory's id."""
        self._check_index(index)
        stored = {
            "depth": depth_to_mm(depth),
            "depth_clean": depth_to_mm(depth_clean),
            "class40": np.asarray(class40, dtype=np.uint8),
            "instance": np.asarray(instance, dtype=np.uint16),
        }
        for name, array in stored.items():
            if array.shape != self._shape:
                raise ValueError(
                    f"{name} of frame {index} has shape {array.shape}; this shard stores {self._shape} images"
                )
        histogram = class_histogram(stored["class40"])
        n_classes = self._pixels.shape[1]
        if histogram[n_classes:].any():
            raise ValueError(
                f"class40 of frame {index} holds ids above {n_classes - 1} "
                f"(largest {int(np.flatnonzero(histogram)[-1])}); labels are NYUv2-40 ids 0..{n_classes - 1}"
            )
        for name, array in stored.items():
            self._write_chunk(name, index, array)
        self._pose[index] = pose
        self._timestamp[index] = timestamp
        self._trajectory[index] = trajectory_id
        stored.update(pose=self._pose[index], timestamp=self._timestamp[index], trajectory_id=self._trajectory[index])
        self._checksum[index, : len(CHECKSUM_FIELDS)] = [frame_crc(stored[name]) for name in CHECKSUM_FIELDS]
        self._pixels[index] = histogram[:n_classes]
        self._written[index] = True

    def write_flow(self, index: int, flow: np.ndarray, mask: np.ndarray) -> None:
        """Store the optical flow of frame ``index`` to the next frame, before or after :meth:`write`.

        flow : (H, W, 2) float32 pixels (du, dv) (planar, the view of (2, H, W) planes that
        :func:`~synthcam_core.geometry.flow_np.forward_flow` returns, is read without a copy); mask : (H, W)
        uint8 codes 0..3 (none, valid, occluded, out of view; :data:`~synthcam_shards.format.FLOW_MASK_CODES`).
        Stored in 1/16 px (:func:`synthcam_shards.flow.encode_flow`): 0 where the mask is not valid, and a valid pixel
        whose flow exceeds the int16 range (2047.94 px) becomes 0 with mask 3 (out of view). Raises
        ``ValueError`` for a shard made without ``flow=True`` and for arrays :func:`encode_flow` refuses.
        """
        if not self.flow:
            raise ValueError(f"shard {self.path.name} was created without flow=True: it stores no optical flow")
        self._check_index(index)
        stored = dict(zip(FLOW_DATASETS, encode_flow(flow, mask, self._shape, self._flow_buffers)))
        for name, array in stored.items():
            self._write_chunk(name, index, array)
        self._checksum[index, len(CHECKSUM_FIELDS) :] = [frame_crc(stored[name]) for name in FLOW_DATASETS]
        self._flow_written[index] = True

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame index {index} is out of range for a shard of {self.n_frames} frames")

    def _write_chunk(self, name: str, index: int, array: np.ndarray) -> None:
        """Write one frame of the per-frame dataset ``name`` (its chunk) through the low-level API."""
        dataset = self._images[name]
        space = dataset.get_space()
        space.select_hyperslab((index,) + (0,) * array.ndim, (1,) + array.shape)
        dataset.write(self._memory_space[array.ndim], space, np.ascontiguousarray(array))

    def close(self) -> Path:
        """Finish the file and rename it into place; raises if a frame (or a frame's flow) was never written."""
        missing = int((~self._written).sum())
        missing_flow = int((~self._flow_written).sum()) if self.flow else 0
        if missing or missing_flow:
            self.abort()
            what = f"{missing} frames" if missing else f"the optical flow of {missing_flow} frames"
            raise RuntimeError(f"shard {self.path.name}: {what} were never written")
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

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
