"""The true class of points on a generated room's surfaces, rebuilt from the shard's scene description."""

from __future__ import annotations

import numpy as np
import pytest

from synthcam.surface_truth import shard_scene, surface_truth
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError
from synthcam_core.geometry.rays import pixel_rays
from synthcam_shards.shard_file import ShardFile, ShardWriter


def test_back_projected_frames_land_on_surfaces_of_their_class(cli, tmp_path):
    out = tmp_path / "d"
    result = cli("generate", "--rooms", "1", "--frames-per-room", "2", "--resolution", "80x60", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    path = out / "room_00000.h5"
    scene = shard_scene(path)
    with ShardFile(path) as shard:
        frame = shard.read_frame(1, ("depth_clean", "class40", "pose"))
        rays = pixel_rays(shard.intrinsics)
    valid = frame["depth_clean"] > 0
    points = (rays * frame["depth_clean"][..., None])[valid]
    world = points @ frame["pose"][:3, :3].T + frame["pose"][:3, 3]
    truth = surface_truth(scene, world)
    assert (truth.class40 == frame["class40"][valid]).mean() > 0.99
    assert np.median(truth.distance) < 0.001  # the millimetre rounding of the stored depth
    far = surface_truth(scene, world[:5] + np.array([0.0, 0.0, 100.0]))
    assert (far.distance > 50).all()


def test_a_shard_without_a_scene_description_is_one_line(tmp_path):
    cam = Intrinsics(16, 12, 14.0, 14.0, 8.0, 6.0)
    path = tmp_path / "room_00000.h5"
    depth = np.ones((12, 16), np.float32)
    with ShardWriter(path, 1, cam, {"seed": 0}, {"objects": []}) as writer:
        writer.write(0, depth, depth, np.ones((12, 16), np.uint8), np.zeros((12, 16), np.uint16), np.eye(4), 0.0)
        writer.close()
    with pytest.raises(InputError, match="holds no scene description"):
        shard_scene(path)
