"""The bytes a seed gives, pinned: a small dataset's SHA-256s as generated on main at 7fdc3a5 (2026-12-07).

Moving code between modules or packages must not change what ``synthcam generate`` writes; a change that
means to change the bytes (a new preset default, a format version) updates these hashes in the same commit
and says why.
"""

from __future__ import annotations

import hashlib

PINNED = {
    # Updated when the config gained flow, frame_rate and clip_length: config.yaml, manifest.json and each
    # shard's config attribute list the three new keys (at their defaults: false, 2.5, 1). Every frame is
    # unchanged: each shard's datasets (depth, depth_clean, labels, poses, timestamps, the per-frame checksum
    # table) and its other attributes compared equal with those generated before the change.
    # the run's effective settings, written since configs became files (not part of the data; pinned so that
    # rerunning with --config THIS_FILE stays the same command)
    "config.yaml": "e0881255cd351e55bfb3f9097b67c5579a0e1c930e1854ef97f39ebdaf438e3d",
    "manifest.json": "9cdb723e2bce6e6e7d5cbd29ccbff400a961357a8f8f33b5db55854bac2768fa",
    "room_00000.h5": "f1f39880855bad7d37f3bfdd352979718f599fb357561417543da14ec6cf1936",
    "room_00001.h5": "255b42e16b3f01fe602f6441dec41cc68699cb1b760d6b8ab9441d2f0e34827f",
}


def dataset_hashes(directory) -> dict[str, str]:
    """``{file name: sha256 hex}`` of every file of a dataset directory but the hidden ones (the lock)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if not p.name.startswith(".")
    }


def test_a_seed_gives_the_pinned_bytes(cli, tmp_path):
    out = tmp_path / "data"
    result = cli(
        "generate",
        "--rooms",
        "2",
        "--frames-per-room",
        "3",
        "--resolution",
        "64x48",
        "--renderer",
        "raycast",
        "--seed",
        "3",
        "--workers",
        "1",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert dataset_hashes(out) == PINNED
