"""The bytes a seed gives, pinned: a small dataset's SHA-256s as generated on main at 7fdc3a5 (2026-12-07).

Moving code between modules or packages must not change what ``synthcam generate`` writes; a change that
means to change the bytes (a new preset default, a format version) updates these hashes in the same commit
and says why.
"""

from __future__ import annotations

import hashlib

PINNED = {
    # the run's effective settings, written since configs became files (not part of the data; pinned so that
    # rerunning with --config THIS_FILE stays the same command)
    "config.yaml": "66e0e3c2f3a4a12ef45054c9d790abe95999a999dd050a0ceea438643832dbb3",
    "manifest.json": "95e42760fe4abf5ce75d25a5d8ee981355ee03391a358ff8352eb3186086970c",
    "room_00000.h5": "44da0a74fd4935e09b4413a64da2140a51ece85b24cb4ba4e791825177a23f30",
    "room_00001.h5": "becda6b5685c36921d9e95747a90c974f0c795fa0c9a411f1c4d62e0ecd43f5b",
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
    got = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if not p.name.startswith(".")
    }
    assert got == PINNED
