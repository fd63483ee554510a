"""Frames to fuse: a shard's depth, poses and ground truth, a folder of real depth PNGs with a TUM
trajectory, and a checkpoint's per-pixel class probabilities; every bad input one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segnet.fusion.sources import CheckpointLabeler, RealSource, ShardSource, check_poses, open_source
from segnet.fusion.tum import write_tum
from synthcam_core.errors import InputError, SynthcamError
from synthcam_shards.shard_file import ShardFile
from synthcam_shards.writer import ShardWriter

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One generated room of six 80x60 frames."""
    from click.testing import CliRunner

    from cli.main import main

    out = tmp_path_factory.mktemp("fusion") / "data"
    args = ["generate", "--rooms", "1", "--frames-per-room", "6", "--resolution", "80x60", "--frame-rate", "25"]
    result = CliRunner().invoke(main, [*args, "--renderer", "raycast", "--workers", "1", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 13-class DH checkpoint trained for one tiny epoch."""
    from tiny_runs import tiny_config

    from segnet.train import train

    out = tmp_path_factory.mktemp("run")
    config = tiny_config(synthetic_frames=8)
    train(config, out, progress=False, log=lambda s: None, tensorboard=False)
    return out / "last.pt"


def real_folder(data, folder, labels: bool = True):
    """The shard's clean depth as uint16 PNGs (NAME.png) with intrinsics.yaml, its class40 labels and a TUM file."""
    import cv2

    folder.mkdir()
    shard = ShardFile(data / "room_00000.h5")
    k = shard.intrinsics
    (folder / "intrinsics.yaml").write_text(f"fx: {k.fx!r}\nfy: {k.fy!r}\ncx: {k.cx!r}\ncy: {k.cy!r}\n")
    for i in range(len(shard)):
        frame = shard.read_frame(i, ("depth_clean_mm", "class40"))
        cv2.imwrite(str(folder / f"f{i:03d}.png"), frame["depth_clean_mm"])
        if labels:
            cv2.imwrite(str(folder / f"f{i:03d}_label40.png"), frame["class40"])
    return write_tum(folder.parent / f"{folder.name}.txt", shard.timestamps, shard.poses), shard


def test_shard_frames_carry_depth_pose_and_truth_in_the_class_space(data):
    shard = ShardFile(data / "room_00000.h5")
    source = open_source(data, classes=13, depth="clean", frames=4)
    assert isinstance(source, ShardSource) and len(source) == 4 and source.intrinsics == shard.intrinsics
    frames = list(source.frames())
    assert [f.index for f in frames] == [0, 1, 2, 3]
    want = shard.read_frame(2, ("depth_clean", "class40"))
    assert np.array_equal(frames[2].depth, want["depth_clean"]) and frames[2].depth.dtype == np.float32
    assert np.array_equal(frames[2].truth, shard.class40_to_13[want["class40"]])
    assert np.array_equal(frames[2].pose, shard.poses[2])
    assert np.allclose(frames[2].gravity, shard.poses[2][:3, :3].T @ [0, 0, -1])
    noisy = next(open_source(data / "room_00000.h5", classes=40).frames())
    assert np.array_equal(noisy.depth, shard.read_frame(0, ("depth",))["depth"])
    assert np.array_equal(noisy.truth, shard.read_frame(0, ("class40",))["class40"])
    assert len(open_source(data, classes=13, frames=99)) == 6  # --frames beyond the end: all of them


def test_pose_checks():
    good = np.tile(np.eye(4), (3, 1, 1))
    assert check_poses(good, "x").shape == (3, 4, 4)
    with pytest.raises(InputError, match="holds no camera poses"):
        check_poses(np.zeros((3, 4, 4)), "shard a.h5")
    bad = good.copy()
    bad[1, 0, 3] = np.nan
    with pytest.raises(InputError, match="pose of frame 1 holds NaN"):
        check_poses(bad, "shard a.h5")
    scaled = good.copy()
    scaled[2, :3, :3] *= 2.0
    with pytest.raises(InputError, match="pose of line 9 is not rigid"):
        check_poses(scaled, "--poses t.txt", ["line 1", "line 2", "line 9"])
    mirrored = good.copy()
    mirrored[0, 0, 0] = -1.0
    with pytest.raises(InputError, match="frame 0 is not rigid"):
        check_poses(mirrored, "shard a.h5")


@pytest.mark.parametrize("poses, fragment", [("zero", "holds no camera poses"), ("nan", "holds NaN")])
def test_a_shard_without_usable_poses_is_refused(tmp_path, poses, fragment):
    from synthcam_core.camera import Intrinsics

    n, cam = 2, Intrinsics.nyuv2().scaled(40, 30)
    pose = np.zeros((4, 4)) if poses == "zero" else np.full((4, 4), np.nan)
    path = tmp_path / "room_00000.h5"
    with ShardWriter(path, n, cam, {"seed": 0}, {"objects": []}) as w:
        for i in range(n):
            depth = np.ones((30, 40), np.float32)
            w.write(i, depth, depth, np.ones((30, 40), np.uint8), np.zeros((30, 40), np.uint16), pose, i / 25)
        w.close()
    with pytest.raises(InputError, match=fragment):
        ShardSource(path)


def test_real_folder_with_a_tum_trajectory(data, tmp_path):
    poses, shard = real_folder(data, tmp_path / "seq")
    source = open_source(tmp_path / "seq", classes=13, poses=poses, frames=5)
    assert isinstance(source, RealSource) and len(source) == 5
    assert np.allclose(source.poses, shard.poses, atol=1e-7)
    assert abs(source.intrinsics.fx - shard.intrinsics.fx) < 1e-9
    frames = list(source.frames())
    assert len(frames) == 5 and frames[3].name == "f003"
    want = shard.read_frame(3, ("depth_clean", "class40"))
    assert np.allclose(frames[3].depth, want["depth_clean"], rtol=0, atol=1e-6)  # mm * 0.001 against mm / 1000
    assert np.array_equal(frames[3].truth, shard.class40_to_13[want["class40"]])
    assert np.isnan(frames[3].camera_height) and frames[3].gravity.tolist() == [0.0, 1.0, 0.0]


def test_real_folder_bad_inputs(data, tmp_path):
    poses, shard = real_folder(data, tmp_path / "seq", labels=False)
    short = write_tum(tmp_path / "short.txt", shard.timestamps[:5], shard.poses[:5])
    with pytest.raises(InputError, match="holds 5 poses but .* holds 6 depth frames"):
        open_source(tmp_path / "seq", classes=13, poses=short)
    with pytest.raises(InputError, match="pass its camera poses with --poses"):
        open_source(tmp_path / "seq", classes=13)
    with pytest.raises(InputError, match="--shard applies to a dataset directory"):
        open_source(tmp_path / "seq", classes=13, poses=poses, shard="room_00000.h5")
    assert not open_source(tmp_path / "seq", classes=13, poses=poses).has_truth
    skewed = tmp_path / "skewed.txt"
    skewed.write_text("".join(f"{i} 0 0 0 0 0 0 1\n" for i in range(5)) + "5 0 0 0 0 0 0.5 0.5\n")
    with pytest.raises(InputError, match="line 6: quaternion"):
        open_source(tmp_path / "seq", classes=13, poses=skewed)


def test_shard_path_errors(data, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_source(tmp_path / "missing", classes=13)
    with pytest.raises(InputError, match="'room_9.h5' is not a shard of .*; valid: room_00000.h5"):
        open_source(data, classes=13, shard="room_9.h5")
    with pytest.raises(InputError, match="leave out --poses"):
        open_source(data, classes=13, poses=tmp_path / "p.txt")
    assert open_source(data, classes=13, shard="room_00000.h5").path.name == "room_00000.h5"


def test_checkpoint_probabilities_at_the_frames_resolution(data, checkpoint):
    source = open_source(data, classes=13, frames=1)
    frame = next(source.frames())
    before = torch.get_rng_state()
    labeler = CheckpointLabeler(checkpoint, None)
    assert torch.equal(before, torch.get_rng_state())  # the caller's generator is left alone
    probs = labeler.probabilities(frame, source.intrinsics)
    assert probs.shape == (14, 60, 80) and probs.dtype == np.float32
    assert (probs[0] == 0).all() and np.allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    assert np.array_equal(probs, labeler.probabilities(frame, source.intrinsics))


def test_checkpoint_of_another_class_count_is_refused(checkpoint, tmp_path):
    with pytest.raises(InputError, match="predicts 13 classes but --classes is 40; pass --classes 13"):
        CheckpointLabeler(checkpoint, 40)
    with pytest.raises(SynthcamError, match="does not exist"):
        CheckpointLabeler(tmp_path / "none.pt", 13)
