"""Resuming: a generation run killed with SIGKILL and rerun gives the bytes of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from synthcam.generate import GenerateConfig, generate_dataset

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--rooms", "4", "--frames-per-room", "6", "--seed", "21", "--resolution", "64x48", "--workers", "1"]


def cli(out: Path) -> list[str]:
    return [sys.executable, "-m", "cli.main", "generate", *ARGS, "--out", str(out)]


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_sigkill_then_rerun_gives_the_bytes_of_an_uninterrupted_run(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(cli(out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:  # kill while room 0 is complete and a later room is half written
        while not ((out / "room_00000.h5").exists() and list(out.glob("*.h5.synthcam-partial"))):
            assert proc.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline, "no shard appeared in 120 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "manifest.json").exists() and list(out.glob("*.h5.synthcam-partial"))
    rerun = subprocess.run(cli(out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    kept = int(rerun.stdout.split("kept ")[1].split()[0])
    assert 1 <= kept < 4, rerun.stdout
    whole = subprocess.run(cli(tmp_path / "whole"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    whole, resumed = files(tmp_path / "whole"), files(out)
    assert list(resumed) == [
        "config.yaml",
        "manifest.json",
        "room_00000.h5",
        "room_00001.h5",
        "room_00002.h5",
        "room_00003.h5",
    ]
    assert resumed == whole


def test_rerun_keeps_complete_shards_and_redoes_damaged_ones(tmp_path, flip_frame_byte):
    config = GenerateConfig(rooms=3, frames_per_room=2, seed=4, width=32, height=24)
    generate_dataset(config, tmp_path)
    before = files(tmp_path)
    kept = []
    generate_dataset(config, tmp_path, on_skip=kept.append)
    assert kept == [3] and files(tmp_path) == before
    stamp = (tmp_path / "room_00000.h5").stat().st_mtime_ns
    flip_frame_byte(tmp_path / "room_00001.h5")  # a damaged shard under its final name (its header intact)
    (tmp_path / "room_00002.h5").rename(tmp_path / "room_00002.h5.synthcam-partial")  # a partial one
    (tmp_path / "manifest.json").unlink()
    kept, notices = [], []
    generate_dataset(config, tmp_path, on_skip=kept.append, on_notice=notices.append)
    assert kept == [1] and files(tmp_path) == before
    assert len(notices) == 1 and notices[0].startswith("room_00001.h5 is damaged")
    assert (tmp_path / "room_00000.h5").stat().st_mtime_ns == stamp  # not rewritten


def test_cli_refuses_another_config_in_one_line_and_overwrites_on_request(tmp_path):
    from click.testing import CliRunner

    from cli.main import main

    base = ["generate", "--rooms", "1", "--frames-per-room", "1", "--resolution", "32x24", "--out", str(tmp_path)]
    runner = CliRunner()
    assert runner.invoke(main, [*base, "--seed", "1"]).exit_code == 0
    again = runner.invoke(main, [*base, "--seed", "1"])
    assert again.exit_code == 0 and "kept 1 complete shards" in again.output
    other = runner.invoke(main, [*base, "--seed", "2"])
    lines = [line for line in other.output.splitlines() if line.strip()]
    assert other.exit_code == 2 and len(lines) == 1, other.output
    assert lines[0].startswith("error: ") and "seed 1 vs 2" in lines[0] and "--overwrite" in lines[0]
    assert runner.invoke(main, [*base, "--seed", "2", "--overwrite"]).exit_code == 0
    assert runner.invoke(main, ["validate", str(tmp_path)]).exit_code == 0
