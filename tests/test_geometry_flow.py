"""synthcam_core.geometry.flow_np: forward optical flow of a static scene, checked on analytic scenes whose depth
maps are built here at the pixel centres (a plane parallel to the image, a tilted plane, a step edge)."""

from __future__ import annotations

import numpy as np
import pytest

from synthcam_core.camera import Intrinsics, look_at
from synthcam_core.geometry.flow_np import (
    FLOW_NONE,
    FLOW_OCCLUDED,
    FLOW_OUT_OF_VIEW,
    FLOW_VALID,
    empty_flow,
    flow_planes,
    forward_flow,
    no_flow,
    relative_transform,
)
from synthcam_core.geometry.rays import pixel_centres, pixel_rays

CAM = Intrinsics(160, 120, 131.0, 129.5, 79.3, 61.1)
#: an arbitrary world pose of frame t's camera: flow depends only on the relative motion
POSE = look_at(np.array([0.4, -1.2, 1.3]), np.array([2.0, 1.5, 0.9]))


def moved(pose: np.ndarray, rotation: np.ndarray | None = None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """``pose`` followed by a motion given in its own camera frame (rotation, then the camera centre moved)."""
    step = np.eye(4)
    step[:3, :3] = np.eye(3) if rotation is None else rotation
    step[:3, 3] = translation
    return pose @ step


def rotation(axis, degrees: float) -> np.ndarray:
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def plane_depth(normal, offset: float, cam: Intrinsics = CAM) -> np.ndarray:
    """(H, W) float32 z-depth at the pixel centres of the plane n . X = offset (camera frame)."""
    rays = pixel_rays(cam).astype(np.float64)
    return (offset / (rays @ np.asarray(normal, np.float64))).astype(np.float32)


def grid(cam: Intrinsics = CAM) -> tuple[np.ndarray, np.ndarray]:
    u, v = pixel_centres(cam)
    return np.broadcast_to(u[None, :], (cam.height, cam.width)), np.broadcast_to(v[:, None], (cam.height, cam.width))


def expected_mask(u2: np.ndarray, v2: np.ndarray, cam: Intrinsics = CAM) -> np.ndarray:
    inside = (u2 >= 0) & (u2 < cam.width) & (v2 >= 0) & (v2 < cam.height)
    return np.where(inside, FLOW_VALID, FLOW_OUT_OF_VIEW).astype(np.uint8)


def check_flow(field, u2: np.ndarray, v2: np.ndarray, expected: np.ndarray, cam: Intrinsics = CAM) -> None:
    u, v = grid(cam)
    assert field.flow.shape == (cam.height, cam.width, 2) and field.flow.dtype == np.float32
    assert field.mask.dtype == np.uint8
    np.testing.assert_array_equal(field.mask, expected)
    ok = expected == FLOW_VALID
    assert ok.mean() > 0.5
    np.testing.assert_allclose(field.flow[ok, 0], (u2 - u)[ok], atol=1e-3, rtol=0)
    np.testing.assert_allclose(field.flow[ok, 1], (v2 - v)[ok], atol=1e-3, rtol=0)
    assert not field.flow[~ok].any(), "flow must be 0 where the mask is not FLOW_VALID"


@pytest.mark.parametrize("step", [(0.03, -0.02, 0.1), (-0.2, 0.1, -0.3), (0.0, 0.0, 0.0)])
def test_translation_in_front_of_a_plane_parallel_to_the_image(step):
    z = 2.5
    tx, ty, tz = step
    depth = np.full((CAM.height, CAM.width), z, np.float32)
    depth_next = np.full_like(depth, z - tz)
    field = forward_flow(depth, depth_next, CAM, POSE, moved(POSE, translation=step))
    u, v = grid()
    sx, sy = (u - CAM.cx) / CAM.fx, (v - CAM.cy) / CAM.fy
    u2 = CAM.cx + CAM.fx * (z * sx - tx) / (z - tz)
    v2 = CAM.cy + CAM.fy * (z * sy - ty) / (z - tz)
    check_flow(field, u2, v2, expected_mask(u2, v2))


@pytest.mark.parametrize("scene", ["tilted plane", "parallel plane"])
@pytest.mark.parametrize("axis, degrees", [((0.2, 1.0, 0.1), 4.0), ((1.0, -0.3, 0.5), -7.0), ((0, 0, 1), 20.0)])
def test_rotation_about_the_camera_centre_is_a_homography_whatever_the_depth(scene, axis, degrees):
    normal, offset = ((0.3, -0.4, 1.0), 2.0) if scene == "tilted plane" else ((0.0, 0.0, 1.0), 3.7)
    rot = rotation(axis, degrees)
    depth = plane_depth(normal, offset)
    depth_next = plane_depth(rot.T @ np.asarray(normal), offset)  # the same plane in the rotated camera
    field = forward_flow(depth, depth_next, CAM, POSE, moved(POSE, rot))
    u, v = grid()
    homography = CAM.matrix @ rot.T @ np.linalg.inv(CAM.matrix)
    p = np.stack([u, v, np.ones_like(u)], axis=-1) @ homography.T
    u2, v2 = p[..., 0] / p[..., 2], p[..., 1] / p[..., 2]
    check_flow(field, u2, v2, expected_mask(u2, v2))


def test_nearer_geometry_in_the_next_frame_occludes_and_missing_depth_counts_as_none():
    depth = np.full((CAM.height, CAM.width), 3.0, np.float32)
    depth[:, :10] = 0.0  # no surface in frame t: FLOW_NONE
    depth_next = depth.copy()
    depth_next[:, :10] = 3.0
    depth_next[40:60, 50:90] = 1.0  # an object moved in front (the scene is not static: a pure occlusion test)
    depth_next[80:90, 20:30] = 0.0  # nothing rendered there in frame t+1: cannot be the surface seen at t
    depth_next[100:110, 100:110] = 3.0 * 1.019  # within the tolerance (1 cm + 2 %): still visible
    field = forward_flow(depth, depth_next, CAM, POSE, POSE)
    expected = np.full(depth.shape, FLOW_VALID, np.uint8)
    expected[40:60, 50:90] = FLOW_OCCLUDED
    expected[80:90, 20:30] = FLOW_OCCLUDED
    expected[:, :10] = FLOW_NONE
    np.testing.assert_array_equal(field.mask, expected)
    assert np.abs(field.flow).max() < 1e-3 and not field.flow[expected != FLOW_VALID].any()


def test_a_step_edge_hides_the_background_it_moves_over():
    """Foreground half-plane (x < 0 at z = 1 m) before a background plane (z = 3 m); the camera moves 5 cm
    left, the foreground sweeps right over the background. Away from the edge (one pixel), the mask is the
    analytic visibility and the flow the analytic one."""
    shift = -0.05
    u, v = grid()
    sx, sy = (u - CAM.cx) / CAM.fx, (v - CAM.cy) / CAM.fy

    # depth at a camera offset by c: the ray of slope s hits the foreground if c + s * 1 < 0 (its x at z = 1)
    def depth_at(c: float) -> np.ndarray:
        return np.where(c + sx < 0, 1.0, 3.0).astype(np.float32)

    depth, depth_next = depth_at(0.0), depth_at(shift)
    field = forward_flow(depth, depth_next, CAM, POSE, moved(POSE, translation=(shift, 0.0, 0.0)))
    z = depth.astype(np.float64)
    sx2 = (z * sx - shift) / z  # slope in the next camera
    u2, v2 = CAM.cx + CAM.fx * sx2, CAM.cy + CAM.fy * sy
    expected = expected_mask(u2, v2)
    hidden = (z == 3.0) & (shift + sx2 < 0) & (expected == FLOW_VALID)
    expected[hidden] = FLOW_OCCLUDED
    edge_next = CAM.cx + CAM.fx * (-shift)
    far_from_edge = np.abs(u2 - edge_next) > 1.0
    assert hidden.sum() > 100
    np.testing.assert_array_equal(field.mask[far_from_edge], expected[far_from_edge])
    ok = far_from_edge & (expected == FLOW_VALID)
    np.testing.assert_allclose(field.flow[ok, 0], (u2 - u)[ok], atol=1e-3, rtol=0)
    np.testing.assert_allclose(field.flow[ok, 1], 0.0, atol=1e-3)
    assert not field.flow[field.mask != FLOW_VALID].any()


def test_points_behind_the_next_camera_are_out_of_view():
    depth = np.full((CAM.height, CAM.width), 1.0, np.float32)
    field = forward_flow(depth, depth, CAM, POSE, moved(POSE, translation=(0.0, 0.0, 1.5)))  # walked through
    assert (field.mask == FLOW_OUT_OF_VIEW).all() and not field.flow.any()


def test_no_flow_and_shapes():
    field = no_flow(4, 5)
    assert field.flow.shape == (4, 5, 2) and field.flow.dtype == np.float32 and not field.flow.any()
    assert field.mask.shape == (4, 5) and field.mask.dtype == np.uint8 and (field.mask == FLOW_NONE).all()
    depth = np.ones((CAM.height, CAM.width), np.float32)
    with pytest.raises(ValueError, match="must both be"):
        forward_flow(depth[:-1], depth, CAM, POSE, POSE)


def test_flow_is_planar_and_out_is_reused():
    depth = plane_depth((0.0, 0.0, 1.0), 2.0)
    depth[40:60, 50:90] = 1.2  # a nearer box drawn at the same pixels in both frames: occlusions
    depth[:5] = 0.0
    step = moved(POSE, translation=(0.3, 0.0, 0.0))
    other = moved(POSE, rotation((1.0, 0.0, 0.3), -3.0), (-0.1, 0.1, 0.2))
    fresh = forward_flow(depth, depth, CAM, POSE, step)
    planes = flow_planes(fresh.flow)
    assert planes is not None and planes.shape == (2, CAM.height, CAM.width) and planes.flags.c_contiguous
    assert np.shares_memory(planes, fresh.flow) and flow_planes(no_flow(4, 5).flow) is not None
    assert flow_planes(np.zeros((4, 5, 2), np.float32)) is None  # interleaved
    out = empty_flow(CAM.height, CAM.width)
    for pose_next in (other, step):  # the second call overwrites the first one's values
        assert forward_flow(depth, depth, CAM, POSE, pose_next, out=out) is out
    assert np.array_equal(out.flow, fresh.flow) and np.array_equal(out.mask, fresh.mask)
    assert {FLOW_VALID, FLOW_OCCLUDED, FLOW_OUT_OF_VIEW, FLOW_NONE} <= set(np.unique(out.mask).tolist())
    with pytest.raises(ValueError, match="out must be a planar FlowField"):
        forward_flow(depth, depth, CAM, POSE, step, out=no_flow(CAM.height, CAM.width - 1))
    interleaved = type(out)(np.zeros((CAM.height, CAM.width, 2), np.float32), out.mask)
    with pytest.raises(ValueError, match="out must be a planar FlowField"):
        forward_flow(depth, depth, CAM, POSE, step, out=interleaved)


def test_relative_transform_is_inv_next_times_pose():
    other = moved(POSE, rotation((1, 2, 3), 30.0), (0.3, -0.1, 0.2))
    np.testing.assert_allclose(relative_transform(POSE, other), np.linalg.inv(other) @ POSE, atol=1e-12)
