"""Frame rate and clips of the trajectory sampler: frames every ``frame_every`` simulation steps, in clips of
``clip_length`` consecutive frames; a rejection within a clip drops the clip's frames so far."""

from __future__ import annotations

import numpy as np
import pytest

from scene_library import generate_room
from synthcam.generate_config import SIMULATION_HZ, GenerateConfig, steps_per_frame
from synthcam.render_raycast import RaycastRenderer
from synthcam.room_shard import walk_params
from synthcam.trajectory import sample_trajectory
from synthcam.walk import DEFAULT_WALK_PARAMS, WalkParams
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError

PROBE = Intrinsics.nyuv2().scaled(64, 48)


def sample(seed: int, n_frames: int, params: WalkParams, reject_calls: frozenset[int] = frozenset()):
    """The trajectory of generated room ``seed``; the view renders numbered in ``reject_calls`` see nothing
    (an empty view, rejected by the view rules)."""
    scene = generate_room(np.random.default_rng(seed))
    renderer = RaycastRenderer(scene, PROBE, nthreads=1)
    calls = [0]

    def instances(pose: np.ndarray) -> np.ndarray:
        calls[0] += 1
        image = renderer.render(pose, normals=False).instance
        return np.zeros_like(image) if calls[0] in reject_calls else image

    return sample_trajectory(scene, n_frames, np.random.default_rng(seed), renderer.distance, instances, params=params)


def clip_steps(timestamps: np.ndarray, clip_length: int) -> np.ndarray:
    """(clips, clip_length) simulation step of every frame."""
    steps = np.round(timestamps * SIMULATION_HZ)
    assert np.allclose(timestamps, steps / SIMULATION_HZ, rtol=0, atol=1e-12)  # frames sit on the simulation clock
    return steps.astype(np.int64).reshape(-1, clip_length)


def test_the_defaults_are_the_default_walk():
    config = GenerateConfig(rooms=1, frames_per_room=4)
    assert walk_params(config) == DEFAULT_WALK_PARAMS
    assert DEFAULT_WALK_PARAMS.rate_hz == SIMULATION_HZ
    assert steps_per_frame(2.5) == DEFAULT_WALK_PARAMS.frame_every == 10
    assert walk_params(GenerateConfig(rooms=1, frames_per_room=6, frame_rate=25, clip_length=3)) == WalkParams(
        frame_every=1, clip_length=3
    )


@pytest.mark.parametrize("rate, steps", [(25, 1), (12.5, 2), (5.0, 5), (2.5, 10), (1, 25), (0.1, 250)])
def test_steps_per_frame(rate, steps):
    assert steps_per_frame(rate) == steps


@pytest.mark.parametrize("rate", [3.0, 30.0, 0.0, -2.5, float("nan"), float("inf"), True, "2.5", 1e-300])
def test_a_frame_rate_off_the_simulation_clock_is_refused(rate):
    with pytest.raises(SynthcamError, match=r"25, 12.5, 5, 2.5"):
        steps_per_frame(rate)


@pytest.mark.parametrize("seed", [0, 1])
def test_clips_are_consecutive_frames_at_the_frame_rate(seed):
    traj = sample(seed, 12, WalkParams(frame_every=2, clip_length=4))
    steps = clip_steps(traj.timestamps, 4)
    assert steps[0, 0] == 0 and np.all(np.diff(steps, axis=1) == 2)  # 12.5 Hz within each clip
    assert np.all(np.diff(steps[:, 0]) >= 8)  # clips in time order, a gap between them or none
    assert np.allclose(np.diff(traj.timestamps.reshape(3, 4), axis=1), 1 / 12.5, rtol=0, atol=1e-12)


def test_a_rejection_within_a_clip_drops_the_clip_so_far():
    params = WalkParams(frame_every=1, clip_length=5)
    plain = sample(2, 10, params)
    assert plain.stats is not None and plain.stats.rejected_views == 0  # no rejection of its own
    # The 3rd candidate's view is empty: frames 1-2 are dropped and the clip starts again after it.
    traj = sample(2, 10, params, reject_calls=frozenset({3}))
    stats = traj.stats
    assert stats is not None and stats.rejected_views >= 1
    assert stats.candidates > 10 + stats.rejected_views + stats.rejected_segments  # dropped frames were candidates
    steps = clip_steps(traj.timestamps, 5)
    assert np.all(np.diff(steps, axis=1) == 1)
    assert traj.timestamps[0] == 0.0 and not np.array_equal(traj.poses[0], plain.poses[0])


def test_clip_length_one_keeps_gaps_and_every_accepted_frame():
    traj = sample(2, 6, DEFAULT_WALK_PARAMS, reject_calls=frozenset({3}))
    stats = traj.stats
    assert stats is not None and stats.candidates == 6 + stats.rejected_views + stats.rejected_segments
    steps = np.round(traj.timestamps * SIMULATION_HZ)
    assert np.all(np.diff(steps) % 10 == 0) and np.diff(steps).max() >= 20  # the rejected candidate left a gap
