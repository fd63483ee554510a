"""TUM RGB-D trajectory files: read back what is written, refuse anything else in one line naming file and line."""

from __future__ import annotations

import numpy as np
import pytest

from segnet.fusion.tum import MAX_TUM_BYTES, read_tum, write_tum
from synthcam_core.errors import InputError

GOOD = "# timestamp tx ty tz qx qy qz qw\n\n1.0 0 0 0 0 0 0 1\n1.5 1 2 3 0 0 0.7071068 0.7071068  # turned 90 deg\n"


def test_reads_poses_camera_to_world(tmp_path):
    path = tmp_path / "traj.txt"
    path.write_text(GOOD)
    trajectory = read_tum(path)
    assert len(trajectory) == 2 and trajectory.timestamps.tolist() == [1.0, 1.5]
    assert trajectory.lines.tolist() == [3, 4]
    assert np.allclose(trajectory.poses[0], np.eye(4))
    turned = trajectory.poses[1]
    assert np.allclose(turned[:3, 3], [1, 2, 3])
    assert np.allclose(turned[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-6)  # 90 degrees about z
    assert np.allclose(turned[:3, :3].T @ turned[:3, :3], np.eye(3), atol=1e-12)  # normalised


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[1, :3, :3] = q
    poses[:, :3, 3] = rng.normal(size=(3, 3))
    path = write_tum(tmp_path / "t.txt", np.array([0.0, 0.04, 0.08]), poses)
    back = read_tum(path)
    assert np.allclose(back.poses, poses, atol=1e-8) and np.allclose(back.timestamps, [0.0, 0.04, 0.08])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1 0 0 0 0 0 0\n", "line 1 has 7 fields"),
        ("1 0 0 0 0 0 0 1\n2 0 0 x 0 0 0 1\n", "line 2: 'x' is not a number"),
        ("1 0 0 nan 0 0 0 1\n", "line 1: 'nan' is not a finite number"),
        ("1 0 0 0 0 0 0 1\n2 0 0 0 0 0 0 inf\n", "line 2: 'inf' is not a finite number"),
        ("1 0 0 0 0 0 0 0.9\n", "line 1: quaternion (qx qy qz qw) has norm 0.9"),
        ("1 0 0 0 0 0 0 1\n1 0 0 0 0 0 0 1\n", "line 2: timestamp 1.0 does not follow 1.0"),
        ("# only a comment\n\n", "holds no pose lines"),
        ("", "holds no pose lines"),
    ],
)
def test_bad_lines_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "traj.txt"
    path.write_text(text)
    with pytest.raises(InputError, match="traj.txt") as info:
        read_tum(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_tum(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="is a directory"):
        read_tum(tmp_path)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="is not text"):
        read_tum(binary)
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_TUM_BYTES + 1)
    with pytest.raises(InputError, match="larger than"):
        read_tum(big)
