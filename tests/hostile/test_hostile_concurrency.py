"""Two ``synthcam generate`` processes on one --out (issue 12, case 3): one proceeds, the other exits 2
naming the holder's pid; the result validates and is byte for byte what a single run writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cli.main

CODE_ROOT = Path(cli.main.__file__).resolve().parents[1]  # the code under test (also for subprocesses)
TINY = [
    "--rooms",
    "2",
    "--frames-per-room",
    "2",
    "--resolution",
    "64x48",
    "--renderer",
    "raycast",
    "--seed",
    "8",
    "--workers",
    "1",
]


def generate(out: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(CODE_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "generate", *TINY, "--out", str(out)],
        cwd=CODE_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def wait_for_lock(lock: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``proc`` holds the lock of its --out (its pid is written in ``lock``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if lock.read_text().strip() == str(proc.pid):
                return
        except OSError:
            pass
        assert proc.poll() is None, f"the first run ended (status {proc.returncode}) without ever locking {lock.parent}"
        assert time.monotonic() < deadline, f"no lock in {lock.parent} after {timeout} s"
        time.sleep(0.01)


def test_two_runs_on_one_out_one_proceeds_the_other_names_the_holder(cli, tmp_path):
    shared, alone = tmp_path / "shared", tmp_path / "alone"
    first = generate(shared)
    single = generate(alone)  # the reference: one run by itself, meanwhile
    try:
        wait_for_lock(shared / ".synthcam.lock", first)
        os.kill(first.pid, signal.SIGSTOP)  # hold the first run, lock in hand, while the second tries
        try:
            second = generate(shared)
            out, err = second.communicate(timeout=120)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 2, (second.returncode, err[-3000:])
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err[-3000:]
        assert f"pid {first.pid}" in lines[0] and str(shared) in lines[0], lines[0]
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err[-3000:]
        _, err = single.communicate(timeout=120)
        assert single.returncode == 0, err[-3000:]
    finally:
        for proc in (first, single):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result = cli("validate", shared)
    assert result.exit_code == 0, result.output
    assert list(files(shared)) == ["config.yaml", "manifest.json", "room_00000.h5", "room_00001.h5"]
    assert files(shared) == files(alone)
