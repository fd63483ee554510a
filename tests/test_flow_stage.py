"""The --flow stage writes the same shard whether it computes flow on a thread or inline."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from synthcam.flow_stage import FlowStage
from synthcam_core.camera import Intrinsics, look_at
from synthcam_shards.shard_file import ShardFile, ShardWriter

CAM = Intrinsics(40, 30, 36.0, 36.0, 20.0, 15.0)


def _write(path, threaded: bool) -> str:
    poses = [look_at(np.array([0.02 * i, 0.0, 1.2]), np.array([0.3, 3.0, 1.0])) for i in range(4)]
    depth = np.full((30, 40), 2.5, np.float32)
    depth[10:20, 10:20] = 1.5
    labels = np.ones((30, 40), np.uint8)
    objects = [{"instance_id": 1, "class40": 1, "class_name": "wall", "name": "wall"}]
    with ShardWriter(path, 4, CAM, {"seed": 0}, {"objects": objects}, flow=True) as writer:
        stage = FlowStage(writer, CAM, threaded=threaded)
        for i, pose in enumerate(poses):
            stage.start(i, depth, pose)
            writer.write(i, depth, depth, labels, labels.astype(np.uint16), pose, 0.04 * i)
            stage.finish()
        stage.close(4)
        writer.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_threaded_and_inline_flow_write_the_same_bytes(tmp_path):
    assert _write(tmp_path / "a.h5", True) == _write(tmp_path / "b.h5", False)
    with ShardFile(tmp_path / "a.h5") as shard:
        masks = shard.read_frames(0, 4, ("flow_mask",))["flow_mask"]
    assert (masks[:3] == 1).mean() > 0.8 and not masks[3].any()  # the last frame has no next frame


def test_an_error_in_the_flow_thread_reaches_the_caller(tmp_path):
    with ShardWriter(tmp_path / "c.h5", 2, CAM, {"seed": 0}, {"objects": []}, flow=True) as writer:
        stage = FlowStage(writer, CAM, threaded=True)
        stage.start(0, np.ones((30, 40), np.float32), np.eye(4))
        stage.start(1, np.ones((5, 5), np.float32), np.eye(4))  # wrong size: forward_flow raises
        with pytest.raises(ValueError):
            stage.finish()
        stage.shutdown()
        writer.abort()
