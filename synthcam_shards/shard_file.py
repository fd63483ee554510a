"""HDF5 shards, formats v2 and v3 (v2 plus optical flow; see FORMAT.md): one room's trajectory per file,
one frame per chunk; reading.

:class:`ShardFile` gives frame-by-frame (:meth:`~ShardFile.read_frame`) and run-of-frames
(:meth:`~ShardFile.read_frames`, one HDF5 read per field) access, what a torch ``Dataset`` wants;
:func:`read_shard` loads a whole shard. Every frame carries a CRC32 per stored field, checked on read
and by ``synthcam validate``; a SHA-256 header digest covers everything else and is checked, after
the declared layout, whenever a shard is opened (:mod:`synthcam_shards.layout`).

This module is also the format's public face: it re-exports the vocabulary and limits
(:mod:`synthcam_shards.format`), the field names (:mod:`synthcam_shards.fields`), the writer
(:mod:`synthcam_shards.writer`), the header digest (:mod:`synthcam_shards.digest`), :func:`open_shard`
(:mod:`synthcam_shards.layout`) and the manifest
reader and :func:`find_shards` (:mod:`synthcam_shards.manifest`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import ShardError
from synthcam_shards.digest import header_digest
from synthcam_shards.fields import FLOW_FIELDS, READ_FIELDS, STORED, check_fields, check_out, field_value
from synthcam_shards.format import (
    CHECKSUM_FIELDS,
    CLASS_COUNTS,
    FLOW_DTYPES,
    FLOW_FORMAT_VERSION,
    FLOW_SCALE,
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAME_DATASETS,
    HEADER_DATASETS,
    HEADER_DIGEST,
    IMAGE_DTYPES,
    MANIFEST,
    MANIFEST_FORMAT,
    MAX_ATTRIBUTES,
    MAX_FRAMES,
    MAX_IMAGE_SIDE,
    MAX_NAME_BYTES,
    READ_VERSIONS,
    SHARD_SUFFIX,
    TEMP_SUFFIX,
    LabelTables,
    checksum_fields,
    crc32,
    default_label_tables,
    depth_to_mm,
    frame_crc,
    mm_to_depth,
)
from synthcam_shards.layout import DAMAGE_ERRORS, attr_text, open_checked, open_shard
from synthcam_shards.manifest import MAX_MANIFEST_BYTES, find_shards, plain_shard_name, read_manifest
from synthcam_shards.writer import LIBVER, ShardWriter, class_histogram, compression_filter

__all__ = [
    "CHECKSUM_FIELDS",
    "CLASS_COUNTS",
    "FLOW_FIELDS",
    "FLOW_FORMAT_VERSION",
    "FLOW_SCALE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FRAME_DATASETS",
    "HEADER_DATASETS",
    "HEADER_DIGEST",
    "LIBVER",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "MAX_ATTRIBUTES",
    "MAX_FRAMES",
    "MAX_IMAGE_SIDE",
    "MAX_MANIFEST_BYTES",
    "MAX_NAME_BYTES",
    "READ_FIELDS",
    "READ_SHARD_MIN_BYTES",
    "READ_SHARD_RATIO",
    "READ_VERSIONS",
    "SHARD_SUFFIX",
    "TEMP_SUFFIX",
    "LabelTables",
    "Shard",
    "ShardFile",
    "ShardWriter",
    "class_histogram",
    "compression_filter",
    "crc32",
    "default_label_tables",
    "depth_to_mm",
    "find_shards",
    "frame_crc",
    "header_digest",
    "mm_to_depth",
    "open_shard",
    "plain_shard_name",
    "read_manifest",
    "read_shard",
]

READ_SHARD_MIN_BYTES = 256 << 20
READ_SHARD_RATIO = 64
""":func:`read_shard` loads a whole shard into memory only if that takes at most
``max(READ_SHARD_MIN_BYTES, READ_SHARD_RATIO * file size)`` bytes; larger shards are read frame by
frame with :class:`ShardFile` (a crafted file cannot make it allocate more than that)."""


class ShardFile:
    """One shard opened read-only for frame-by-frame access, with checksums verified on read.

    The HDF5 file is opened lazily and reopened in a new process (after ``fork`` or unpickling), so a ShardFile
    can be handed to torch ``DataLoader`` workers. Opening checks the format name, version (2, or 3 with optical
    flow), completeness and declared layout (sizes bounded, see FORMAT.md), verifies the header digest
    (attributes, names, tables, intrinsics, poses, checksum table) and each frame's pose, timestamp and
    trajectory-id checksum, and raises :class:`ShardError` otherwise. A reopen checks the layout
    and that the header digest is still the one verified.

    Attributes (read once at construction):
        path : the shard's path.
        height, width : image size in pixels; ``len(shard)`` is the frame count N.
        has_flow : whether the shard holds optical flow (format version 3; fields :data:`FLOW_FIELDS`).
        intrinsics : :class:`~synthcam_core.camera.Intrinsics` (pixel centres at u + 0.5, v + 0.5).
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
        self._h5, layout, header = open_checked(self.path)
        self._pid = os.getpid()
        self.n_frames, self.height, self.width = layout.n, layout.height, layout.width
        self.has_flow = layout.version == FLOW_FORMAT_VERSION
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
        self._column = {name: k for k, name in enumerate(checksum_fields(layout.version))}

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
        except DAMAGE_ERRORS:
            raise changed from None
        try:
            digest = h5py.h5a.open(f.id, HEADER_DIGEST.encode())
            string = h5py.check_string_dtype(digest.dtype)
            same = (
                digest.shape == () and string is not None and string.length is not None
            )  # fixed length: no global heap
            same = same and attr_text(f.attrs[HEADER_DIGEST]) == self._digest
            for name, (dtype, frame) in self._stacks().items():
                same = same and isinstance(f.get(name, getlink=True), h5py.HardLink)
                ds = f[name] if same else None
                same = (
                    same
                    and isinstance(ds, h5py.Dataset)
                    and ds.dtype == dtype
                    and ds.chunks == (1, *frame)
                    and ds.shape == (self.n_frames, *frame)
                )
        except DAMAGE_ERRORS:
            same = False
        if not same:
            f.close()
            raise changed
        return f

    def _stacks(self) -> dict[str, tuple[object, tuple[int, ...]]]:
        """(dtype, one frame's shape) of each per-frame dataset: what bounds a frame read."""
        hw = (self.height, self.width)
        stacks: dict[str, tuple[object, tuple[int, ...]]] = {name: (dtype, hw) for name, dtype in IMAGE_DTYPES.items()}
        if self.has_flow:
            stacks.update(flow=(FLOW_DTYPES["flow"], (2, *hw)), flow_mask=(FLOW_DTYPES["flow_mask"], hw))
        return stacks

    def dataset(self, name: str) -> h5py.Dataset:
        """The h5py dataset ``name`` of this process's handle, for its storage (shape, dtype, filters,
        stored bytes); values read through it directly are not checked against the checksums."""
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

    def read_frame(
        self, i: int, fields: tuple[str, ...] = ("depth", "class40"), verify: bool = True
    ) -> dict[str, np.ndarray]:
        """Read frame ``i`` (negative counts from the end) and return ``{field: array}``.

        fields, from :data:`READ_FIELDS` (and :data:`FLOW_FIELDS` in a shard with optical flow):
            ``depth``, ``depth_clean`` : (H, W) float32 z-depth in metres, 0.0 = invalid;
            ``depth_mm``, ``depth_clean_mm`` : the same as stored, (H, W) uint16 millimetres, 0 = invalid;
            ``class40`` : (H, W) uint8 NYUv2-40 id, 0 = void; ``class13``, ``class37`` : (H, W) uint8
            through the shard's mapping tables; ``instance`` : (H, W) uint16, 0 = none;
            ``pose`` : (4, 4) float64 camera-to-world; ``timestamp`` : () float64 seconds;
            ``trajectory_id`` : () int64; ``flow`` : (H, W, 2) float32 pixels (du, dv) from this frame to
            the next, 0 where ``flow_mask`` is not 1; ``flow_mask`` : (H, W) uint8 codes (0 none, 1 valid,
            2 occluded, 3 out of view); ``flow_raw`` : (H, W, 2) int16 flow in 1/16 px; ``flow_planes`` :
            (2, H, W) int16 flow in 1/16 px, du then dv planes, as stored (no copy, no transposition).
        verify : compare the CRC32 of each stored dataset read against the frame's checksum.

        Raises :class:`ShardError` naming the shard and frame on a checksum mismatch or an HDF5 /
        decompression error, ``IndexError`` for a frame out of range, ``ValueError`` for an
        unknown field name (the message lists the valid ones) and
        :class:`~synthcam_core.errors.InputError` for a flow field of a shard without flow.
        """
        i = self._index(i)
        return {name: np.asarray(array[0]) for name, array in self.read_frames(i, i + 1, fields, verify).items()}

    def read_frames(
        self,
        start: int,
        stop: int,
        fields: tuple[str, ...] = ("depth", "class40"),
        verify: bool = True,
        out: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Read frames ``start .. stop - 1`` with one HDF5 read per stored dataset; ``{field: array}``.

        Each array is what :meth:`read_frame` returns for the field with a leading axis of
        ``stop - start`` frames (``pose`` (n, 4, 4), ``timestamp`` (n,), images (n, H, W), flow (n, H, W, 2),
        flow_planes (n, 2, H, W)).
        verify : check each frame's CRC32 of each stored dataset read (over the buffer, no copy).
        out : optional ``{field: array}`` to read fields returned as stored (``depth_mm``,
            ``depth_clean_mm``, ``class40``, ``instance``, ``flow_mask``, ``flow_raw``, ``flow_planes``) into:
            C-contiguous, writable, shape (n, H, W) ((n, H, W, 2) for ``flow_raw``, (n, 2, H, W) for
            ``flow_planes``) and the stored dtype (uint16; uint8 for class40 and flow_mask; int16 for the
            flow). The same arrays come back; all but ``flow_raw`` are read into directly.

        Raises :class:`ShardError` naming the shard and the first bad frame on a checksum mismatch or
        an HDF5 / decompression error, ``IndexError`` unless ``0 <= start <= stop <= N``,
        ``ValueError`` for an unknown field or an unsuitable ``out`` array and
        :class:`~synthcam_core.errors.InputError` for a flow field of a shard without flow.
        """
        check_fields(fields, self.has_flow, self.path.name)
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.n_frames:
            raise IndexError(f"frames {start}:{stop} are out of range for {self.path.name} ({self.n_frames} frames)")
        n = stop - start
        outs = check_out(out or {}, fields, n, self.height, self.width)
        targets = {STORED[name]: array for name, array in outs.items() if name != "flow_raw"}  # stored as read
        stored: dict[str, np.ndarray] = {}
        try:
            for name in dict.fromkeys(STORED[x] for x in fields):
                dataset = self.dataset(name)
                if name in targets:
                    if n:
                        dataset.read_direct(targets[name], np.s_[start:stop])
                    stored[name] = targets[name]
                else:
                    stored[name] = dataset[start:stop]
        except ShardError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            raise self._read_error(start, stop, list(dict.fromkeys(STORED[x] for x in fields)), exc) from None
        if verify:
            for name, array in stored.items():
                expected = self._checksums[start:stop, self._column[name]].tolist()
                for k in range(n):
                    if crc32(array[k : k + 1]) != expected[k]:  # a contiguous one-frame view: no copy
                        raise ShardError(
                            f"{self.path.name}: frame {start + k} fails its {name} checksum; the shard is "
                            f"corrupt, regenerate it (synthcam validate lists every bad shard)"
                        )
        tables = {"class13": self.class40_to_13, "class37": self.class40_to_37}
        return {name: field_value(name, stored[STORED[name]], tables, outs.get(name)) for name in fields}

    def _read_error(self, start: int, stop: int, names: list[str], exc: Exception) -> ShardError:
        """The error for a failed read of frames start..stop-1, naming the first frame that fails alone."""
        bad = f"frames {start}-{stop - 1}"
        if stop - start == 1:
            bad = f"frame {start}"
        else:
            for i in range(start, stop):
                try:
                    for name in names:
                        self.dataset(name)[i]
                except (OSError, KeyError, ValueError, RuntimeError) as frame_exc:
                    bad, exc = f"frame {i}", frame_exc
                    break
        return ShardError(
            f"{self.path.name}: {bad} cannot be read ({exc}); the shard is damaged, "
            f"regenerate it (synthcam validate lists every bad shard)"
        )

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

    def __enter__(self) -> ShardFile:
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
    flow : (N, H, W, 2) float32 pixels (du, dv) to the next frame, 0 where flow_mask is not 1; flow_mask :
        (N, H, W) uint8 codes (0 none, 1 valid, 2 occluded, 3 out of view); both None for a shard
        without optical flow.
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
    flow: np.ndarray | None = None
    flow_mask: np.ndarray | None = None

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
        # depth, depth_clean float32; class40 uint8; instance uint16; flow 2 x float32, its mask uint8
        need = n * h * w * (4 + 4 + 1 + 2 + (8 + 1 if sf.has_flow else 0))
        limit = max(READ_SHARD_MIN_BYTES, READ_SHARD_RATIO * Path(path).stat().st_size)
        if need > limit:
            raise ShardError(
                f"{path}: its {n} frames of {w}x{h} would take {need / 2**20:.0f} MiB in memory, more than "
                f"{limit / 2**20:.0f} MiB for a file of its size; read it frame by frame with ShardFile"
            )
        depth = np.empty((n, h, w), np.float32)
        depth_clean = np.empty((n, h, w), np.float32)
        class40 = np.empty((n, h, w), np.uint8)
        instance = np.empty((n, h, w), np.uint16)
        flow = np.empty((n, h, w, 2), np.float32) if sf.has_flow else None
        flow_mask = np.empty((n, h, w), np.uint8) if sf.has_flow else None
        for i in range(n):
            frame = sf.read_frames(
                i,
                i + 1,
                ("depth_mm", "depth_clean_mm", "class40", "instance"),
                verify,
                out={"class40": class40[i : i + 1], "instance": instance[i : i + 1]},
            )
            np.divide(frame["depth_mm"], np.float32(1000.0), out=depth[i : i + 1])  # = mm_to_depth
            np.divide(frame["depth_clean_mm"], np.float32(1000.0), out=depth_clean[i : i + 1])
            if flow is not None and flow_mask is not None:
                motion = sf.read_frames(i, i + 1, FLOW_FIELDS[:2], verify, out={"flow_mask": flow_mask[i : i + 1]})
                flow[i : i + 1] = motion["flow"]
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
            flow=flow,
            flow_mask=flow_mask,
        )
