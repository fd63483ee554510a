"""Label fusion on Open3D's VoxelBlockGrid: a generated room's frames fused and re-projected, a wall's geometry,
settings and frame checks, the labelled PLY and the top-down picture."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

import noise_models
from scene_library import generate_room
from segnet.fusion.ply import point_colors, write_ply
from segnet.fusion.topdown import topdown_picture
from segnet.fusion.volume import FusionSettings, LabelFusion, LabelledPoints
from synthcam.render_raycast import RaycastRenderer
from synthcam_core.camera import Intrinsics, look_at
from synthcam_core.errors import InputError, SynthcamError
from synthcam_core.labels import class40_to_13
from synthcam_core.palette import class_colors, class_names

CAMERA = Intrinsics.nyuv2().scaled(160, 120)
LUT13 = class40_to_13()


@pytest.fixture(scope="module")
def room_frames():
    """16 frames (depth, 13-class labels, pose, clean and kinect_v1 depth) turning around in a generated room."""
    scene = generate_room(np.random.default_rng(0))
    renderer = RaycastRenderer(scene, CAMERA, nthreads=1)
    sx, sy, _ = scene.room.size
    eye = np.array([sx / 2, sy / 2, 1.4])
    noise, rng = noise_models.make("kinect_v1"), np.random.default_rng(0)
    frames = []
    for angle in np.linspace(0.0, 2 * np.pi, 16, endpoint=False):
        frame = renderer.render(look_at(eye, eye + np.array([np.cos(angle), np.sin(angle), -0.3])))
        frames.append((frame.depth, LUT13[frame.class40], frame.pose, noise(frame, rng)))
    return frames


def reprojected_agreement(fusion: LabelFusion, frames, coverage: float) -> float:
    """Share of pixels where both the fused map and the frame's labels have a class on which they agree; such
    pixels must be at least ``coverage`` of all."""
    agree = total = 0
    for _, labels, pose, _ in frames:
        view = fusion.render(pose, CAMERA)
        both = (view.labels > 0) & (labels > 0)
        agree += int((view.labels[both] == labels[both]).sum())
        total += int(both.sum())
    assert total > coverage * len(frames) * CAMERA.width * CAMERA.height
    return agree / total


def fused(frames, noisy: bool = False, probabilities: bool = False) -> LabelFusion:
    fusion = LabelFusion(14)
    for depth, labels, pose, noisy_depth in frames:
        evidence = np.eye(14, dtype=np.float32)[labels].transpose(2, 0, 1) if probabilities else labels
        fusion.integrate(noisy_depth if noisy else depth, pose, CAMERA, evidence)
    return fusion


def test_clean_depth_and_true_labels_reproject_onto_98_percent_of_pixels(room_frames):
    fusion = fused(room_frames)
    assert fusion.frames == len(room_frames)
    agreement = reprojected_agreement(fusion, room_frames, 0.95)
    print(f"clean depth: fused labels agree with the rendered labels on {100 * agreement:.2f} % of pixels")
    assert agreement >= 0.98


def test_kinect_v1_depth_reprojects_onto_95_percent_of_pixels(room_frames):
    agreement = reprojected_agreement(fused(room_frames, noisy=True), room_frames, 0.75)
    print(f"kinect_v1 depth: fused labels agree with the rendered labels on {100 * agreement:.2f} % of pixels")
    assert agreement >= 0.95


def test_a_map_renders_the_same_whatever_was_rendered_before(room_frames):
    """Open3D's ray caster drops range fragments (which ones, by thread timing) from a buffer sized by an
    earlier cast; the map keeps that buffer large enough, so a view depends on the map and the camera only."""
    fusion = fused(room_frames[:6])
    first = [fusion.render(pose, CAMERA) for _, _, pose, _ in room_frames[:6]]
    for (_, _, pose, _), view in zip(reversed(room_frames[:6]), reversed(first)):
        again = fusion.render(pose, CAMERA)
        np.testing.assert_array_equal(again.depth, view.depth)
        np.testing.assert_array_equal(again.labels, view.labels)


def test_one_hot_probabilities_fuse_as_class_ids(room_frames):
    frames = room_frames[:4]
    by_id, by_probability = fused(frames), fused(frames, probabilities=True)
    for _, _, pose, _ in frames:
        a, b = by_id.render(pose, CAMERA), by_probability.render(pose, CAMERA)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.depth, b.depth)


def test_a_wall_renders_at_its_depth_with_its_class_and_extracts_on_its_plane(wall_scene):
    renderer = RaycastRenderer(wall_scene(distance=2.0), CAMERA, nthreads=1)
    poses = [look_at(np.array([x, 0.0, 0.0]), np.array([x + 0.3 * s, 2.0, 0.2 * s])) for x, s in ((0, 0), (0.2, 1))]
    fusion = LabelFusion(41, FusionSettings(voxel_size=0.02, trunc=0.06))
    for pose in poses:
        frame = renderer.render(pose, normals=False)
        fusion.integrate(frame.depth, pose, CAMERA, frame.class40)
    # Open3D marches a ray in steps of at least a voxel reading the nearest voxel: the surface it finds is
    # within a few millimetres seen square on, within a voxel seen obliquely
    for pose, tolerance in zip(poses, (0.004, 0.02)):
        truth = renderer.render(pose, normals=False)
        view = fusion.render(pose, CAMERA)
        hit = view.depth > 0
        assert hit.mean() > 0.97
        assert np.median(np.abs(view.depth[hit] - truth.depth[hit])) < tolerance  # metres
        assert set(np.unique(view.labels[hit])) == {1}
    points = fusion.extract()
    assert len(points.points) > 1000 and points.points.dtype == np.float32 and points.labels.dtype == np.uint8
    assert np.abs(points.points[:, 1] - 2.0).max() < 0.02
    assert set(np.unique(points.labels)) == {1} and points.classes == 41
    assert np.allclose(np.abs(points.normals[:, 1]), 1.0, atol=0.05)


def test_an_empty_map_renders_and_extracts_nothing():
    fusion = LabelFusion(14)
    view = fusion.render(np.eye(4), CAMERA)
    assert view.depth.shape == (120, 160) and not view.depth.any() and not view.labels.any()
    assert len(fusion.extract().points) == 0 and fusion.memory_bytes() > 0


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(voxel_size=0.0), "voxel size"),
        (dict(trunc=0.03), "under 2 voxels"),
        (dict(depth_max=-1.0), "depth_max"),
        (dict(block_resolution=7), "block resolution"),
        (dict(block_count=0), "block count"),
        (dict(device="TPU:0"), "CPU:0, CUDA:0"),
        (dict(label_band=0.005), "label band 0.005 m is not between half a voxel"),
        (dict(label_band=0.1), "and the truncation distance"),
    ],
)
def test_bad_settings_are_one_line_errors(settings, fragment):
    with pytest.raises(InputError, match=fragment):
        FusionSettings(**settings)


def test_a_missing_cuda_device_and_a_bad_class_count_are_one_line_errors():
    import open3d

    with pytest.raises(InputError, match="classes"):
        LabelFusion(1)
    if not open3d.core.cuda.is_available():
        with pytest.raises(InputError, match="CUDA:0 is not available"):
            LabelFusion(14, FusionSettings(device="CUDA:0"))


@pytest.mark.parametrize(
    "depth, labels, fragment",
    [
        ((60, 80), (120, 160), "depth has shape"),
        ((120, 160), (120, 160, 2), "expected (H, W) class ids"),
        ((120, 160), "ids 20", "the map has classes 0..13"),
        ((120, 160), "float ids", "integer class ids"),
    ],
)
def test_frames_that_do_not_fit_are_one_line_errors(depth, labels, fragment):
    if labels == "ids 20":
        labels = np.full((120, 160), 20, np.uint8)
    elif labels == "float ids":
        labels = np.ones((120, 160), np.float32)
    else:
        labels = np.zeros(labels, np.uint8)
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        LabelFusion(14).integrate(np.ones(depth, np.float32), np.eye(4), CAMERA, labels)


def labelled_points(n: int = 500, classes: int = 14) -> LabelledPoints:
    rng = np.random.default_rng(1)
    normals = rng.normal(size=(n, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    points = rng.uniform([0, 0, 0], [4, 3, 2.5], size=(n, 3)).astype(np.float32)
    return LabelledPoints(points, rng.integers(0, classes, n).astype(np.uint8), normals, classes)


def test_the_ply_is_binary_and_reads_back_with_classes_and_palette_colours(tmp_path):
    import open3d

    points = labelled_points()
    path = write_ply(tmp_path / "fused.ply", points)
    head = path.read_bytes()[:400]
    assert head.startswith(b"ply\nformat binary_little_endian 1.0\nelement vertex 500\n")
    assert b"property uchar class\n" in head
    cloud = open3d.t.io.read_point_cloud(str(path))
    np.testing.assert_array_equal(cloud.point.positions.numpy(), points.points)
    np.testing.assert_array_equal(cloud.point.normals.numpy(), points.normals)
    np.testing.assert_array_equal(cloud.point["class"].numpy().reshape(-1), points.labels)
    np.testing.assert_array_equal(cloud.point.colors.numpy(), class_colors(13)[points.labels])
    assert (point_colors(np.array([0], np.uint8), 14) == 0).all()  # void is black


def test_an_interrupted_ply_write_leaves_no_file(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # after every byte is written, before the rename
    with pytest.raises(KeyboardInterrupt):
        write_ply(tmp_path / "fused.ply", labelled_points())
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(SynthcamError, match="No space left on device"):
        write_ply(tmp_path / "fused.ply", labelled_points(), option="--out")
    assert list(tmp_path.iterdir()) == []


def test_the_topdown_picture_is_a_png_of_the_room_with_a_legend(tmp_path):
    points = labelled_points(5000)
    path = topdown_picture(points, tmp_path / "topdown.png", class_names(13))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(path))
    height, width = image.shape[:2]
    assert 600 <= max(height, width) <= 900 and 0.8 * 4 / 3 < width / (height - 40) < 1.2 * 4 / 3
    empty = topdown_picture(
        LabelledPoints(np.zeros((0, 3), np.float32), np.zeros(0, np.uint8), np.zeros((0, 3))),
        tmp_path / "e.png",
        class_names(13),
    )
    assert cv2.imread(str(empty)) is not None


def test_a_camera_whose_sides_are_not_multiples_of_8_renders(wall_scene):
    """Open3D bounds its rays on a range map 8 times coarser than the image by default and reads past its end
    for a partial last cell (rays without end): the map picks a factor that divides both sides."""
    camera = Intrinsics.nyuv2().scaled(90, 66)
    renderer = RaycastRenderer(wall_scene(distance=2.0), camera, nthreads=1)
    pose = look_at(np.zeros(3), np.array([0.0, 2.0, 0.0]))
    frame = renderer.render(pose, normals=False)
    fusion = LabelFusion(41)
    fusion.integrate(frame.depth, pose, camera, frame.class40)
    view = fusion.render(pose, camera)
    inner = view.depth[3:-3, 3:-3] > 0  # one frame: the voxels seen at the image border are half there
    assert inner.mean() > 0.97 and set(np.unique(view.labels[view.depth > 0])) == {1}


def test_a_map_grows_past_its_initial_block_count_and_keeps_its_evidence(room_frames):
    small = LabelFusion(14, FusionSettings(block_count=64))
    large = LabelFusion(14, FusionSettings(block_count=20000))
    for depth, labels, pose, _ in room_frames[:6]:
        small.integrate(depth, pose, CAMERA, labels)
        large.integrate(depth, pose, CAMERA, labels)
    assert small.memory_bytes() < large.memory_bytes()
    for _, _, pose, _ in room_frames[:6]:
        a, b = small.render(pose, CAMERA), large.render(pose, CAMERA)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.depth, b.depth)


def test_a_view_that_would_overflow_open3d_s_range_buffer_is_refused(room_frames, monkeypatch):
    """An overflowing cast makes Open3D read range fragments it never wrote: refused beforehand instead."""
    from segnet.fusion import volume

    monkeypatch.setattr(volume, "FRAGMENT_SIDE", 32)  # room for 32 * 32 / 256 / 0.02 = 200 fragments
    fusion = fused(room_frames[:2])
    with pytest.raises(SynthcamError, match="range fragments, more than Open3D's ray caster holds"):
        fusion.render(room_frames[0][2], CAMERA)


def test_a_new_map_allocates_512_mib_whatever_its_class_count():
    from segnet.fusion.volume import INITIAL_MAP_BYTES, initial_blocks

    assert initial_blocks(14, FusionSettings()) == 16384
    assert initial_blocks(14, FusionSettings(block_count=100)) == 100
    for classes in (14, 38, 41):
        assert 0.9 * INITIAL_MAP_BYTES < LabelFusion(classes).memory_bytes() <= INITIAL_MAP_BYTES
