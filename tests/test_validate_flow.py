"""validate and inspect on shards with optical flow (format version 3): mask codes, flow only where valid,
checksums; the summary says whether a shard holds flow."""

from __future__ import annotations

import zlib

import h5py
import numpy as np
import pytest
from test_shard_flow import write_v2, write_v3

from synthcam_shards.digest import header_digest
from synthcam_shards.format import FLOW_CHECKSUM_FIELDS, HEADER_DIGEST
from synthcam_shards.summary import format_summary, summarize_shard
from synthcam_shards.validate import validate_path


def forge(path, name: str, frame: int, value: np.ndarray) -> None:
    """Store ``value`` as frame ``frame`` of dataset ``name`` with a matching checksum and header digest,
    as a careful forger would: only the value checks can catch it."""
    import hdf5plugin  # noqa: F401  (the zstd filter)

    with h5py.File(path, "r+") as f:
        f[name][frame] = value
        checksum = f["checksum"][()]
        checksum[frame, FLOW_CHECKSUM_FIELDS.index(name)] = zlib.crc32(np.ascontiguousarray(value).tobytes())
        f["checksum"][...] = checksum
        text = header_digest(f).encode()
        f.attrs.create(HEADER_DIGEST, data=text, dtype=h5py.string_dtype("utf-8", len(text)))


def problem(path) -> str:
    report = validate_path(path)
    assert not report.ok, f"validate passed {path.name}"
    return report.problems[0].problem


def test_a_flow_shard_validates(tmp_path):
    path, _, _ = write_v3(tmp_path / "a.h5")
    report = validate_path(path)
    assert report.ok, report.problems
    assert report.frames == 3


def test_validate_refuses_a_mask_code_above_3(tmp_path):
    path, _, mask = write_v3(tmp_path / "a.h5")
    forged = mask[1].copy()
    forged[5, 5] = 7
    forge(path, "flow_mask", 1, forged)
    assert problem(path) == "frame 1 holds flow mask code 7; codes are 0..3"


def test_validate_refuses_flow_where_the_mask_is_not_valid(tmp_path):
    path, _, _ = write_v3(tmp_path / "a.h5")
    with h5py.File(path) as f:
        import hdf5plugin  # noqa: F401

        stored = f["flow"][2]
    stored[:, 0, 0] = 5  # row 0 is mask 0 (no surface)
    forge(path, "flow", 2, stored)
    assert problem(path) == "frame 2 holds flow where its flow mask is not 1 (valid); flow is stored 0 there"
    stored[:, 0, 0] = 0
    stored[0, 20, 20] = -32768  # valid pixel, beyond what the writer stores
    forge(path, "flow", 2, stored)
    assert "beyond the stored range" in problem(path)


@pytest.mark.parametrize("name", ["flow", "flow_mask"])
def test_validate_names_a_flow_checksum_mismatch(tmp_path, name):
    path, _, _ = write_v3(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        checksum = f["checksum"][()]
        checksum[1, FLOW_CHECKSUM_FIELDS.index(name)] ^= 1
        f["checksum"][...] = checksum
        text = header_digest(f).encode()
        f.attrs.create(HEADER_DIGEST, data=text, dtype=h5py.string_dtype("utf-8", len(text)))
    assert problem(path) == f"frame 1 fails its {name} checksum; the shard is corrupt, regenerate it " + (
        "(synthcam validate lists every bad shard)"
    )


def test_inspect_says_whether_a_shard_holds_optical_flow(tmp_path):
    path, _, mask = write_v3(tmp_path / "a.h5")
    summary = summarize_shard(path)
    counts = np.bincount(mask.ravel(), minlength=4).tolist()
    assert summary["flow"] == dict(zip(("none", "valid", "occluded", "out of view"), counts))
    assert {"flow", "flow_mask"} <= set(summary["datasets"])
    assert summary["datasets"]["flow"]["compression"] in ("blosc", "shuffle+gzip")
    text = format_summary([summary])
    assert "  optical flow: yes (none 12.3 %, valid 76.8 %, occluded 3.3 %, out of view 7.5 %)\n" in text
    plain = summarize_shard(write_v2(tmp_path / "b.h5"))
    assert plain["flow"] is None and "flow" not in plain["datasets"]
    assert "  optical flow: no\n" in format_summary([plain])
