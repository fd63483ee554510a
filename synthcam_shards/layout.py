"""Opening a shard safely (FORMAT.md, "Limits" and "Header digest"): the declared layout is checked
before any value is read (the exact set of datasets, their shapes against ``frame_count``, image
sides of at most :data:`~synthcam_shards.format.MAX_IMAGE_SIDE`, at most
:data:`~synthcam_shards.format.MAX_FRAMES` frames, one frame per chunk, stored sizes that fit in the
file), then the header is read, its digest verified and its values parsed. A crafted or damaged file
is refused with a :class:`~synthcam_core.errors.ShardError` before anything large is allocated.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import ShardError
from synthcam_shards.digest import digest_of
from synthcam_shards.format import (
    CLASS_COUNTS,
    FLOW_DATASETS,
    FLOW_DTYPES,
    FLOW_FORMAT_VERSION,
    FORMAT_NAME,
    FRAME_DATASETS,
    HEADER_DATASETS,
    HEADER_DIGEST,
    IMAGE_DTYPES,
    MAX_ATTRIBUTES,
    MAX_FRAMES,
    MAX_IMAGE_SIDE,
    MAX_NAME_BYTES,
    READ_VERSIONS,
    STACK_DATASETS,
    LabelTables,
    checksum_fields,
    crc32,
)

_FILTERS = {"zstd": 32015, "gzip": 1}
"""HDF5 filter id of each ``compression`` attribute value."""
SHUFFLE_FILTER, BLOSC_FILTER = 2, 32001
"""HDF5's byte-shuffle filter and the Blosc filter (hdf5plugin)."""
_FLOW_FILTERS = {"zstd": [BLOSC_FILTER], "gzip": [SHUFFLE_FILTER, 1]}
"""Filters of the ``flow`` dataset for each ``compression`` attribute value: Blosc (LZ4 with its own byte
shuffle) where the images use zstd, HDF5's shuffle and gzip where they use gzip."""


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


def attr_text(value) -> str | None:
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
            raise _damaged(
                path,
                f"attribute {name!r} of {obj.name} is {attr.dtype} {attr.shape}, not a single number "
                f"or fixed-length string",
            )
        if attr.get_storage_size() > file_size:
            raise _damaged(path, f"attribute {name!r} of {obj.name} declares more bytes than the file holds")
        values[name] = obj.attrs[name]
    return values


@dataclass(frozen=True)
class ShardLayout:
    """What :func:`_check_layout` found: N frames of H x W, the root attributes as read, the datasets,
    the format version (2, or 3 with optical flow)."""

    n: int
    height: int
    width: int
    attrs: dict
    datasets: dict
    version: int


def _is_shard(f: h5py.File) -> bool:
    """True if the root's ``format`` attribute is the single string ``"synthcam-shard"`` (the one
    attribute also read as a variable-length string: how shards before version 2 stored it, so that
    they are named as older shards)."""
    if "format" not in f.attrs:
        return False
    attr = h5py.h5a.open(f.id, b"format")
    if attr.shape != () or h5py.check_string_dtype(attr.dtype) is None or attr.get_storage_size() > 1024:
        return False
    return attr_text(f.attrs["format"]) == FORMAT_NAME


def _check_format(attrs: dict, path: Path) -> int:
    """Refuse a file that is not a complete shard of a format version this synthcam reads (before looking
    at its datasets); its version."""
    version = _integer(attrs.get("format_version", -1))
    if version is None:
        raise _damaged(path, "format_version is not an integer")
    *earlier, last = READ_VERSIONS
    reads = f"versions {', '.join(map(str, earlier))} and {last}" if earlier else f"version {last}"
    if version not in READ_VERSIONS and version > min(READ_VERSIONS):
        flow = ", or regenerate the dataset without --flow" if version == FLOW_FORMAT_VERSION else ""
        raise ShardError(
            f"{path} has shard format version {version} (written by a newer synthcam); this synthcam "
            f"reads {reads}, upgrade synthcam to read it{flow}"
        )
    if version not in READ_VERSIONS:
        raise ShardError(
            f"{path} has shard format version {version} (written by an older synthcam); this synthcam "
            f"reads {reads}, regenerate the dataset with 'synthcam generate'"
        )
    if "frame_count" not in attrs:
        raise ShardError(f"{path} is incomplete (no frame_count); delete it and generate again")
    compression = attr_text(attrs.get("compression"))
    if compression not in _FILTERS:
        raise _damaged(path, f"unknown compression {attrs.get('compression')!r}")
    if compression == "zstd":
        try:
            import hdf5plugin  # noqa: F401  (registers the zstd filter)
        except ImportError:
            raise ShardError(
                f"{path} is zstd-compressed; install hdf5plugin (pip install hdf5plugin) to read it"
            ) from None
    return version


def _check_layout(f: h5py.File, path: Path, file_size: int) -> ShardLayout:
    """Check a shard's declared layout before reading any dataset (see FORMAT.md, "Limits").

    The root holds exactly the datasets of the format (hard links; no groups, external or virtual
    storage), with the flow datasets exactly when the version is 3; every shape matches ``frame_count``
    (at most :data:`MAX_FRAMES`) and the image size (sides 1..:data:`MAX_IMAGE_SIDE`); per-frame stacks
    are chunked one frame per chunk with the filter the ``compression`` attribute names (``flow``: Blosc, or
    shuffle and gzip) and every chunk stored; header datasets are contiguous and
    completely stored; and all stored bytes together fit in the file.
    """
    if not _is_shard(f):
        raise ShardError(
            f"{path} is an HDF5 file but not a synthcam shard; pass a shard written by 'synthcam generate'"
        )
    attrs = _read_attrs(f, path, file_size)
    version = _check_format(attrs, path)
    n = _integer(attrs["frame_count"])
    if n is None or not 0 <= n <= MAX_FRAMES:
        raise _damaged(
            path, f"frame_count {attrs['frame_count']!r} is not a whole number of frames from 0 to {MAX_FRAMES}"
        )
    names = list(f)
    expected = (*FRAME_DATASETS, *HEADER_DATASETS, *(FLOW_DATASETS if version == FLOW_FORMAT_VERSION else ()))
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
        raise ShardError(
            f"{path} is damaged: its frame_count says {n} frames but its datasets hold {depth_shape[0]}; "
            f"regenerate it with 'synthcam generate'"
        )
    _, h, w = depth_shape
    string = f"fixed-length utf-8 string of at most {MAX_NAME_BYTES} bytes"
    shapes = {
        **{name: ((n, h, w), dtype) for name, dtype in IMAGE_DTYPES.items()},
        "pose": ((n, 4, 4), np.dtype("<f8")),
        "timestamp": ((n,), np.dtype("<f8")),
        "trajectory_id": ((n,), np.dtype("<i8")),
        "checksum": ((n, len(checksum_fields(version))), np.dtype("<u4")),
        "class40_pixels": ((n, CLASS_COUNTS["class40_names"]), np.dtype("<i8")),
        "intrinsics": ((6,), np.dtype("<f8")),
        **{name: ((count,), string) for name, count in CLASS_COUNTS.items()},
        "class40_to_13": ((CLASS_COUNTS["class40_names"],), np.dtype("|u1")),
        "class40_to_37": ((CLASS_COUNTS["class40_names"],), np.dtype("|u1")),
    }
    if version == FLOW_FORMAT_VERSION:
        shapes.update(flow=((n, 2, h, w), FLOW_DTYPES["flow"]), flow_mask=((n, h, w), FLOW_DTYPES["flow_mask"]))
    compression = attr_text(attrs["compression"])
    assert compression is not None  # _check_format accepted it
    filter_id = _FILTERS[compression]
    stored = 0
    for name, (shape, dtype) in shapes.items():
        ds = datasets[name]
        info = h5py.check_string_dtype(ds.dtype)
        fixed = (
            info is not None and info.encoding == "utf-8" and info.length is not None and info.length <= MAX_NAME_BYTES
        )
        found = string if fixed else ds.dtype
        if ds.shape != shape or found != dtype:
            raise _damaged(path, f"dataset {name} is {ds.shape} {found}, expected {shape} {dtype}")
        plist = ds.id.get_create_plist()
        if plist.get_external_count() or ds.is_virtual:
            raise _damaged(path, f"dataset {name} keeps its data outside the file")
        size = ds.id.get_storage_size()
        stored += size
        if name in STACK_DATASETS:
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            want = _FLOW_FILTERS[compression] if name == "flow" else [filter_id]
            if ds.chunks != (1, *shape[1:]) or filters != want or ds.id.get_num_chunks() != n:
                raise _damaged(path, f"dataset {name} is not stored one compressed frame per chunk")
        elif plist.get_layout() != h5py.h5d.CONTIGUOUS or size != math.prod(shape) * ds.dtype.itemsize:
            raise _damaged(path, f"dataset {name} is not stored whole")
    if stored > file_size:
        raise _damaged(path, "its datasets declare more stored bytes than the file holds")
    return ShardLayout(n, h, w, attrs, datasets, version)


@dataclass(frozen=True)
class ShardHeader:
    """Everything :class:`~synthcam_shards.shard_file.ShardFile` reads when a shard is opened (see its attributes)."""

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


def _read_header(layout: ShardLayout, path: Path, file_size: int) -> ShardHeader:
    """Read the header datasets (sizes already checked), verify the header digest, the per-frame
    checksums of pose, timestamp and trajectory id and the class counts; parse what they hold."""
    datasets = layout.datasets
    data = {name: datasets[name][()] for name in HEADER_DATASETS}
    dataset_attrs = {name: _read_attrs(ds, path, file_size) for name, ds in datasets.items()}
    stored = attr_text(layout.attrs.get(HEADER_DIGEST))
    if stored is None:
        raise _damaged(path, "no header digest")
    digest = digest_of(layout.attrs, datasets, dataset_attrs, data)
    if digest != stored:
        raise ShardError(
            f"{path} fails its header checksum (an attribute, a label table or name list, the intrinsics, "
            f"poses or checksums changed); the shard is corrupt, regenerate it with 'synthcam generate'"
        )
    columns = json.loads(attr_text(dataset_attrs["checksum"].get("columns")) or "null")
    fields = checksum_fields(layout.version)
    if columns != list(fields):
        raise _damaged(path, "checksum columns are not " + ", ".join(fields))
    checksums = data["checksum"]
    for name in ("pose", "timestamp", "trajectory_id"):
        column = checksums[:, fields.index(name)].tolist()
        values = data[name]
        for i in range(layout.n):
            if crc32(values[i : i + 1]) != column[i]:
                raise ShardError(
                    f"{path.name}: frame {i} fails its {name} checksum; the shard is corrupt, "
                    f"regenerate it (synthcam validate lists every bad shard)"
                )
    pixels = data["class40_pixels"]
    short: np.ndarray | list[int] = (
        np.flatnonzero(pixels.sum(axis=1) != layout.height * layout.width) if layout.n else []
    )
    if len(short) or (pixels < 0).any():
        raise _damaged(
            path,
            f"the class counts of frame {int(short[0]) if len(short) else 0} do not add up to its "
            f"pixels (class40 ids outside 0..40)",
        )
    values = data["intrinsics"]
    if not np.isfinite(values).all() or values[0] != layout.width or values[1] != layout.height:
        raise _damaged(path, f"intrinsics {values.tolist()} do not describe its {layout.width}x{layout.height} images")
    names = {}
    for key in CLASS_COUNTS:
        names[key] = tuple(s.decode("utf-8") for s in data[key].tolist())
    scene = json.loads(attr_text(layout.attrs.get("scene_json")) or "null")
    if not isinstance(scene, dict):
        raise _damaged(path, "scene_json is not a JSON object")
    labels = LabelTables(
        names["class40_names"],
        names["class13_names"],
        names["class37_names"],
        data["class40_to_13"],
        data["class40_to_37"],
    )
    return ShardHeader(
        digest,
        Intrinsics.from_array(values),
        labels,
        data["pose"],
        data["timestamp"],
        data["trajectory_id"],
        pixels,
        checksums,
        {k: _decode_attr(v) for k, v in layout.attrs.items() if k != "scene_json"},
        scene,
    )


DAMAGE_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, OverflowError, RecursionError, struct.error)
"""What h5py, numpy and json raise on a damaged file; turned into :class:`ShardError`."""


def open_checked(path: Path) -> tuple[h5py.File, ShardLayout, ShardHeader]:
    """Open a shard read-only, check its layout, read and verify its header; (open file, layout, header).

    Raises :class:`ShardError` (naming the file and what to do) for a missing or unreadable file, a non-HDF5
    or truncated file, another format version, an incomplete or damaged shard, or zstd data without hdf5plugin.
    """
    path = Path(path)
    not_hdf5 = ShardError(f"{path} is not an HDF5 file or is truncated; regenerate it with 'synthcam generate'")
    try:
        if not path.is_file():
            raise ShardError(f"{path} does not exist or is not a file; pass a shard (.h5) or a directory of shards")
        file_size = path.stat().st_size
        f = h5py.File(path, "r")
    except OSError as exc:  # with an errno: the system refused (permissions, too many open files), not damage
        if exc.errno is None:
            raise not_hdf5 from None
        raise ShardError(
            f"{path} cannot be read ({os.strerror(exc.errno)}); check its permissions and try again"
        ) from None
    except DAMAGE_ERRORS:
        raise not_hdf5 from None
    try:
        layout = _check_layout(f, path, file_size)
        return f, layout, _read_header(layout, path, file_size)
    except ShardError:
        f.close()
        raise
    except DAMAGE_ERRORS as exc:
        f.close()
        raise _damaged(path, str(exc) or type(exc).__name__) from None


MAX_PROBED_ATTR_BYTES = 1 << 20
"""Largest root attribute (bytes) :func:`probe_root_attrs` reads."""


def probe_root_attrs(path: Path, names: tuple[str, ...], vlen_text: tuple[str, ...] = ("format",)) -> dict | None:
    """``{name: value}`` of a few small root attributes of the HDF5 file at ``path`` without checking it
    is a shard (what ``generate`` needs to tell its own files from others); None if it is not a readable
    HDF5 file.

    A value is None when the attribute is absent, larger than :data:`MAX_PROBED_ATTR_BYTES`, or neither
    numbers nor fixed-length text. Variable-length values are left unread (they live in HDF5's global
    heap, which carries no checksum: a damaged one can make HDF5 loop forever), except for the names in
    ``vlen_text`` (``format``, which shards before version 2 stored so: they are named as older shards).
    Text comes back as ``str``.
    """
    try:
        with h5py.File(path, "r") as f:
            return {name: _probe_attr(f, name, name in vlen_text) for name in names}
    except Exception:  # noqa: BLE001  (any failure to read a header: not a readable HDF5 file)
        return None


def _probe_attr(f: h5py.File, name: str, vlen_text: bool):
    if name not in f.attrs:
        return None
    attr = f.attrs.get_id(name)
    if attr.get_storage_size() > MAX_PROBED_ATTR_BYTES:
        return None
    text = h5py.check_string_dtype(attr.dtype)
    if not (attr.dtype.kind in "biuf" or (text is not None and (text.length is not None or vlen_text))):
        return None
    value = f.attrs[name]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def open_shard(path: Path) -> h5py.File:
    """Open a shard read-only after checking it is a complete, undamaged shard of format version 2 or 3
    (its layout, sizes and header digest; see :class:`~synthcam_shards.shard_file.ShardFile`).

    Raises :class:`ShardError` (naming the file and what to do) for a missing file, a non-HDF5 or
    truncated file, another format version, an incomplete or damaged shard, or zstd data without hdf5plugin.
    """
    return open_checked(path)[0]
