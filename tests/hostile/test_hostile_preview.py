"""``synthcam preview`` on a damaged shard: one ``error:`` line naming the shard, never a traceback or
a picture of corrupt data, and never writing through a link."""

from __future__ import annotations


def test_preview_of_a_corrupt_frame_is_one_line(tmp_path, cli, one_line_error, flip_frame_byte):
    out = tmp_path / "data"
    result = cli("generate", "--rooms", 1, "--frames-per-room", 2, "--resolution", "64x48", "--renderer", "raycast",
                 "--workers", 1, "--out", out)
    assert result.exit_code == 0, result.output
    flip_frame_byte(out / "room_00000.h5", 1)
    result = cli("preview", out / "room_00000.h5", "--out", tmp_path / "previews", "--frames", 2)
    one_line_error(result, "room_00000.h5", "frame 1")


def test_preview_never_writes_through_a_link(tmp_path, cli):
    out = tmp_path / "data"
    result = cli("generate", "--rooms", 1, "--frames-per-room", 1, "--resolution", "64x48", "--renderer", "raycast",
                 "--workers", 1, "--out", out)
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
