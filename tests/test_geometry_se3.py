"""synthcam_core.geometry.se3: exp/log round trips (angle 0, tiny, moderate, near pi), quaternions, composition,
and gradients (torch.autograd.gradcheck in float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synthcam_core.geometry import se3


def axis_angles(dtype=torch.float64) -> torch.Tensor:
    """(N, 3) axis-angle vectors: zero, tiny, small, around the series threshold, moderate, near and at pi."""
    gen = torch.Generator().manual_seed(0)
    axes = torch.nn.functional.normalize(torch.randn(9, 3, generator=gen, dtype=torch.float64), dim=-1)
    angles = torch.tensor([0.0, 1e-9, 1e-4, 0.09, 0.11, 0.49, 1.3, math.pi - 1e-4, math.pi], dtype=torch.float64)
    return (axes * angles[:, None]).to(dtype)


def test_skew_is_the_cross_product_and_vee_inverts_it():
    a, b = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close((se3.skew(a) @ b[..., None])[..., 0], torch.linalg.cross(a, b))
    torch.testing.assert_close(se3.vee(se3.skew(a)), a)


def test_so3_exp_is_rodrigues_and_a_rotation():
    omega = axis_angles()
    rot = se3.so3_exp(omega)
    eye = torch.eye(3, dtype=torch.float64).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(len(omega), dtype=torch.float64))
    z90 = se3.so3_exp(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    torch.testing.assert_close(z90, torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64))


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.float32, 2e-6)])
def test_so3_log_inverts_exp_up_to_pi(dtype, atol):
    omega = axis_angles(dtype)
    back = se3.so3_log(se3.so3_exp(omega))
    # at pi, omega and -omega are the same rotation
    same = torch.minimum((back - omega).abs().amax(-1), (back + omega).abs().amax(-1))
    assert same.max() < (2e-4 if dtype == torch.float32 else 1e-7)  # at pi the angle is ill-conditioned
    torch.testing.assert_close(back[:-2], omega[:-2], atol=atol, rtol=0)
    torch.testing.assert_close(se3.so3_exp(back), se3.so3_exp(omega), atol=atol * 2, rtol=0)


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-10), (torch.float32, 5e-6)])
def test_se3_exp_log_round_trip(dtype, atol):
    omega = axis_angles(dtype)
    rho = torch.linspace(-1.0, 2.0, 3 * len(omega), dtype=dtype).reshape(-1, 3)
    xi = torch.cat([rho, omega], -1)
    transform = se3.se3_exp(xi)
    back = se3.se3_log(transform)
    torch.testing.assert_close(back[:-2], xi[:-2], atol=atol, rtol=0)
    torch.testing.assert_close(se3.se3_exp(back), transform, atol=atol * 4, rtol=0)


def test_se3_exp_of_a_pure_translation_and_the_closed_form_v():
    xi = torch.tensor([0.3, -0.2, 1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(se3.se3_exp(xi)[:3, 3], xi[:3])
    # a quarter turn about z with rho along x: V rho = (sin t / t, (1 - cos t) / t, 0) for t = pi/2
    t = math.pi / 2
    moved = se3.se3_exp(torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, t], dtype=torch.float64))[:3, 3]
    torch.testing.assert_close(moved, torch.tensor([math.sin(t) / t, (1 - math.cos(t)) / t, 0.0], dtype=torch.float64))


def test_quaternions_are_w_first_and_round_trip():
    q = torch.tensor([math.cos(0.25), 0.0, 0.0, math.sin(0.25)], dtype=torch.float64)  # 0.5 rad about z
    torch.testing.assert_close(se3.quaternion_to_rotation(q), se3.so3_exp(torch.tensor([0.0, 0.0, 0.5]).double()))
    omega = axis_angles()
    rot = se3.so3_exp(omega)
    quat = se3.rotation_to_quaternion(rot)
    assert (quat[..., 0] >= 0).all()
    torch.testing.assert_close(quat.norm(dim=-1), torch.ones(len(omega), dtype=torch.float64))
    torch.testing.assert_close(se3.quaternion_to_rotation(quat), rot, atol=1e-12, rtol=0)
    torch.testing.assert_close(se3.quaternion_to_rotation(-3.0 * quat), rot, atol=1e-12, rtol=0)  # sign, scale
    from_aa = se3.axis_angle_to_quaternion(omega)
    same = torch.minimum((from_aa - quat).abs().amax(-1), (from_aa + quat).abs().amax(-1))
    assert same.max() < 1e-9
    torch.testing.assert_close(se3.quaternion_to_axis_angle(from_aa)[:-2], omega[:-2], atol=1e-10, rtol=0)


def test_compose_inverse_transform_points_and_relative_pose():
    gen = torch.Generator().manual_seed(1)
    a = se3.se3_exp(torch.randn(4, 6, generator=gen, dtype=torch.float64))
    b = se3.se3_exp(torch.randn(4, 6, generator=gen, dtype=torch.float64))
    eye = torch.eye(4, dtype=torch.float64).expand(4, 4, 4)
    torch.testing.assert_close(se3.compose(a, se3.inverse(a)), eye)
    torch.testing.assert_close(se3.inverse(a), torch.linalg.inv(a))
    points = torch.randn(4, 7, 3, generator=gen, dtype=torch.float64)
    hom = torch.cat([points, torch.ones_like(points[..., :1])], -1)
    torch.testing.assert_close(se3.transform_points(a, points), (hom @ a.transpose(-1, -2))[..., :3])
    image = points.reshape(4, 7, 1, 3)  # any number of point dimensions after the batch
    torch.testing.assert_close(se3.transform_points(a, image), se3.transform_points(a, points).reshape(4, 7, 1, 3))
    # relative_pose(a, b) takes a point in a's camera frame to b's camera frame
    in_a = points
    world = se3.transform_points(a, in_a)
    torch.testing.assert_close(
        se3.transform_points(se3.relative_pose(a, b), in_a), se3.transform_points(se3.inverse(b), world)
    )
    np.testing.assert_allclose(se3.relative_pose(a, b).numpy(), (np.linalg.inv(b.numpy()) @ a.numpy()), atol=1e-12)


def test_gradients_are_exact_including_at_angle_zero():
    omega = torch.tensor(
        [[0.0, 0.0, 0.0], [1e-5, -2e-5, 1e-5], [0.3, -0.5, 0.8], [0.05, 0.02, -0.04]], dtype=torch.float64
    )
    omega.requires_grad_(True)
    assert torch.autograd.gradcheck(se3.so3_exp, (omega,))
    xi = torch.cat([torch.tensor([[0.1, 0.2, -0.3]] * 4, dtype=torch.float64), omega.detach()], -1).requires_grad_(True)
    assert torch.autograd.gradcheck(se3.se3_exp, (xi,))
    rot = se3.so3_exp(
        torch.tensor([[0.3, -0.5, 0.8], [2.0, 1.0, -0.5], [0.01, 0.0, 0.02], [3.1, 0.0, 0.0]], dtype=torch.float64)
    )
    assert torch.autograd.gradcheck(lambda r: se3.so3_log(se3.so3_exp(se3.so3_log(r))), (rot.requires_grad_(True),))
    transform = se3.se3_exp(torch.tensor([[0.3, 0.1, -0.2, 0.4, -0.1, 0.7]], dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(se3.se3_log, (transform,))
    quat = torch.tensor([[0.9, 0.1, -0.3, 0.2], [0.99, 1e-5, 0.0, -2e-5]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(se3.quaternion_to_axis_angle, (quat,))
    assert torch.autograd.gradcheck(se3.axis_angle_to_quaternion, (omega,))
    assert torch.autograd.gradcheck(se3.quaternion_to_rotation, (quat,))
