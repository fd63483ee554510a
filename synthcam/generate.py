"""The generation driver: rooms -> trajectories -> rendered, noisy frames -> one shard per room.

A dataset is a function of its :class:`GenerateConfig` alone: room ``i`` draws every random number
from ``SeedSequence(seed, spawn_key=(i,))``, so the bytes of its shard do not depend on the number
of workers, the order in which rooms finish, or whether the run was interrupted and resumed.

:func:`generate_dataset` ties the parts together, each in its own module:

- :mod:`synthcam.generate_config`: :class:`GenerateConfig`, its limits (:data:`MAX_ROOMS`,
  :data:`MAX_FRAMES_PER_ROOM`, :data:`MAX_SEED`, the image size of :func:`synthcam_core.camera.check_resolution`),
  input hashes, shard names and room seeds;
- :mod:`synthcam.room_shard`: one room planned, rendered, noised and written into its shard (:func:`run_room`);
- :mod:`synthcam.output_dir`: the exclusive lock on ``--out`` (``.synthcam.lock``), what a run resumes and
  the only files it may remove, and ``manifest.json``, written last, so its presence means the dataset is
  complete;
- :mod:`synthcam.runners`: rooms run serially, in local worker processes or as Ray tasks (``ray_address``);
- :mod:`synthcam.write_failures`: one-line errors for failed writes (a full disk).

The names of those modules that callers used from here stay importable from this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synthcam.generate_config import (
    MAX_FRAMES_PER_ROOM,
    MAX_ROOMS,
    MAX_SEED,
    GenerateConfig,
    input_files,
    input_hashes,
    is_int,
    room_seed,
    shard_name,
)
from synthcam.output_dir import (
    DATASET_FORMAT,
    LEGACY_MANIFEST,
    MANIFEST_TEMP,
    PendingRooms,
    prepare_output,
    rooms_to_generate,
    write_manifest,
)
from synthcam.output_lock import LOCK_NAME, output_lock
from synthcam.room_shard import (
    RoomPlan,
    generate_room_shard,
    keep_large_buffers_in_heap,
    plan_room,
    release_memory,
    run_room,
    write_room_shard,
)
from synthcam.runners import run_pool, run_ray
from synthcam.worker_processes import auto_workers, available_cores, die_with_parent, needs_gl, start_worker_server
from synthcam.write_failures import (
    OutputFullError,
    hdf5_write_failed,
    output_error,
    silence_failed_hdf5_closes,
    write_errno,
)
from synthcam_core.errors import SynthcamError

__all__ = [
    "DATASET_FORMAT",
    "LEGACY_MANIFEST",
    "LOCK_NAME",
    "MANIFEST_TEMP",
    "MAX_FRAMES_PER_ROOM",
    "MAX_ROOMS",
    "MAX_SEED",
    "GenerateConfig",
    "OutputFullError",
    "PendingRooms",
    "RoomPlan",
    "auto_workers",
    "available_cores",
    "die_with_parent",
    "generate_dataset",
    "generate_room_shard",
    "hdf5_write_failed",
    "input_files",
    "input_hashes",
    "keep_large_buffers_in_heap",
    "output_error",
    "output_lock",
    "plan_room",
    "prepare_output",
    "release_memory",
    "room_seed",
    "rooms_to_generate",
    "run_room",
    "shard_name",
    "silence_failed_hdf5_closes",
    "write_errno",
    "write_manifest",
    "write_room_shard",
]


def generate_dataset(
    config: GenerateConfig,
    out_dir: Path,
    workers: int = 1,
    on_frame: Callable[[int], None] | None = None,
    *,
    overwrite: bool = False,
    ray_address: str | None = None,
    on_skip: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> list[Path]:
    """Generate every room of ``config`` into ``out_dir``, resuming an interrupted run.

    workers : local processes (1 = in this process), at most the usable cores (more are capped, as the
        bytes do not depend on it); ignored when ``ray_address`` is given.
    on_frame : called with a number of finished frames (also for the frames of kept shards).
    overwrite : delete the synthcam shards already in ``out_dir`` instead of resuming (files that are not
        synthcam's are never deleted: the run stops instead).
    ray_address : run each room as a Ray task: ``"auto"``, ``"host:port"``, ``"ray://host:port"`` or
        ``"local"`` (start a local cluster); an already initialised Ray session is used as is.
        ``out_dir`` must be a path every Ray node can write.
    on_skip : called once with the number of complete shards kept from an earlier run.
    on_notice : called with a one-line message for each damaged shard of an earlier run that is redone.

    The whole run holds :func:`output_lock` of ``out_dir``. Complete shards of the same config (input
    file hashes included) whose checksums verify are kept, partial and damaged ones redone;
    ``manifest.json`` is written last. The files are byte-identical to an uninterrupted run with any
    worker count or Ray. Returns the shard paths in room order. Raises :class:`SynthcamError` for bad
    input (one line), :class:`OutputFullError` when the output fills up (nothing half-written is left).

    No process-wide setting of the calling process changes (environment, CPU affinity, OpenCV threads,
    glibc's ``mallopt``): only the worker processes it starts tune theirs.
    """
    config.validate()
    if not is_int(workers) or workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    if ray_address is None and min(workers, config.rooms, len(available_cores())) > 1:
        start_worker_server(needs_gl(config.renderer))  # its imports overlap the checks of out_dir below
    config = config.with_inputs()
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        todo = rooms_to_generate(config, out_dir, overwrite, on_notice)
        if on_skip is not None:
            on_skip(config.rooms - len(todo))
        if on_frame is not None and len(todo) < config.rooms:
            on_frame((config.rooms - len(todo)) * config.frames_per_room)
        cores = available_cores()
        workers = min(workers, max(len(todo), 1), len(cores))
        if len(todo) and ray_address is not None:
            run_ray(config, out_dir, todo, ray_address, on_frame)
        elif len(todo) and workers == 1:
            for i in todo:
                run_room(config, i, out_dir, len(cores), on_frame)
        elif len(todo):
            run_pool(config, out_dir, todo, workers, cores, on_frame)
        paths = [out_dir / shard_name(i) for i in range(config.rooms)]
        write_manifest(config, out_dir, paths)
    return paths
