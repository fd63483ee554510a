import numpy as np
import pytest

from scene_library import generate_room
from synthcam.camera import Intrinsics
from synthcam.render import RaycastRenderer
from synthcam.trajectory import bspline, furniture_targets, furniture_fraction, sample_trajectory


@pytest.mark.parametrize("seed", range(12))
def test_trajectory_height_clearance_and_gaze(seed):
    scene = generate_room(np.random.default_rng(seed))
    renderer = RaycastRenderer(scene, Intrinsics.nyuv2().scaled(80, 60), nthreads=1)
    score = furniture_fraction(scene, lambda pose: renderer.render(pose, normals=False).instance)
    traj = sample_trajectory(scene, 30, np.random.default_rng(seed), renderer.distance, view_score=score)
    poses = traj.poses
    assert poses.shape == (30, 4, 4) and traj.timestamps.shape == (30,)
    assert np.all(np.diff(traj.timestamps) > 0)
    eyes = poses[:, :3, 3]
    assert np.all((eyes[:, 2] >= 1.1) & (eyes[:, 2] <= 1.6))
    # Clearance checked independently along the whole path, densely between frames.
    dense = np.concatenate([eyes[i] + np.linspace(0, 1, 10)[:, None] * (eyes[i + 1] - eyes[i]) for i in range(29)])
    assert renderer.distance(dense).min() >= 0.3 - 0.01  # chords of a curve sampled 8x per frame
    assert renderer.distance(eyes).min() >= 0.3
    # Orthonormal rotations, looking slightly down at furniture.
    rot = poses[:, :3, :3]
    assert np.allclose(rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(rot), 1.0)
    assert np.all(poses[:, 2, 2] < 0.05)  # optical axis never points far up
    # Every frame sees furniture on at least 8 % of its pixels, and on average far more.
    furniture_ids = [o.instance_id for o in scene.objects if "/" in o.name]
    shares = [np.isin(renderer.render(pose, normals=False).instance, furniture_ids).mean() for pose in poses]
    assert min(shares) >= 0.08 and np.mean(shares) >= 0.2


def test_bspline_ends_and_hull():
    ctrl = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [4.0, 4.0]])
    pts = bspline(ctrl, np.linspace(0, 1, 101))
    assert np.allclose(pts[0], ctrl[0]) and np.allclose(pts[-1], ctrl[-1])
    assert np.all(pts >= ctrl.min(axis=0) - 1e-12) and np.all(pts <= ctrl.max(axis=0) + 1e-12)


def test_targets_are_furniture_centres():
    scene = generate_room(np.random.default_rng(1))
    targets = furniture_targets(scene)
    assert len(targets) >= 5 and np.all((targets[:, 2] >= 0.3) & (targets[:, 2] <= 1.2))
