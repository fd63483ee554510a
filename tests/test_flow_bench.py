"""Label propagation along flow and the depth-warp check (synthcam.flow_bench), on fields built in code."""

from __future__ import annotations

import numpy as np

from synthcam.flow_bench import depth_warp_errors, propagate_labels
from synthcam_core.camera import Intrinsics, look_at
from synthcam_core.geometry.flow_np import FLOW_OCCLUDED, FLOW_VALID, forward_flow

CAM = Intrinsics(32, 24, 30.0, 30.0, 16.0, 12.0)


def _labels(h: int = 24, w: int = 32) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) % 40 + 1).astype(np.uint8)


def test_constant_flow_shifts_labels_k_times():
    labels = _labels()
    flow = np.zeros((24, 32, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, 1.0
    mask = np.full((24, 32), FLOW_VALID, np.uint8)
    out, reached = propagate_labels(labels, [flow] * 3, [mask] * 3)
    np.testing.assert_array_equal(out[3:, 6:], labels[:-3, :-6])
    assert reached[3:, 6:].all() and not reached[:3].any() and not reached[:, :6].any()


def test_occluded_points_stop():
    labels = _labels()
    flow = np.zeros((24, 32, 2), np.float32)
    mask = np.full((24, 32), FLOW_VALID, np.uint8)
    mask[5, 7] = FLOW_OCCLUDED
    _, reached = propagate_labels(labels, [flow], [mask])
    assert not reached[5, 7] and reached.sum() == 24 * 32 - 1
    second = mask.copy()
    second[5, 7] = FLOW_VALID
    second[0, 0] = FLOW_OCCLUDED  # a point that was alive stops at the second step
    _, reached = propagate_labels(labels, [flow, flow], [mask, second])
    assert reached.sum() == 24 * 32 - 2


def test_depth_warp_of_a_moving_camera_on_a_plane_is_exact():
    pose = look_at(np.array([0.0, -1.0, 1.2]), np.array([0.3, 3.0, 1.0]))
    pose_next = look_at(np.array([0.05, -0.97, 1.21]), np.array([0.35, 3.0, 1.0]))

    def plane_depth(p: np.ndarray) -> np.ndarray:  # the wall y = 3 seen from pose p
        u = (np.arange(CAM.width) + 0.5 - CAM.cx) / CAM.fx
        v = (np.arange(CAM.height) + 0.5 - CAM.cy) / CAM.fy
        rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], 1.0), axis=-1) @ p[:3, :3].T
        return ((3.0 - p[1, 3]) / rays[..., 1]).astype(np.float32)

    depth, depth_next = plane_depth(pose), plane_depth(pose_next)
    field = forward_flow(depth, depth_next, CAM, pose, pose_next)
    assert (field.mask == FLOW_VALID).mean() > 0.8
    errors = depth_warp_errors(depth, depth_next, field.flow, field.mask, CAM, pose, pose_next)
    assert errors.size > 0.5 * depth.size
    assert np.median(errors) < 0.05  # mm: bilinear sampling of a plane's depth is almost exact
    labels = np.where(np.arange(CAM.width)[None, :] < 16, 1, 2).repeat(CAM.height, 0).astype(np.uint8)
    out, reached = propagate_labels(labels, [field.flow], [field.mask])
    assert reached.sum() > 0.8 * labels.size
