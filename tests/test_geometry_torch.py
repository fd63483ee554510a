"""synthcam_core.geometry's torch modules (pinhole, warp, surface, flow) on analytic scenes, against their numpy
twins, and their gradients (torch.autograd.gradcheck in float64 on small images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthcam_core.camera import Intrinsics
from synthcam_core.geometry import flow, flow_np, pinhole, rays, se3, surface, warp

CAM = Intrinsics(40, 30, 33.0, 34.5, 19.6, 15.3)
TINY = Intrinsics(5, 4, 5.0, 5.5, 2.6, 2.1)


def k_tensor(cam: Intrinsics = CAM, dtype=torch.float64) -> torch.Tensor:
    return pinhole.intrinsics_tensor(cam, dtype)


def plane(normal, offset: float, cam: Intrinsics = CAM) -> np.ndarray:
    """(H, W) float64 z-depth of the plane n . X = offset at the pixel centres."""
    return offset / (rays.pixel_rays(cam).astype(np.float64) @ np.asarray(normal, np.float64))


def pose_of(xi) -> torch.Tensor:
    return se3.se3_exp(torch.as_tensor(xi, dtype=torch.float64))


def test_pixel_grid_project_and_backproject():
    k = k_tensor()
    grid = pinhole.pixel_grid(CAM.height, CAM.width, torch.float64)
    assert grid.shape == (30, 40, 2) and grid[0, 0].tolist() == [0.5, 0.5] and grid[2, 3].tolist() == [3.5, 2.5]
    depth = torch.rand(2, 3, 30, 40, dtype=torch.float64) + 0.5  # two batch dimensions, one camera each
    ks = k.expand(2, 3, 4)
    points = pinhole.backproject(depth, ks)
    assert points.shape == (2, 3, 30, 40, 3)
    torch.testing.assert_close(points[..., 2], depth)
    torch.testing.assert_close(pinhole.project(points, ks), grid.expand(2, 3, 30, 40, 2))
    np.testing.assert_allclose(pinhole.pixel_rays(k, 30, 40).numpy(), rays.pixel_rays(CAM), atol=1e-7)
    u, v = pinhole.pixel_centres(30, 40, torch.float32)
    assert torch.equal(u, torch.from_numpy(rays.pixel_centres(CAM, np.float32)[0]))
    with pytest.raises(ValueError, match="batch dimensions"):
        pinhole.project(torch.ones(3), ks)


def test_grid_sample_coordinates_put_pixel_centres_on_pixels():
    image = torch.arange(30 * 40, dtype=torch.float64).reshape(1, 1, 30, 40)
    grid = pinhole.to_grid_sample(pinhole.pixel_grid(30, 40, torch.float64), 30, 40)[None]
    same = torch.nn.functional.grid_sample(image, grid, mode="bilinear", align_corners=False)
    torch.testing.assert_close(same, image)


def test_warp_of_a_plane_parallel_to_the_image_under_translation():
    """Target depth 2 m everywhere; the source camera sits (0.1, -0.05, 0) m from the target's: every target
    pixel reads the source 1.65 px left and 0.8625 px down... of a linear image, which bilinear reproduces."""
    z, t = 2.0, (0.1, -0.05, 0.0)
    depth = torch.full((30, 40), z, dtype=torch.float64)
    target_to_source = torch.eye(4, dtype=torch.float64)
    target_to_source[:3, 3] = -torch.tensor(t, dtype=torch.float64)  # source at +t: points move by -t
    grid = pinhole.pixel_grid(30, 40, torch.float64)
    shift = torch.tensor([-CAM.fx * t[0] / z, -CAM.fy * t[1] / z], dtype=torch.float64)
    image = (0.3 * grid[..., 0] - 0.7 * grid[..., 1] + 2.0)[None]  # linear in the pixel position, (1, H, W)
    warped, valid = warp.inverse_warp(image, depth, k_tensor(), target_to_source)
    src = grid + shift
    inside = (src[..., 0] >= 0) & (src[..., 0] < 40) & (src[..., 1] >= 0) & (src[..., 1] < 30)
    assert torch.equal(valid, inside) and valid.float().mean() > 0.9
    # bilinear is exact on a linear image away from the replicated border
    core = (src[..., 0] >= 0.5) & (src[..., 0] <= 39.5) & (src[..., 1] >= 0.5) & (src[..., 1] <= 29.5)
    expected = 0.3 * src[..., 0] - 0.7 * src[..., 1] + 2.0
    torch.testing.assert_close(warped[0][core], expected[core])
    assert (warped[0][~valid] == 0).all()
    # a whole-pixel shift moves label maps exactly
    target_to_source[:3, 3] = torch.tensor([-2 * z / CAM.fx, 0.0, 0.0], dtype=torch.float64)  # 2 px left
    labels = torch.randint(0, 40, (30, 40), dtype=torch.uint8)
    moved, ok = warp.warp_labels(labels, depth, k_tensor(), target_to_source)
    assert moved.dtype == torch.uint8 and torch.equal(moved[:, 2:], labels[:, :-2]) and (moved[:, :2] == 255).all()
    assert torch.equal(ok[:, 2:], torch.ones_like(ok[:, 2:])) and not ok[:, :2].any()
    with pytest.raises(ValueError, match="unknown warp mode"):
        warp.inverse_warp(image, depth, k_tensor(), target_to_source, mode="cubic")


def test_warp_gradients():
    gen = torch.Generator().manual_seed(2)
    k = k_tensor(TINY)
    image = torch.rand(1, 2, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    depth = (1.5 + 0.2 * torch.rand(1, 4, 5, generator=gen, dtype=torch.float64)).requires_grad_(True)
    xi = torch.tensor([[0.013, -0.021, 0.017, 0.011, -0.007, 0.013]], dtype=torch.float64, requires_grad=True)

    def warped(image, depth, xi):
        return warp.inverse_warp(image, depth, k.expand(1, 4), se3.se3_exp(xi))[0]

    assert torch.autograd.gradcheck(warped, (image, depth, xi), fast_mode=True)


def test_normals_of_a_tilted_plane_are_exact_and_match_the_numpy_twin():
    n = np.array([0.3, -0.5, -1.0])
    n /= np.linalg.norm(n)  # faces the camera: n . p < 0 for p on the plane n . p = -2
    depth = plane(n, -2.0)
    exact = -2.0 / (pinhole.pixel_rays(k_tensor(), 30, 40) @ torch.from_numpy(n))  # float64 throughout
    normals = surface.surface_normals(exact, k_tensor())
    torch.testing.assert_close(normals, torch.from_numpy(n).expand(30, 40, 3), atol=1e-9, rtol=0)
    np.testing.assert_allclose(
        surface.normals_from_depth(depth.astype(np.float32), CAM), np.broadcast_to(n, (30, 40, 3)), atol=1e-4
    )
    # a step edge, holes and a second plane: the torch rule is the numpy rule
    scene = np.where(np.arange(40)[None, :] < 17, depth, plane((0.0, 0.2, 1.0), 3.0)).astype(np.float32)
    scene[5:8, 20:25] = 0.0
    twin = surface.normals_from_depth(scene, CAM)
    mine = surface.surface_normals(torch.from_numpy(scene), k_tensor(dtype=torch.float32)).numpy()
    np.testing.assert_allclose(mine, twin, atol=2e-5)
    assert (np.abs(mine).sum(-1) == 0).sum() == (np.abs(twin).sum(-1) == 0).sum() >= 15


def test_incidence_matches_the_numpy_twin():
    normals = surface.normals_from_depth(plane((0.3, -0.5, -1.0), -2.0).astype(np.float32), CAM)
    normals[:3] = 0
    k = k_tensor(dtype=torch.float32)
    unit = surface.unit_rays(k, 30, 40)
    np.testing.assert_allclose(unit.numpy(), rays.unit_rays(CAM), atol=2e-7, rtol=0)
    cos = surface.incidence(torch.from_numpy(normals), unit).numpy()
    np.testing.assert_allclose(cos, surface.incidence_from_normals(normals, CAM), atol=1e-6)
    assert (cos[:3] == 0).all()


def test_normal_gradients():
    gen = torch.Generator().manual_seed(3)
    depth = (2.0 + 0.1 * torch.rand(4, 5, generator=gen, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d: surface.surface_normals(d, k_tensor(TINY)), (depth,))


def two_plane_scene(cam: Intrinsics = CAM):
    """A foreground half-plane (x < 0 at 1 m) before a wall at 3 m, seen by a camera 5 cm left of the
    first and turned by 5 degrees: depth maps of both frames and the poses."""
    sx = (rays.pixel_centres(cam)[0] - cam.cx) / cam.fx
    first = np.where(sx < 0, 1.0, 3.0)[None, :].repeat(cam.height, 0)
    pose = np.eye(4)
    pose_next = se3.se3_exp(torch.tensor([-0.05, 0.0, 0.0, 0.0, np.radians(5.0), 0.0], dtype=torch.float64)).numpy()
    # the next frame's depth at its pixel centres, by ray casting the two planes in frame t's coordinates
    ray = rays.pixel_rays(cam).astype(np.float64) @ pose_next[:3, :3].T
    origin = pose_next[:3, 3]
    t_fg, t_bg = (1.0 - origin[2]) / ray[..., 2], (3.0 - origin[2]) / ray[..., 2]
    fg_hit = origin[0] + t_fg * ray[..., 0] < 0
    z_next = np.where(fg_hit, t_fg, t_bg)  # ray z = 1 in the next camera: t is its z-depth
    return first.astype(np.float32), z_next.astype(np.float32), pose, pose_next


@pytest.mark.parametrize("scene", ["two planes", "tilted plane, rotation"])
def test_torch_flow_equals_the_numpy_twin(scene):
    if scene == "two planes":
        depth, depth_next, pose, pose_next = two_plane_scene()
    else:
        rot = se3.so3_exp(torch.tensor([0.02, -0.05, 0.03], dtype=torch.float64)).numpy()
        pose, pose_next = np.eye(4), np.eye(4)
        pose_next[:3, :3] = rot
        normal = np.array([0.3, -0.4, 1.0])
        depth, depth_next = plane(normal, 2.0).astype(np.float32), plane(rot.T @ normal, 2.0).astype(np.float32)
    twin = flow_np.forward_flow(depth, depth_next, CAM, pose, pose_next)
    values, mask = flow.forward_flow(
        torch.from_numpy(depth), torch.from_numpy(depth_next), k_tensor(dtype=torch.float32),
        torch.from_numpy(pose).float(), torch.from_numpy(pose_next).float(),
    )  # fmt: skip
    assert mask.dtype == torch.uint8
    np.testing.assert_array_equal(mask.numpy(), twin.mask)
    assert (twin.mask == flow_np.FLOW_VALID).mean() > 0.5
    np.testing.assert_allclose(values.numpy(), twin.flow, atol=1e-3, rtol=0)
    if scene == "two planes":
        assert (twin.mask == flow_np.FLOW_OCCLUDED).sum() > 10 and (twin.mask == flow_np.FLOW_OUT_OF_VIEW).sum() > 10


def test_flow_batches_and_gradients():
    depth, depth_next, pose, pose_next = two_plane_scene()
    one = flow.forward_flow(
        torch.from_numpy(depth).double(), torch.from_numpy(depth_next).double(), k_tensor(),
        torch.from_numpy(pose), torch.from_numpy(pose_next),
    )  # fmt: skip

    def twice(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([a, a])).double()

    batched = flow.forward_flow(twice(depth), twice(depth_next), k_tensor().expand(2, 4), twice(pose), twice(pose_next))
    torch.testing.assert_close(batched[0][1], one[0])
    assert torch.equal(batched[1][1], one[1])

    gen = torch.Generator().manual_seed(4)
    k = k_tensor(TINY)
    z = (2.0 + 0.1 * torch.rand(4, 5, generator=gen, dtype=torch.float64)).requires_grad_(True)
    xi = torch.tensor([0.01, -0.02, 0.015, 0.01, -0.02, 0.005], dtype=torch.float64, requires_grad=True)
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda d, x: flow.forward_flow(d, d.detach(), k, eye, se3.se3_exp(x))[0], (z, xi), fast_mode=True
    )
    assert torch.autograd.gradcheck(lambda d, x: flow.scene_flow(d, k, eye, se3.se3_exp(x)), (z, xi), fast_mode=True)


def test_scene_flow_of_pure_motions():
    depth = torch.from_numpy(plane((0.2, 0.1, 1.0), 2.5))
    depth[0, 0] = 0.0
    step = torch.eye(4, dtype=torch.float64)
    step[:3, 3] = torch.tensor([0.1, -0.2, 0.3])  # the camera moves by t: points move by -t in its frame
    moved = flow.scene_flow(depth, k_tensor(), torch.eye(4, dtype=torch.float64), step)
    torch.testing.assert_close(moved[1:], torch.tensor([-0.1, 0.2, -0.3], dtype=torch.float64).expand(29, 40, 3))
    assert (moved[0, 0] == 0).all()
