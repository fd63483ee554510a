"""Rotations and rigid transforms in torch: batched over leading dimensions, differentiable, any device,
float32 or float64.

Conventions: a rotation is (..., 3, 3); a rigid transform or pose is (..., 4, 4) with last row (0, 0, 0, 1);
a pose maps camera coordinates to world coordinates (camera-to-world), as everywhere in the project.
Tangent vectors: ``omega`` (..., 3) axis times angle (radians) for SO(3); ``xi`` (..., 6) = (rho, phi) for
SE(3), translational part first, rotational part last (phi = omega). Quaternions are (..., 4) **w first**:
(w, x, y, z), w = cos(angle / 2).

Small angles use Taylor series, so values and gradients stay finite at angle 0; :func:`so3_log` goes
through the quaternion, which stays accurate up to angle pi.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Angle (radians) below which the coefficients of exp and log use their Taylor series (four terms, error
#: ~t^8 / 10^6): there the closed forms lose digits to cancellation (1 - cos t, t - sin t), about eps / t^2.
#: The thresholds balance the two errors: ~1e-14 in float64, ~3e-7 in float32.
SERIES_BELOW = {torch.float64: 0.1, torch.float32: 0.5}
#: Below this |v| / angle the quaternion's axis-angle factor uses its series (no cancellation there: it only
#: keeps the gradient finite at angle 0).
TINY_ANGLE = 1e-3


def skew(v: Tensor) -> Tensor:
    """(..., 3, 3) skew-symmetric matrix [v]x of (..., 3) vectors: ``skew(a) @ b == cross(a, b)`` (hat)."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape + (3,))


def vee(m: Tensor) -> Tensor:
    """(..., 3) vector of the skew-symmetric part of (..., 3, 3) matrices: the inverse of :func:`skew`."""
    return 0.5 * torch.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1
    )


def _angle_squared(omega: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(theta^2, theta, small) of (..., 3) vectors: ``small`` where the series are used, and there theta = 1
    (safe to divide by; the closed forms' values are discarded)."""
    theta2 = (omega * omega).sum(-1)
    small = theta2 < SERIES_BELOW.get(omega.dtype, 0.5) ** 2
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    return theta2, theta, small


def _series(theta2: Tensor, small: Tensor, closed: Tensor, coeffs: tuple[float, float, float, float]) -> Tensor:
    """``closed`` where not ``small``, else c0 + c1 t^2 + c2 t^4 + c3 t^6."""
    taylor = coeffs[0] + theta2 * (coeffs[1] + theta2 * (coeffs[2] + theta2 * coeffs[3]))
    return torch.where(small, taylor, closed)


def _sin_coeffs(omega: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """theta^2, theta, small, A = sin(t)/t, B = (1 - cos t)/t^2, as (...) tensors."""
    theta2, theta, small = _angle_squared(omega)
    a = _series(theta2, small, torch.sin(theta) / theta, (1.0, -1 / 6, 1 / 120, -1 / 5040))
    b = _series(theta2, small, (1 - torch.cos(theta)) / (theta * theta), (0.5, -1 / 24, 1 / 720, -1 / 40320))
    return theta2, theta, small, a, b


def so3_exp(omega: Tensor) -> Tensor:
    """(..., 3, 3) rotation of (..., 3) axis-angle vectors (Rodrigues): I + A K + B K^2, K = skew(omega)."""
    _, _, _, a, b = _sin_coeffs(omega)
    k = skew(omega)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def so3_log(rotation: Tensor) -> Tensor:
    """(..., 3) axis-angle vector, angle in [0, pi], of (..., 3, 3) rotations (via the quaternion)."""
    return quaternion_to_axis_angle(rotation_to_quaternion(rotation))


def quaternion_to_rotation(q: Tensor) -> Tensor:
    """(..., 3, 3) rotation of (..., 4) quaternions (w, x, y, z), normalised first."""
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True)).unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


def rotation_to_quaternion(rotation: Tensor) -> Tensor:
    """(..., 4) unit quaternion (w, x, y, z) with w >= 0 of (..., 3, 3) rotations.

    Of the four ways to read the quaternion off the matrix (each divides by one of 4w^2, 4x^2, 4y^2, 4z^2),
    each rotation takes the one with the largest divisor, so no precision is lost near angle pi.
    """
    r = rotation
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    divisors = torch.stack([1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], -1)
    candidates = torch.stack(
        [
            torch.stack([divisors[..., 0], r21 - r12, r02 - r20, r10 - r01], -1),
            torch.stack([r21 - r12, divisors[..., 1], r01 + r10, r02 + r20], -1),
            torch.stack([r02 - r20, r01 + r10, divisors[..., 2], r12 + r21], -1),
            torch.stack([r10 - r01, r02 + r20, r12 + r21, divisors[..., 3]], -1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4): candidate i is 4 q_i q
    best = divisors.argmax(-1, keepdim=True)
    scale = 2 * divisors.gather(-1, best).clamp_min(1e-12).sqrt()
    q = candidates.gather(-2, best[..., None].expand(best.shape[:-1] + (1, 4)))[..., 0, :] / scale
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q: Tensor) -> Tensor:
    """(..., 3) axis-angle vector of (..., 4) quaternions (w, x, y, z), angle in [0, pi] (q and -q alike)."""
    q = q / q.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, v = q[..., 0], q[..., 1:]
    n2 = (v * v).sum(-1)
    small = n2 < TINY_ANGLE**2
    n = torch.where(small, torch.ones_like(n2), n2).sqrt()
    x = n2 / (w * w)  # 2 atan2(n, w) / n = 2 / w (1 - x / 3 + x^2 / 5 - ...), x = (n / w)^2
    factor = torch.where(small, 2 / w * (1 - x / 3 + x * x / 5), 2 * torch.atan2(n, w) / n)
    return factor[..., None] * v


def axis_angle_to_quaternion(omega: Tensor) -> Tensor:
    """(..., 4) unit quaternion (w, x, y, z) of (..., 3) axis-angle vectors."""
    theta2, theta, small = _angle_squared(omega)
    half_sin = _series(theta2, small, torch.sin(theta / 2) / theta, (0.5, -1 / 48, 1 / 3840, -1 / 645120))
    half_cos = _series(theta2, small, torch.cos(theta / 2), (1.0, -1 / 8, 1 / 384, -1 / 46080))
    return torch.cat([half_cos[..., None], half_sin[..., None] * omega], -1)


def _v_matrix_coeffs(omega: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """B = (1 - cos t)/t^2, C = (t - sin t)/t^3, D = (1 - A / (2 B)) / t^2 as (...) tensors."""
    theta2, theta, small, a, b = _sin_coeffs(omega)
    c = _series(theta2, small, (theta - torch.sin(theta)) / theta**3, (1 / 6, -1 / 120, 1 / 5040, -1 / 362880))
    d = _series(theta2, small, (1 - a / (2 * b)) / (theta * theta), (1 / 12, 1 / 720, 1 / 30240, 1 / 1209600))
    return b, c, d


def se3_exp(xi: Tensor) -> Tensor:
    """(..., 4, 4) rigid transform of (..., 6) twists xi = (rho, phi): rotation so3_exp(phi), translation
    V rho with V = I + B K + C K^2 (K = skew(phi))."""
    rho, phi = xi[..., :3], xi[..., 3:]
    b, c, _ = _v_matrix_coeffs(phi)
    k = skew(phi)
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device)
    v = eye + b[..., None, None] * k + c[..., None, None] * (k @ k)
    return from_rotation_translation(so3_exp(phi), (v @ rho[..., None])[..., 0])


def se3_log(transform: Tensor) -> Tensor:
    """(..., 6) twist (rho, phi) of (..., 4, 4) rigid transforms; phi's angle in [0, pi]."""
    phi = so3_log(transform[..., :3, :3])
    _, _, d = _v_matrix_coeffs(phi)
    k = skew(phi)
    eye = torch.eye(3, dtype=transform.dtype, device=transform.device)
    v_inv = eye - 0.5 * k + d[..., None, None] * (k @ k)
    return torch.cat([(v_inv @ transform[..., :3, 3:])[..., 0], phi], -1)


def from_rotation_translation(rotation: Tensor, translation: Tensor) -> Tensor:
    """(..., 4, 4) rigid transform of (..., 3, 3) rotations and (..., 3) translations."""
    top = torch.cat([rotation, translation[..., None]], -1)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1
    return torch.cat([top, bottom], -2)


def compose(a: Tensor, b: Tensor) -> Tensor:
    """(..., 4, 4) transform ``a @ b``: apply b, then a."""
    return a @ b


def inverse(transform: Tensor) -> Tensor:
    """(..., 4, 4) inverse of rigid transforms: (R^T, -R^T t)."""
    rot_t = transform[..., :3, :3].transpose(-1, -2)
    return from_rotation_translation(rot_t, -(rot_t @ transform[..., :3, 3:])[..., 0])


def transform_points(transform: Tensor, points: Tensor) -> Tensor:
    """(*B, *P, 3) points ``R p + t`` of (*B, *P, 3) points under (*B, 4, 4) transforms: the transforms'
    batch dimensions come first, then any number of point dimensions (N, or H, W)."""
    extra = points.dim() - transform.dim() + 1
    if extra < 1:
        raise ValueError(f"points {tuple(points.shape)} lack the batch dimensions of {tuple(transform.shape)}")
    batch = transform.dim() - 2
    flat = points.reshape(points.shape[:batch] + (-1, 3))
    moved = flat @ transform[..., :3, :3].transpose(-1, -2) + transform[..., None, :3, 3]
    return moved.reshape(moved.shape[:-2] + points.shape[batch:])


def relative_pose(pose_a: Tensor, pose_b: Tensor) -> Tensor:
    """(..., 4, 4) transform from camera a's frame to camera b's, ``inverse(pose_b) @ pose_a``, of (..., 4, 4)
    camera-to-world poses."""
    return inverse(pose_b) @ pose_a
