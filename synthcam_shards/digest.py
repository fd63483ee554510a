"""The header digest of a shard (FORMAT.md, "Header digest"): a SHA-256 over every root attribute, every
dataset's dtype, shape, chunking and attributes, and the data of every dataset but the per-frame image
stacks (:data:`~synthcam_shards.format.STACK_DATASETS`: the four images and, in version 3, the flow and its
mask). The writer stores it in the :data:`~synthcam_shards.format.HEADER_DIGEST` attribute; readers
recompute it from what they have checked and read (:mod:`synthcam_shards.layout`).
"""

from __future__ import annotations

import hashlib
import struct

import h5py
import numpy as np

from synthcam_shards.format import HEADER_DIGEST, STACK_DATASETS


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


def digest_of(
    root_attrs: dict, datasets: dict[str, h5py.Dataset], dataset_attrs: dict[str, dict], data: dict[str, np.ndarray]
) -> str:
    """Hex SHA-256 over the records of FORMAT.md's "Header digest": the root attributes but
    :data:`HEADER_DIGEST`, then per dataset (by name) its description, attributes and, for all but the
    per-frame stacks (:data:`~synthcam_shards.format.STACK_DATASETS`), its data. ``data``: the value of every dataset in
    :data:`~synthcam_shards.format.HEADER_DATASETS`."""
    digest = hashlib.sha256()
    for name in sorted(root_attrs):
        if name != HEADER_DIGEST:
            _record(digest, "attr:" + name, _value_bytes(root_attrs[name]))
    for name in sorted(datasets):
        _record(digest, "dataset:" + name, _describe_dataset(datasets[name]))
        for key in sorted(dataset_attrs[name]):
            _record(digest, f"attr:{name}/{key}", _value_bytes(dataset_attrs[name][key]))
        if name not in STACK_DATASETS:
            _record(digest, "data:" + name, _value_bytes(data[name]))
    return digest.hexdigest()


def header_digest(f: h5py.File) -> str:
    """The header digest of an open shard as :class:`~synthcam_shards.writer.ShardWriter` stores it in
    :data:`HEADER_DIGEST`: hex SHA-256 over every root attribute (but the digest itself), every dataset's dtype,
    shape, chunking and attributes, and the data of every dataset but the per-frame stacks (the four images, and
    the flow and its mask in version 3; those are covered frame by frame by the ``checksum`` table, which the
    digest covers). Reads the whole header; meant for a shard this process wrote (readers check the layout
    first,
    :func:`synthcam_shards.layout.open_shard`)."""
    datasets = {name: f[name] for name in f}
    data = {name: ds[()] for name, ds in datasets.items() if name not in STACK_DATASETS}
    return digest_of(
        dict(f.attrs.items()), datasets, {name: dict(ds.attrs.items()) for name, ds in datasets.items()}, data
    )
