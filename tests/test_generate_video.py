"""``synthcam generate --frame-rate HZ --clip-length N``: the options, their one-line errors, the config
round trip, and the timestamps of the shards written."""

from __future__ import annotations

import numpy as np
import pytest
from test_bytes_pinned import dataset_hashes

from synthcam_core.config_file import CONFIG_NAME
from synthcam_shards.shard_file import ShardFile

TINY = ["--rooms", "2", "--resolution", "160x120", "--renderer", "raycast", "--seed", "5", "--workers", "1", "--quiet"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--frame-rate", "3"], ("frame-rate 3.0 Hz", "25, 12.5, 5, 2.5")),
        (["--frame-rate", "50"], ("frame-rate 50.0 Hz", "25, 12.5, 5, 2.5")),
        (["--frame-rate", "0"], ("frame-rate 0.0 Hz",)),
        (["--frame-rate", "nan"], ("frame-rate nan Hz",)),
        (["--clip-length", "4"], ("frames-per-room 6 is not a multiple of clip-length 4", "frames-per-room 8")),
        (["--clip-length", "7"], ("clip-length 7 is longer than frames-per-room 6",)),
        (["--clip-length", "0"], ("clip-length must be at least 1",)),
    ],
)
def test_bad_frame_rate_and_clip_length_are_one_line(cli, one_line_error, tmp_path, args, fragments):
    out = tmp_path / "out"
    one_line_error(cli("generate", *TINY, "--frames-per-room", "6", *args, "--out", out), *fragments)
    assert not out.exists()


def test_clips_are_contiguous_and_the_config_round_trips(cli, tmp_path):
    first, again = tmp_path / "a", tmp_path / "b"
    result = cli(
        "generate", *TINY, "--frames-per-room", "6", "--frame-rate", "12.5", "--clip-length", "3", "--out", first
    )
    assert result.exit_code == 0, result.output
    text = (first / CONFIG_NAME).read_text()
    assert "frame_rate: 12.5\n" in text and "clip_length: 3\n" in text and "flow: false\n" in text
    for shard in sorted(first.glob("room_*.h5")):
        with ShardFile(shard) as f:
            assert f.attrs["config"]["frame_rate"] == 12.5 and f.attrs["config"]["clip_length"] == 3
            stamps = f.timestamps.reshape(2, 3)
        assert stamps[0, 0] == 0.0
        assert np.allclose(np.diff(stamps, axis=1), 1 / 12.5, rtol=0, atol=1e-12)  # no gap within a clip
        assert np.all(stamps[1:, 0] - stamps[:-1, -1] >= 1 / 12.5 - 1e-12)  # clips in time order
    result = cli("generate", "--config", first / CONFIG_NAME, "--workers", "1", "--quiet", "--out", again)
    assert result.exit_code == 0, result.output
    assert dataset_hashes(again) == dataset_hashes(first)
