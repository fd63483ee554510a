"""Hostile shards and memory (issue 12, case 6): a small crafted shard must not make readers allocate
gigabytes, and validate and inspect hold one frame of the largest images a shard may have (with and
without optical flow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from hostile.test_hostile_shards import CONFIG, redeclare, write_shard
from synthcam_core.camera import Intrinsics
from synthcam_shards import shard_file as shards
from synthcam_shards.shard_file import ShardWriter
from synthcam_shards.validate import validate_path


def _frame_count(f):
    f.attrs["frame_count"] = 10**9


CRAFTS = {
    "pose of 10**8 frames": redeclare("pose", (10**8, 4, 4), "<f8"),
    "checksum of 10**9 frames": redeclare("checksum", (10**9, 7), "<u4"),
    "10**9 class names": redeclare("class40_names", (10**9,), h5py.string_dtype()),
    "frame_count 10**9": _frame_count,
    "images of 10**4 x 8192 x 8192": redeclare("depth", (10**4, 8192, 8192), "<u2", chunks=(1, 8192, 8192)),
    "chunks of 4096 x 4096": redeclare(
        "class40", (2, 12, 16), "|u1", chunks=(1, 4096, 4096), maxshape=(None,) * 3, fillvalue=1
    ),
}

_PROBE = textwrap.dedent("""
    import json, resource, sys
    from synthcam_core.errors import ShardError
    from segnet.datasets.shard_reader import ShardDataset
    from synthcam_shards.shard_file import read_shard
    from synthcam_shards.summary import summarize_shard
    from synthcam_shards.validate import validate_path

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    # From here on the process may map at most 1 GiB more (numpy, h5py and HDF5's own allocations alike).
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + (1 << 30), resource.RLIM_INFINITY))
    ops = {"validate": lambda p: validate_path(p).ok and "passed", "inspect": summarize_shard, "read_shard": read_shard,
           "ShardDataset": lambda p: ShardDataset(p)[0]}
    outcome = {}
    for path in sys.argv[1:]:
        for op, fn in ops.items():
            try:
                result = fn(path)
                outcome[f"{path} {op}"] = "validate found a problem" if result is False else "read it"
            except ShardError:
                outcome[f"{path} {op}"] = "ShardError"
            except BaseException as exc:
                outcome[f"{path} {op}"] = type(exc).__name__
    print(json.dumps(outcome))
""")


def test_small_crafted_shards_are_refused_in_bounded_memory(tmp_path):
    """A few-KB shard declaring huge datasets, frame counts or chunks: validate, inspect, read_shard and
    the torch reader refuse it with ShardError, in a process allowed 1 GiB more address space."""
    paths = []
    for k, (name, craft) in enumerate(CRAFTS.items()):
        path = write_shard(tmp_path / f"crafted_{k}.h5")
        with h5py.File(path, "r+") as f:
            craft(f)  # not resealed: computing a digest here would read the huge datasets
        assert path.stat().st_size < 100_000, name
        paths.append(str(path))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(shards.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *paths], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    outcome = json.loads(probe.stdout.splitlines()[-1])
    names = dict(zip(paths, CRAFTS))
    wrong = {
        f"{names[key.rsplit(' ', 1)[0]]}: {key.rsplit(' ', 1)[1]}": value
        for key, value in outcome.items()
        if value not in ("ShardError", "validate found a problem")
    }
    assert not wrong, wrong


@pytest.mark.parametrize("flow", [False, True])
@pytest.mark.parametrize("command", ["validate", "inspect"])
def test_a_4096_px_frame_is_checked_holding_one_frame(tmp_path, command, flow):
    """validate and inspect of a one-frame 4096x4096 shard (all zeros, a few KB on disk) hold one frame of
    the fields they read (4096*4096*7 or *5 bytes) and a few MiB besides, no more. With optical flow,
    validate also holds the stored flow, its (H, W, 2) copy, the mask and a comparison (+10 bytes a
    pixel) and inspect the mask (+1)."""
    import tracemalloc

    from synthcam_shards.summary import summarize_shard

    side = 4096
    path = tmp_path / "room_00000.h5"
    zeros = np.zeros((side, side), np.float32)
    with ShardWriter(
        path,
        1,
        Intrinsics.nyuv2().scaled(side, side),
        {"config": CONFIG, "seed": 5, "room_index": 0},
        {"room_type": "bedroom", "objects": []},
        flow=flow,
    ) as writer:
        writer.write(
            0,
            zeros,
            zeros,
            np.zeros((side, side), np.uint8),
            np.zeros((side, side), np.uint16),
            np.eye(4),
            0.0,
            trajectory_id=0,
        )
        if flow:
            writer.write_flow(0, np.zeros((side, side, 2), np.float32), np.ones((side, side), np.uint8))
        writer.close()
    del zeros
    one_frame = side * side * ((7 + 10 * flow) if command == "validate" else (5 + flow))
    tracemalloc.start()
    try:
        if command == "validate":
            assert validate_path(path).ok
        else:
            assert summarize_shard(path)["frames"] == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= one_frame + (24 << 20), f"{command} held {peak >> 20} MiB for a {one_frame >> 20} MiB frame"
