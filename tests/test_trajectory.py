"""The handheld two-body trajectory sampler: constraints checked independently of the sampler's own bookkeeping."""

from functools import cache

import numpy as np
import pytest
import trimesh

from scene_library import Room, Scene, SceneObject, generate_room
from synthcam.render_raycast import RaycastRenderer
from synthcam.trajectory import LOW_FOCUS_BOOST, LOW_FOCUS_HEIGHT, focus_weights, furniture_targets, sample_trajectory
from synthcam.view_rules import ViewRules, is_structure
from synthcam.walk import WalkParams
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

SEEDS = range(30)
N_FRAMES = 20
WALL, FLOOR, CEILING = 1, 2, 22  # NYUv2-40 ids
PROBE = Intrinsics.nyuv2().scaled(64, 48)


def sample(scene: Scene, seed: int, n_frames: int = N_FRAMES, **kwargs):
    renderer = RaycastRenderer(scene, PROBE, nthreads=1)
    traj = sample_trajectory(
        scene,
        n_frames,
        np.random.default_rng(seed),
        renderer.distance,
        lambda pose: renderer.render(pose, normals=False).instance,
        **kwargs,
    )
    return renderer, traj


@cache
def sampled_room(seed: int):
    """(scene, renderer, trajectory) of generated room ``seed``, shared by the tests below. Like generation
    (``synthcam.generate.plan_room``), a room without any valid trajectory is replaced by the next draw."""
    rng = np.random.default_rng(seed)
    for _ in range(5):
        scene = generate_room(rng)
        try:
            return (scene, *sample(scene, seed))
        except SynthcamError:
            continue
    raise AssertionError(f"no trajectory in 5 rooms drawn from seed {seed}")


def box(extents, centre) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(centre))


def box_room(size, furniture, polygon=None, t: float = 0.1) -> Scene:
    """A closed box shell [0, sx] x [0, sy] x [0, h] plus furniture ``(name, class40, (x0, y0, x1, y1, height))``."""
    sx, sy, h = size
    named = [
        ("floor", FLOOR, box((sx + 2 * t, sy + 2 * t, t), (sx / 2, sy / 2, -t / 2))),
        ("ceiling", CEILING, box((sx + 2 * t, sy + 2 * t, t), (sx / 2, sy / 2, h + t / 2))),
        ("wall_0", WALL, box((sx + 2 * t, t, h), (sx / 2, -t / 2, h / 2))),
        ("wall_1", WALL, box((t, sy + 2 * t, h), (sx + t / 2, sy / 2, h / 2))),
        ("wall_2", WALL, box((sx + 2 * t, t, h), (sx / 2, sy + t / 2, h / 2))),
        ("wall_3", WALL, box((t, sy + 2 * t, h), (-t / 2, sy / 2, h / 2))),
    ]
    for name, cls, (x0, y0, x1, y1, z1) in furniture:
        named.append((name, cls, box((x1 - x0, y1 - y0, z1), ((x0 + x1) / 2, (y0 + y1) / 2, z1 / 2))))
    objects = tuple(SceneObject(mesh=m, class40=c, instance_id=i + 1, name=n) for i, (n, c, m) in enumerate(named))
    return Scene(room=Room("test", size, np.zeros((0, 4)), polygon), objects=objects)


def yaw_pitch(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch (rad) of the optical axes of (N, 4, 4) poses."""
    fwd = poses[:, :3, 2]
    return np.arctan2(fwd[:, 1], fwd[:, 0]), np.arcsin(np.clip(fwd[:, 2], -1, 1))


def dense_segments(eyes: np.ndarray, spacing: float = 0.005) -> np.ndarray:
    """Points at most ``spacing`` m apart along the straight segments between consecutive eyes."""
    pts = [eyes[:1]]
    for a, b in zip(eyes[:-1], eyes[1:]):
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / spacing)) + 1)
        pts.append(a + np.linspace(0, 1, n)[1:, None] * (b - a))
    return np.concatenate(pts)


def check_view_rules(scene: Scene, renderer: RaycastRenderer, poses: np.ndarray) -> None:
    """Re-render every frame and apply the view rules from the class and instance images."""
    objects = {o.instance_id for o in scene.objects if not is_structure(o)}
    for pose in poses:
        frame = renderer.render(pose, normals=False)
        assert np.mean(frame.class40 == WALL) <= 0.70
        assert np.mean(np.isin(frame.class40, (WALL, FLOOR, CEILING))) <= 0.85
        ids, counts = np.unique(frame.instance, return_counts=True)
        big = [
            i for i, c in zip(ids, counts) if i in objects and c >= ViewRules().min_object_share * frame.instance.size
        ]
        assert len(big) >= 3


# --- generated rooms -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_shape_timestamps_and_rotations(seed):
    _, _, traj = sampled_room(seed)
    poses, stamps = traj.poses, traj.timestamps
    assert poses.shape == (N_FRAMES, 4, 4) and poses.dtype == np.float64
    assert stamps.shape == (N_FRAMES,) and stamps.dtype == np.float64
    assert stamps[0] == 0.0 and np.all(np.diff(stamps) > 0)
    # A video sequence: frames sit on the 25 Hz simulation clock, at least 0.4 s (10 steps) apart.
    assert np.allclose(stamps * 25, np.round(stamps * 25)) and np.all(np.diff(stamps) >= 0.4 - 1e-9)
    rot = poses[:, :3, :3]
    assert np.allclose(rot @ rot.transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert np.allclose(np.linalg.det(rot), 1.0)
    assert np.array_equal(poses[:, 3], np.tile([0.0, 0.0, 0.0, 1.0], (N_FRAMES, 1)))


@pytest.mark.parametrize("seed", SEEDS)
def test_height_footprint_and_clearance(seed):
    scene, renderer, traj = sampled_room(seed)
    eyes = traj.poses[:, :3, 3]
    assert np.all((eyes[:, 2] >= 1.1) & (eyes[:, 2] <= 1.6))
    assert np.ptp(eyes[:, 2]) < 0.3  # one mean height per trajectory plus a small wobble
    assert np.all(scene.room.contains(eyes[:, :2]))
    assert renderer.distance(eyes).min() >= 0.3
    assert renderer.distance(dense_segments(eyes)).min() >= 0.3 - 1e-5  # float32 distances


@pytest.mark.parametrize("seed", SEEDS)
def test_orientation_roll_and_pitch(seed):
    _, _, traj = sampled_room(seed)
    poses = traj.poses
    assert np.allclose(poses[:, 2, 0], 0.0, atol=1e-9)  # camera x axis horizontal: roll 0
    assert np.all(poses[:, 2, 1] < 0)  # image "down" points down in the world: not upside down
    _, pitch = yaw_pitch(poses)
    assert np.all((np.degrees(pitch) >= -40 - 1e-6) & (np.degrees(pitch) <= 5 + 1e-6))


@pytest.mark.parametrize("seed", SEEDS)
def test_walking_pace(seed):
    _, _, traj = sampled_room(seed)
    eyes, dt = traj.poses[:, :3, 3], np.diff(traj.timestamps)
    steps = np.linalg.norm(np.diff(eyes, axis=0), axis=1)
    assert np.all(steps <= 0.5 * dt + 1e-9)  # speed cap 0.5 m/s
    yaw, _ = yaw_pitch(traj.poses)
    turn = np.abs((np.diff(yaw) + np.pi) % (2 * np.pi) - np.pi)
    assert np.all(turn <= np.radians(45) * dt + 1e-9)  # yaw rate cap 45 deg/s
    assert 0.05 <= np.median(steps) <= 0.3  # SLAM-like frame spacing
    duration = traj.timestamps[-1]
    assert traj.stats.path_length >= min(1.0, 0.1 * duration) and steps.sum() <= traj.stats.path_length + 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_every_frame_passes_the_view_rules(seed):
    scene, renderer, traj = sampled_room(seed)
    check_view_rules(scene, renderer, traj.poses)
    assert np.all(traj.views.wall <= 0.7) and np.all(traj.views.objects >= 3)
    stats = traj.stats
    assert stats.attempts >= 1 and stats.candidates == N_FRAMES + stats.rejected_views + stats.rejected_segments
    assert stats.candidates - N_FRAMES <= 0.25 * N_FRAMES  # at most ~20 % of the candidates rejected


def test_pitch_and_height_statistics():
    pitch = np.concatenate([np.degrees(yaw_pitch(sampled_room(s)[2].poses)[1]) for s in SEEDS])
    means = [np.degrees(yaw_pitch(sampled_room(s)[2].poses)[1]).mean() for s in SEEDS]
    assert -20 <= pitch.mean() <= -10 and 3 <= pitch.std() <= 12
    # Close-ups look down onto the piece in focus, far views across the room: per-walk means differ, never drift.
    assert all(-30 <= m <= 0 for m in means)
    heights = np.concatenate([sampled_room(s)[2].poses[:, 2, 3] for s in SEEDS])
    assert 1.25 <= heights.mean() <= 1.45 and heights.std() >= 0.05  # h0 differs between trajectories


def test_deterministic_given_the_rng():
    scene = generate_room(np.random.default_rng(3))
    _, a = sample(scene, 7)
    _, b = sample(scene, 7)
    _, c = sample(scene, 8)
    assert np.array_equal(a.poses, b.poses) and np.array_equal(a.timestamps, b.timestamps)
    assert not np.array_equal(a.poses, c.poses)


def test_long_trajectory_keeps_moving():
    scene, _, _ = sampled_room(0)
    renderer, traj = sample(scene, 0, n_frames=80)
    eyes = traj.poses[:, :3, 3]
    assert len(traj) == 80 and np.all(np.diff(traj.timestamps) > 0)
    assert traj.stats.path_length >= 1.0 and np.ptp(eyes[:, :2], axis=0).max() >= 0.5
    assert renderer.distance(dense_segments(eyes)).min() >= 0.3 - 1e-5


# --- hand-built rooms --------------------------------------------------------------------------------

FURNITURE = [  # (name, class40, (x0, y0, x1, y1, height)) in a 5 x 4 m room
    ("bed_1/bed", 4, (0.1, 0.1, 1.7, 2.2, 0.6)),
    ("dresser_2/dresser", 17, (2.2, 0.1, 3.4, 0.6, 1.0)),
    ("chair_3/chair", 5, (3.8, 0.1, 4.3, 0.6, 0.9)),
    ("bookshelf_4/bookshelf", 10, (4.5, 1.0, 4.9, 2.4, 1.8)),
    ("table_5/table", 7, (2.4, 2.8, 3.6, 3.6, 0.75)),
    ("cabinet_6/cabinet", 3, (0.1, 3.3, 1.0, 3.9, 1.2)),
    ("lamp_7/lamp", 35, (1.4, 3.5, 1.7, 3.8, 1.5)),
]


def test_low_ceiling_narrows_the_height_band():
    renderer, traj = sample(box_room((5.0, 4.0, 1.9), FURNITURE), 4)
    eyes = traj.poses[:, :3, 3]
    assert np.all((eyes[:, 2] >= 1.1) & (eyes[:, 2] <= 1.9 - 0.35))
    assert renderer.distance(dense_segments(eyes)).min() >= 0.3 - 1e-5


def test_hand_built_room():
    scene = box_room((5.0, 4.0, 2.6), FURNITURE)
    renderer, traj = sample(scene, 1, n_frames=30)
    eyes = traj.poses[:, :3, 3]
    assert np.all((eyes[:, 2] >= 1.1) & (eyes[:, 2] <= 1.6))
    assert renderer.distance(dense_segments(eyes)).min() >= 0.3 - 1e-5
    check_view_rules(scene, renderer, traj.poses)


def test_close_ups_are_nearer_than_far_views():
    """near_p = 1 walks up close to the pieces in focus and looks down onto them; near_p = 0 views across the room."""
    scene = box_room((7.0, 4.0, 2.6), FURNITURE)
    cam = Intrinsics.nyuv2().scaled(80, 60)
    depth_renderer = RaycastRenderer(scene, cam, nthreads=1)
    medians, pitches = {}, {}
    for near_p in (0.0, 1.0):
        depths, pitch = [], []
        for seed in range(4):
            _, traj = sample(scene, seed, n_frames=6, params=WalkParams(near_p=near_p))
            depths += [np.median(depth_renderer.render(p, normals=False).depth) for p in traj.poses]
            pitch.append(yaw_pitch(traj.poses)[1])
        medians[near_p], pitches[near_p] = np.mean(depths), np.degrees(np.concatenate(pitch)).mean()
    assert medians[1.0] < medians[0.0] - 0.25, medians
    assert pitches[1.0] < pitches[0.0] - 5, (medians, pitches)


def test_focus_weights_are_plan_areas_with_low_pieces_boosted():
    weights = focus_weights(box_room((5.0, 4.0, 2.6), FURNITURE))
    areas = [
        (x1 - x0) * (y1 - y0) * (LOW_FOCUS_BOOST if h <= LOW_FOCUS_HEIGHT else 1.0)
        for _, _, (x0, y0, x1, y1, h) in FURNITURE
    ]
    assert np.allclose(weights, areas)
    # the 0.6 m bed outweighs the 1.8 m bookshelf by more than their plan areas alone
    assert weights[0] / weights[3] > LOW_FOCUS_BOOST * 0.5 * (1.6 * 2.1) / (0.4 * 1.4)


def test_eye_stays_inside_an_l_shaped_footprint():
    # The shell is a 6 x 5 m box but the room is the L without the [3, 6] x [2.5, 5] quadrant: only the
    # footprint keeps the eye out of it.
    polygon = np.array([[0.0, 0.0], [6.0, 0.0], [6.0, 2.5], [3.0, 2.5], [3.0, 5.0], [0.0, 5.0]])
    furniture = [
        ("bed_1/bed", 4, (0.1, 3.0, 1.6, 4.9, 0.6)),
        ("dresser_2/dresser", 17, (4.0, 0.1, 5.5, 0.6, 1.0)),
        ("chair_3/chair", 5, (2.0, 0.1, 2.5, 0.6, 0.9)),
        ("bookshelf_4/bookshelf", 10, (0.1, 0.5, 0.5, 1.9, 1.8)),
        ("table_5/table", 7, (1.2, 1.2, 2.2, 2.0, 0.75)),
        ("cabinet_6/cabinet", 3, (5.4, 1.0, 5.9, 2.0, 1.2)),
    ]
    scene = box_room((6.0, 5.0, 2.6), furniture, polygon=polygon)
    renderer, traj = sample(scene, 2, n_frames=40)
    eyes = traj.poses[:, :3, 3]
    assert np.all(scene.room.contains(dense_segments(eyes)[:, :2], 0.3 - 1e-6))
    assert not np.any((eyes[:, 0] > 3.0 - 0.3) & (eyes[:, 1] > 2.5 - 0.3))


def test_structure_helper_and_targets():
    names = {
        "floor": True,
        "ceiling": True,
        "wall_4": True,
        "door": True,
        "door_1/door": True,
        "window": True,
        "picture": True,
        "picture_2/picture": True,
        "skirting": True,
        "bed_3/bed": False,
        "bed_3/pillow_1": False,
        "wall_shelf_2/shelf": False,
        "lamp_1/lamp": False,
    }
    mesh = box((1, 1, 1), (0, 0, 0))
    for name, expected in names.items():
        assert is_structure(SceneObject(mesh=mesh, class40=40, instance_id=1, name=name)) is expected, name
    # Imported scenes carry arbitrary names: their walls, floors, doors, ... count by class.
    for cls, expected in ((1, True), (2, True), (8, True), (4, False), (40, False)):
        assert is_structure(SceneObject(mesh=mesh, class40=cls, instance_id=1, name="Mesh_07")) is expected
    targets = furniture_targets(box_room((5.0, 4.0, 2.6), FURNITURE))
    assert targets.shape == (len(FURNITURE), 3) and np.all((targets[:, 2] >= 0.3) & (targets[:, 2] <= 1.2))


# --- impossible rooms ----------------------------------------------------------------------------------


def test_no_free_space_is_an_error():
    with pytest.raises(SynthcamError, match="clearance"):
        sample(box_room((0.6, 0.6, 2.5), [("chair_1/chair", 5, (0.1, 0.1, 0.5, 0.5, 0.9))]), 0)
    with pytest.raises(SynthcamError, match="no eye height"):  # the ceiling is too low for the height band
        sample(box_room((5.0, 4.0, 1.5), FURNITURE), 0)
    with pytest.raises(SynthcamError, match="clearance"):  # furniture fills the floor up to eye height
        sample(box_room((3.0, 3.0, 2.5), [("shelf_1/shelf", 10, (0.0, 0.0, 3.0, 3.0, 1.5))]), 0)


def test_room_without_good_views_is_an_error():
    with pytest.raises(SynthcamError, match="no furniture"):
        sample(box_room((5.0, 4.0, 2.6), []), 0)
    # Two pieces can never make a view with 3 objects.
    with pytest.raises(SynthcamError, match="after 3 walks"):
        sample(box_room((5.0, 4.0, 2.6), FURNITURE[:2]), 0, max_attempts=3)


def test_bad_arguments():
    scene = box_room((5.0, 4.0, 2.6), FURNITURE)
    with pytest.raises(SynthcamError, match="at least 1 frame"):
        sample(scene, 0, n_frames=0)
    with pytest.raises(SynthcamError, match="height band"):
        sample(scene, 0, height=(1.6, 1.1))
