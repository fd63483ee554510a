"""``synthcam preview`` on a damaged shard: one ``error:`` line naming the shard, never a traceback or
a picture of corrupt data, and never writing through a link."""

from __future__ import annotations


def test_preview_of_a_corrupt_frame_is_one_line(tmp_path, cli, one_line_error, flip_frame_byte):
    out = tmp_path / "data"
    result = cli(
        "generate",
        "--rooms",
        1,
        "--frames-per-room",
        2,
        "--resolution",
        "64x48",
        "--renderer",
        "raycast",
        "--workers",
        1,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    flip_frame_byte(out / "room_00000.h5", 1)
    result = cli("preview", out / "room_00000.h5", "--out", tmp_path / "previews", "--frames", 2)
    one_line_error(result, "room_00000.h5", "frame 1")


def test_preview_never_writes_through_a_link(tmp_path, cli):
    out = tmp_path / "data"
    result = cli(
        "generate",
        "--rooms",
        1,
        "--frames-per-room",
        1,
        "--resolution",
        "64x48",
        "--renderer",
        "raycast",
        "--workers",
        1,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    victim = tmp_path / "user_file.txt"
    victim.write_text("keep me")
    previews = tmp_path / "previews"
    previews.mkdir()
    (previews / "room_00000_frame0000.png").symlink_to(victim)
    result = cli("preview", out, "--out", previews, "--frames", 1)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me"
    picture = previews / "room_00000_frame0000.png"
    assert not picture.is_symlink() and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in previews.iterdir() if p.name.endswith(".synthcam-partial")]


def test_scenes_preview_of_an_empty_room_is_a_picture(tmp_path, cli):
    import json

    result = cli("scenes", "sample", "--type", "office", "--seed", 1, "--out", tmp_path / "room.glb")
    assert result.exit_code == 0, result.output
    description = json.loads((tmp_path / "room.json").read_text())
    description["objects"] = []
    (tmp_path / "empty.json").write_text(json.dumps(description))
    result = cli("scenes", "preview", tmp_path / "empty.json", "--views", 0, "--out", tmp_path / "plans")
    assert result.exit_code == 0, (result.output, result.exception)
    assert (tmp_path / "plans" / "empty_plan.png").read_bytes()[:4] == b"\x89PNG"


def test_preview_of_the_largest_frame_stays_in_bounded_memory(tmp_path):
    """A 4096x3072 frame (the largest size generate writes is 4096 a side) is drawn subsampled: the
    arrays behind the picture stay a small multiple of the frame, not gigabytes of float64 colours."""
    import tracemalloc

    import numpy as np

    from synthcam.preview import preview_shard
    from synthcam_core.camera import Intrinsics
    from synthcam_shards.shard_file import ShardWriter

    width, height = 4096, 3072
    path = tmp_path / "room_00000.h5"
    depth = np.full((height, width), 2.0, np.float32)
    labels = np.ones((height, width), np.uint8)
    with ShardWriter(path, 1, Intrinsics.nyuv2().scaled(width, height), {"seed": 0}, {"objects": []}) as writer:
        writer.write(0, depth, depth, labels, np.zeros((height, width), np.uint16), np.eye(4), 0.0)
        writer.close()
    del depth, labels
    tracemalloc.start()
    try:
        written = preview_shard(path, tmp_path / "previews", 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(written) == 1 and written[0].read_bytes()[:4] == b"\x89PNG"
    assert peak < 32 * width * height, f"{peak / 2**20:.0f} MiB for a {width}x{height} frame"
