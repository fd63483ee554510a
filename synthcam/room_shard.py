"""One room of a dataset, from its seed to its shard: :func:`plan_room` builds the scene, renderer and
trajectory, :func:`write_room_shard` renders, adds noise and writes the frames, and :func:`run_room` is
the per-room task every runner calls (serial, process pool, Ray).

A room's bytes depend only on the config and the room index (see :func:`synthcam.generate_config.room_seed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import noise_models
from scene_library import Scene, build_scene, generate_room, load_description
from synthcam import __version__
from synthcam.flow_stage import FlowStage
from synthcam.generate_config import GenerateConfig, input_hashes, room_seed, shard_name, steps_per_frame
from synthcam.render import Renderer, make_renderer
from synthcam.render_raycast import RaycastRenderer
from synthcam.trajectory import Trajectory, sample_trajectory
from synthcam.walk import DEFAULT_WALK_PARAMS, WalkParams
from synthcam.write_failures import FAILED_WRITERS, output_error, write_errno
from synthcam_core.errors import SynthcamError
from synthcam_shards.shard_file import ShardWriter, default_label_tables


@dataclass(frozen=True)
class RoomPlan:
    """Room ``index`` of a dataset: its scene, its renderer and its camera trajectory."""

    index: int
    scene: Scene
    renderer: Renderer
    trajectory: Trajectory


def plan_room(config: GenerateConfig, room_index: int, nthreads: int = 0, max_rooms: int = 5) -> RoomPlan:
    """Build room ``room_index`` of ``config``: scene, renderer and trajectory (deterministic).

    A generated room in which no valid trajectory exists (rare: a small, sparse room) is replaced by the
    next room drawn from the same seed stream, up to ``max_rooms`` draws.
    """
    scene_seq, traj_seq, _ = room_seed(config, room_index).spawn(3)
    scene_rng, traj_rng = np.random.default_rng(scene_seq), np.random.default_rng(traj_seq)
    intrinsics = config.intrinsics
    params = walk_params(config)
    for attempt in range(1 if config.scene else max_rooms):
        if config.scene:
            scene = build_scene(load_description(Path(config.scene)))
            if config.inputs and input_hashes(config.scene) != config.inputs:
                raise SynthcamError(
                    f"--scene {config.scene} or a file it references changed while the dataset was being "
                    f"generated; keep the inputs unchanged and run 'synthcam generate' again"
                )
        else:
            room_type = str(scene_rng.choice(config.room_types)) if config.room_types else None
            scene = generate_room(scene_rng, room_type)
        # Views are judged and clearances measured by ray casting at 64x48, whatever the output backend:
        # it is the fastest at that size and it answers distance queries.
        probe = RaycastRenderer(scene, intrinsics.scaled(64, 48), nthreads)
        try:
            trajectory = sample_trajectory(
                scene, config.frames_per_room, traj_rng, probe.distance, probe.instances, params=params
            )
        except SynthcamError:
            if config.scene or attempt == max_rooms - 1:
                raise
            continue
        return RoomPlan(room_index, scene, make_renderer(config.renderer, scene, intrinsics, nthreads), trajectory)
    raise AssertionError("unreachable")


def walk_params(config: GenerateConfig) -> WalkParams:
    """The walk of ``config``'s trajectories: the default dynamics with its frame rate and clip length
    (the defaults, 2.5 Hz in clips of 1, are :data:`~synthcam.walk.DEFAULT_WALK_PARAMS` itself)."""
    return dataclasses.replace(
        DEFAULT_WALK_PARAMS, frame_every=steps_per_frame(config.frame_rate), clip_length=config.clip_length
    )


def generate_room_shard(
    config: GenerateConfig,
    room_index: int,
    out_dir: Path,
    nthreads: int = 0,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """Plan room ``room_index`` (:func:`plan_room`) and write its shard into ``out_dir``
    (:func:`write_room_shard`); returns the shard path."""
    return write_room_shard(config, plan_room(config, room_index, nthreads), out_dir, on_frame)


def write_room_shard(
    config: GenerateConfig, plan: RoomPlan, out_dir: Path, on_frame: Callable[[int], None] | None = None
) -> Path:
    """Render, add noise to and write every frame of a planned room (:func:`plan_room`) into its shard
    in ``out_dir``; returns the shard path. The room's noise stream comes from ``config`` and
    ``plan.index``, so the shard is the same whoever planned the room. The shard appears under its final
    name only once complete (see :class:`~synthcam_shards.shard_file.ShardWriter`). Every frame's ``trajectory_id``
    is the room index (one trajectory per room). With ``config.flow`` each frame's optical flow to the next
    (:func:`~synthcam_core.geometry.flow_np.forward_flow` of the two clean rendered depths and poses) is
    computed while the next frame is noised and written and written after it (:class:`~synthcam.flow_stage.FlowStage`),
    the last frame's as :func:`~synthcam_core.geometry.flow_np.no_flow`; only one previous frame is kept, and
    the noise stream is the same with and without flow.
    """
    room_index = plan.index
    noise = noise_models.make(config.noise, config.noise_params)
    noise_rng = np.random.default_rng(room_seed(config, room_index).spawn(3)[2])
    attrs = {
        "package_version": __version__,
        "config": config.to_dict(),
        "seed": config.seed,
        "room_index": room_index,
        "room_seed": {"entropy": config.seed, "spawn_key": [room_index]},
        "noise": noise.describe(),
        "renderer": getattr(plan.renderer, "name", config.renderer),  # the backend "auto" chose
        "room_type": plan.scene.room.room_type,
        "scene_description": plan.scene.description or {},
    }
    path = Path(out_dir) / shard_name(room_index)
    trajectory = plan.trajectory
    intrinsics = config.intrinsics
    writer = None
    stage: FlowStage | None = None
    try:
        with ShardWriter(
            path, len(trajectory), intrinsics, attrs, plan.scene.describe(), default_label_tables(), flow=config.flow
        ) as writer:
            stage = FlowStage(writer, intrinsics) if config.flow else None
            for i, pose in enumerate(trajectory.poses):
                frame = plan.renderer.render(pose, normals=noise.needs_normals, incidence=noise.needs_incidence)
                if stage is not None:  # frame i-1's flow to this frame, from the clean rendered depth
                    stage.start(i, frame.depth, pose)
                noisy = noise(frame, noise_rng)
                writer.write(
                    i,
                    noisy,
                    frame.depth,
                    frame.class40,
                    frame.instance,
                    pose,
                    float(trajectory.timestamps[i]),
                    trajectory_id=room_index,
                )
                if stage is not None:
                    stage.finish()
                if on_frame is not None:
                    on_frame(1)
            if stage is not None:
                stage.close(len(trajectory))
            return writer.close()
    except (OSError, RuntimeError) as exc:
        code = write_errno(exc)
        if code is None:
            raise
        if writer is not None:
            FAILED_WRITERS.append(writer)  # never closed again: see FAILED_WRITERS
        raise output_error(path, code) from None
    finally:
        if stage is not None:
            stage.shutdown()


def run_room(
    config: GenerateConfig,
    room_index: int,
    out_dir: Path,
    nthreads: int = 0,
    on_frame: Callable[[int], None] | None = None,
) -> Path:
    """The per-room task of every runner (serial, process pool, Ray): :func:`generate_room_shard`, then
    hand freed memory back to the system so that a long run's resident memory stays flat. Changes no
    process-wide setting (the runners tune the worker processes they start: :func:`keep_large_buffers_in_heap`)."""
    path = generate_room_shard(config, room_index, out_dir, nthreads, on_frame)
    release_memory()
    return path


def keep_large_buffers_in_heap(mmap_threshold: int = 64 << 20) -> None:
    """Serve allocations below ``mmap_threshold`` bytes from the heap and keep freed heap memory (glibc
    ``mallopt``; elsewhere a no-op).

    A 640x480 frame allocates and frees dozens of 0.3-5 MB arrays (read-back, labels, normals, noise
    stages, uint16 copies); by default glibc maps each one afresh and the first touch of every page
    faults, some 10-15 % of a frame's time (benchmarks/pipeline_fps.py). :func:`release_memory` still
    hands the heap back after each room. Idempotent; affects the whole process, so the library calls it
    only in the worker processes it starts; an application (the ``synthcam`` command) opts in for its own
    process by calling it.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, int(mmap_threshold))  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2 * int(mmap_threshold))  # M_TRIM_THRESHOLD: no trimming at every free
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Collect garbage and return free heap pages to the OS (``malloc_trim``; glibc only, else a no-op).

    Nothing leaks per room (Python allocations are flat under tracemalloc), but glibc keeps freed
    mesh and buffer memory in its arenas; trimming holds RSS some 5 MiB lower (benchmarks/memory_rss.py)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
