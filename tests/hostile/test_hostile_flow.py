"""Hostile and careless shards with optical flow (format version 3): the exact dataset set of each version,
the flow datasets' shapes, dtypes, chunks and filters checked before any value is read (memory bounded by
one frame: tests/hostile/test_hostile_shards.py).

Shards are written with :class:`ShardWriter` at 40x30 and edited with h5py the way a forger would,
resealing the header digest so that only the layout checks can catch them.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_shard_flow import H, W, write_v2, write_v3

from hostile.test_hostile_shards import redeclare
from synthcam_core.errors import ShardError
from synthcam_shards.digest import header_digest
from synthcam_shards.format import CHECKSUM_FIELDS, HEADER_DIGEST
from synthcam_shards.shard_file import ShardFile, read_shard
from synthcam_shards.summary import summarize_shard
from synthcam_shards.validate import validate_path


def reseal(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        text = header_digest(f).encode()
        f.attrs.create(HEADER_DIGEST, data=text, dtype=h5py.string_dtype("utf-8", len(text)))


def zstd(**extra) -> dict:
    import hdf5plugin

    return {**dict(hdf5plugin.Zstd(clevel=1)), **extra}


def _checksum_of_version_2(f):
    del f["checksum"]
    f.create_dataset("checksum", data=np.zeros((3, len(CHECKSUM_FIELDS)), np.uint32))


def _delete(name: str):
    def craft(f):
        del f[name]

    return craft


def _columns(f):
    text = json.dumps(list(CHECKSUM_FIELDS) + ["a", "b"]).encode()
    f["checksum"].attrs.create("columns", data=text, dtype=h5py.string_dtype("utf-8", len(text)))


FRAME = (2, H, W)
CRAFTS = {
    "no flow_mask": (_delete("flow_mask"), "missing dataset(s) 'flow_mask'"),
    "flow without shuffle": (
        redeclare("flow", (3, *FRAME), "<i2", chunks=(1, *FRAME), **zstd()),
        "flow is not stored one compressed frame per chunk",
    ),
    "flow of 3 frames a chunk": (
        redeclare("flow", (3, *FRAME), "<i2", chunks=(3, *FRAME), **zstd(shuffle=True)),
        "flow is not stored one compressed frame per chunk",
    ),
    "flow chunks never written": (
        redeclare("flow", (3, *FRAME), "<i2", chunks=(1, *FRAME), **zstd(shuffle=True)),
        "flow is not stored one compressed frame per chunk",
    ),
    "float flow": (
        redeclare("flow", (3, *FRAME), "<f4", chunks=(1, *FRAME), **zstd(shuffle=True)),
        f"dataset flow is (3, 2, {H}, {W}) float32, expected (3, 2, {H}, {W}) int16",
    ),
    "interleaved flow": (
        redeclare("flow", (3, H, W, 2), "<i2", chunks=(1, H, W, 2), **zstd(shuffle=True)),
        f"dataset flow is (3, {H}, {W}, 2) int16",
    ),
    "flow of 8192 x 8192": (
        redeclare("flow", (3, 2, 8192, 8192), "<i2", chunks=(1, 2, 8192, 8192), **zstd(shuffle=True)),
        "dataset flow is (3, 2, 8192, 8192) int16",
    ),
    "mask of 16 bits": (redeclare("flow_mask", (3, H, W), "<u2", chunks=(1, H, W), **zstd()), "dataset flow_mask is"),
    "checksum of version 2": (
        _checksum_of_version_2,
        f"dataset checksum is (3, 7) uint32, expected (3, {len(CHECKSUM_FIELDS) + 2}) uint32",
    ),
    "checksum columns misnamed": (_columns, "checksum columns are not depth, depth_clean"),
}


@pytest.mark.parametrize("name", CRAFTS)
def test_a_flow_shard_with_another_layout_is_refused(tmp_path, name):
    craft, message = CRAFTS[name]
    path, _, _ = write_v3(tmp_path / "room_00000.h5")
    with h5py.File(path, "r+") as f:
        craft(f)
    reseal(path)
    assert path.stat().st_size < 100_000
    with pytest.raises(ShardError, match="is damaged") as caught:
        ShardFile(path)
    assert message in str(caught.value)
    report = validate_path(path)
    assert not report.ok and message in report.problems[0].problem
    for read in (read_shard, summarize_shard):
        with pytest.raises(ShardError, match="is damaged"):
            read(path)


@pytest.mark.parametrize("version", [2, 3])
def test_each_version_holds_exactly_its_datasets(tmp_path, version):
    """Flow datasets in a version 2 shard, or a version 3 shard without them, are refused (resealed)."""
    if version == 2:
        path = write_v2(tmp_path / "a.h5", n=2)
        donor, _, _ = write_v3(tmp_path / "donor.h5", n=2)
        with h5py.File(donor) as src, h5py.File(path, "r+") as f:
            for name in ("flow", "flow_mask"):
                src.copy(src[name], f, name)
        message = "unexpected dataset(s) 'flow', 'flow_mask'"
    else:
        path = write_v2(tmp_path / "a.h5", n=2)
        with h5py.File(path, "r+") as f:
            f.attrs["format_version"] = 3
        message = "missing dataset(s) 'flow', 'flow_mask'"
    reseal(path)
    with pytest.raises(ShardError, match="is damaged") as caught:
        ShardFile(path)
    assert message in str(caught.value)


def test_a_reopened_flow_shard_checks_the_flow_layout(tmp_path):
    """A flow shard replaced on disk by one whose flow is laid out otherwise (digest attribute copied) is
    refused on reopen, before a frame is read."""
    path, _, _ = write_v3(tmp_path / "a.h5")
    shard = ShardFile(path)
    shard.close()
    with h5py.File(path, "r+") as f:
        redeclare("flow", (3, 2, H, 2 * W), "<i2", chunks=(1, 2, H, 2 * W), **zstd(shuffle=True))(f)
    with pytest.raises(ShardError, match="changed on disk"):
        shard.read_frame(0, ("flow",))
