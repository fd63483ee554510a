"""D, DH, DHA, HHA against hand-computed values on planes; torch and numpy versions agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segnet.encodings import ENCODINGS, encode, encode_batch, encode_numpy, estimate_camera_height
from segnet.synthetic import SyntheticRooms, look_pose
from segnet.train_data import hflip
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.geometry.rays import pixel_rays
from synthcam_core.sample import gravity_from_pose, make_sample

CAM = Intrinsics.nyuv2().scaled(80, 60)
K = torch.tensor([[CAM.fx, CAM.fy, CAM.cx, CAM.cy]], dtype=torch.float32)
LEVEL = torch.tensor([[0.0, 1.0, 0.0]])  # gravity of a level camera: image down


def batch(depth: np.ndarray, gravity=LEVEL, height=1.5):
    return (
        torch.as_tensor(depth, dtype=torch.float32)[None, None],
        K,
        torch.as_tensor(gravity, dtype=torch.float32).reshape(1, 3),
        torch.tensor([height], dtype=torch.float32),
    )


def interior(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """Pixels of ``mask`` at least ``margin`` pixels from its edge and the image border."""
    from scipy.ndimage import binary_erosion

    padded = np.pad(mask, margin, constant_values=False)
    return binary_erosion(padded, iterations=margin)[margin:-margin, margin:-margin]


def test_fronto_parallel_wall_at_2m():
    depth = np.full((CAM.height, CAM.width), 2.0)
    d, h, a = encode("DHA", *batch(depth))[0]
    v = (np.arange(CAM.height) + 0.5 - CAM.cy) / CAM.fy
    expected_h = np.broadcast_to((1.5 - 2.0 * v)[:, None], depth.shape)  # camera 1.5 m up, y points down
    np.testing.assert_allclose(d, 2.0)
    np.testing.assert_allclose(h, expected_h, atol=1e-5)
    np.testing.assert_allclose(a * 90.0, 90.0, atol=1e-3)  # a wall is at 90 degrees to gravity everywhere
    disp, hh, aa = encode("HHA", *batch(depth))[0] * 255.0
    np.testing.assert_allclose(disp, 31000.0 / 200.0, rtol=1e-5)  # Gupta: 31000 / depth in cm
    np.testing.assert_allclose(hh, np.clip(100.0 * expected_h, 0, 255), atol=1e-3)
    np.testing.assert_allclose(aa, 90.0 + 38.0, atol=1e-3)


def floor_depth(pose: np.ndarray, cam: Intrinsics = CAM, max_depth: float = 8.0) -> np.ndarray:
    """Exact z-depth of the floor plane z = 0 (0 where the ray misses it or it is farther than max_depth)."""
    rays = pixel_rays(cam).astype(np.float64) @ pose[:3, :3].T
    with np.errstate(divide="ignore"):
        t = -pose[2, 3] / rays[..., 2]
    return np.where((rays[..., 2] < 0) & (t < max_depth), t, 0.0)


@pytest.mark.parametrize("pitch_deg", [0.0, 30.0])
def test_floor_from_camera_at_1p5m(pitch_deg):
    pose = look_pose(np.array([0.0, 0.0, 1.5]), 0.3, math.radians(pitch_deg))
    gravity = gravity_from_pose(pose)
    if pitch_deg == 0.0:
        np.testing.assert_allclose(gravity, [0.0, 1.0, 0.0], atol=1e-12)
    depth = floor_depth(pose)
    floor = depth > 0
    d, h, a = encode("DHA", *batch(depth, gravity))[0].numpy()
    np.testing.assert_allclose(h[floor], 0.0, atol=1e-5)
    inner = interior(floor)
    assert inner.sum() > 200
    np.testing.assert_allclose(a[inner] * 90.0, 0.0, atol=0.05)
    assert np.all(d[~floor] == 0) and np.all(h[~floor] == 0) and np.all(a[~floor] == 0)  # invalid pixels -> 0


def test_tilted_camera_sees_wall_at_90_and_its_height():
    pose = look_pose(np.array([0.0, 0.0, 1.5]), math.pi / 2, math.radians(20.0))  # looking along +y, 20 deg down
    rays = pixel_rays(CAM).astype(np.float64) @ pose[:3, :3].T
    t = 2.5 / rays[..., 1]  # wall plane y = 2.5
    z_world = 1.5 + t * rays[..., 2]
    depth = np.where(z_world > 0.0, t, 0.0)  # the wall above the floor line
    d, h, a = encode("DHA", *batch(depth, gravity_from_pose(pose)))[0].numpy()
    wall = depth > 0
    np.testing.assert_allclose(h[wall], z_world[wall], atol=1e-5)
    np.testing.assert_allclose(a[interior(wall)] * 90.0, 90.0, atol=0.05)


def test_unknown_camera_height_uses_lowest_points_as_floor():
    pose = look_pose(np.array([0.0, 0.0, 1.5]), 0.0, math.radians(25.0))
    depth = floor_depth(pose)
    h_known = encode("DH", *batch(depth, gravity_from_pose(pose), 1.5))[0, 1]
    h_unknown = encode("DH", *batch(depth, gravity_from_pose(pose), math.nan))[0, 1]
    torch.testing.assert_close(h_unknown, h_known, atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        encode_numpy("DH", depth, K[0].numpy(), gravity_from_pose(pose), math.nan)[1], h_known, atol=1e-5
    )


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_torch_and_numpy_agree_and_channel_counts(name):
    rooms = SyntheticRooms(3, 64, 48, classes=13, seed=5)
    samples = [rooms[i] for i in range(3)]
    samples[1]["camera_height"] = torch.tensor(math.nan)  # one frame with an unknown camera height
    b = torch.utils.data.default_collate(samples)
    b["depth"][0, 0, 10:14, 20:30] = 0.0  # a hole of invalid depth
    out = encode(name, b["depth"], b["intrinsics"], b["gravity"], b["camera_height"])
    assert out.shape == (3, ENCODINGS[name], 48, 64) and out.dtype == torch.float32
    assert torch.all(out[0, :, 10:14, 20:30] == 0)
    for i in range(3):
        ref = encode_numpy(
            name,
            b["depth"][i, 0].numpy(),
            b["intrinsics"][i].numpy(),
            b["gravity"][i].numpy(),
            float(b["camera_height"][i]),
        )
        np.testing.assert_allclose(out[i].numpy(), ref, atol=2e-3)  # float32 vs float64 near depth edges


def test_flip_commutes_with_encoding():
    pose = look_pose(np.array([0.0, 0.0, 1.4]), 0.2, math.radians(25.0))
    roll = math.radians(15.0)  # a rolled camera: gravity has an x component that the flip must negate
    pose[:3, :3] = pose[:3, :3] @ np.array(
        [[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]]
    )
    depth = floor_depth(pose)
    sample = make_sample(depth, (depth > 0).astype(np.int64), K[0], gravity_from_pose(pose), 0, camera_height=1.4)
    assert abs(float(sample["gravity"][0])) > 0.2
    flipped = hflip(sample)
    args = lambda s: (s["depth"][None], s["intrinsics"][None], s["gravity"][None], s["camera_height"][None])  # noqa: E731
    reference = encode("DHA", *args(sample))
    torch.testing.assert_close(
        encode("DHA", *args(flipped)), reference.flip(-1), atol=1e-3, rtol=0
    )  # arccos near 0 in float32
    assert float(reference[0, 1].abs().max()) < 1e-5  # and the rolled floor is at height 0


def test_unknown_encoding_lists_choices():
    with pytest.raises(SynthcamError, match="DHA"):
        encode("RGB", *batch(np.ones((4, 4))))


def test_estimated_camera_height_is_the_floor_when_in_view():
    pose = look_pose(np.array([0.0, 0.0, 1.37]), 0.4, math.radians(30.0))
    depth = torch.as_tensor(floor_depth(pose), dtype=torch.float32)[None, None]
    g = torch.as_tensor(gravity_from_pose(pose), dtype=torch.float32)[None]
    torch.testing.assert_close(estimate_camera_height(depth, K, g), torch.tensor([1.37]), atol=1e-5, rtol=0)
    assert float(estimate_camera_height(torch.zeros(1, 1, 4, 4), K, LEVEL)[0]) == 0.0  # nothing valid: 0


def test_encode_batch_estimates_the_floor_unless_asked_for_the_true_height():
    rooms = SyntheticRooms(2, 64, 48, classes=13, seed=5)
    b = torch.utils.data.default_collate([rooms[0], rooms[1]])
    b["camera_height"] = b["camera_height"] + 0.25  # a true height the depth does not show
    unknown = torch.full((2,), math.nan)
    estimated = encode_batch("DH", b)
    torch.testing.assert_close(estimated, encode("DH", b["depth"], b["intrinsics"], b["gravity"], unknown))
    true = encode_batch("DH", b, camera_height="true")
    torch.testing.assert_close(true, encode("DH", b["depth"], b["intrinsics"], b["gravity"], b["camera_height"]))
    valid = b["depth"][:, 0] > 0
    offset = (true[:, 1] - estimated[:, 1])[valid]
    est = estimate_camera_height(b["depth"], b["intrinsics"], b["gravity"])
    expected = (b["camera_height"] - est)[:, None, None].expand(-1, 48, 64)[valid]
    torch.testing.assert_close(offset, expected, atol=1e-5, rtol=0)
    assert float(offset.abs().min()) > 0.2
    with pytest.raises(SynthcamError, match="choose one of estimated, true"):
        encode_batch("DH", b, camera_height="pose")
