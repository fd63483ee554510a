"""``synthcam generate``: render rooms into noisy, labelled HDF5 shards (thin wrapper).

Its settings (options and ``--config FILE``) become one :class:`GenerateConfig` in
:mod:`cli.generate_options`; this module runs :func:`synthcam.generate.generate_dataset` with a
progress bar, SIGTERM handled as Ctrl-C, and the closing summary line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from cli.choices import CAMERAS, NOISE_PRESETS, RENDERERS, ROOM_TYPES, NamedChoice
from cli.config_options import config_option, setting
from cli.generate_options import generate_config
from synthcam.generate_config import GenerateConfig
from synthcam_core.config_file import field_default, field_help
from synthcam_core.errors import SynthcamError

G = GenerateConfig


@click.command()
@config_option("generate")
@setting(G, "rooms", type=int, help=(field_help(G, "rooms") or "") + " Needed unless --config sets it.")
@setting(
    G, "frames_per_room", type=int, help=(field_help(G, "frames_per_room") or "") + " Needed unless --config sets it."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory for the shards, manifest.json and config.yaml (the run's settings).",
)
@setting(G, "seed", type=int)
@click.option(
    "--resolution",
    default=f"{field_default(G, 'width')}x{field_default(G, 'height')}",
    show_default=True,
    help="Image size WIDTHxHEIGHT; the camera is resampled to it, or scaled uniformly and centre-cropped "
    "where the aspect ratio differs from the camera's (never stretched).",
)
@setting(G, "camera", type=NamedChoice(CAMERAS, "camera"))
@click.option("--intrinsics", default=None, metavar="FX,FY,CX,CY", help=field_help(G, "camera_intrinsics"))
@setting(G, "noise", type=NamedChoice(NOISE_PRESETS, "noise preset"))
@click.option(
    "--noise-param",
    multiple=True,
    metavar="STAGE.FIELD=VALUE",
    help="Override a noise parameter, e.g. disparity.sigma_units=0.3 (repeatable).",
)
@click.option(
    "--noise-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Noise preset and parameters from a noise file (YAML or JSON, e.g. from 'synthcam noise fit'); "
    "--noise-param overrides its values, --noise may only repeat its preset.",
)
@setting(
    G,
    "room_types",
    "--room-type",
    type=NamedChoice(ROOM_TYPES, "room type"),
    multiple=True,
    default=(),
    show_default=False,
    help=(field_help(G, "room_types") or "") + " Repeatable.",
)
@setting(G, "scene", type=click.Path(dir_okay=False, path_type=Path), default=None, show_default=False)
@setting(G, "renderer", type=click.Choice(RENDERERS))
@setting(G, "flow", is_flag=True, show_default=False)
@setting(G, "frame_rate", type=float, metavar="HZ")
@setting(G, "clip_length", type=int, metavar="N")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes, each pinned to a core (default: one per core, at most one per room; "
    "1 for jobs under 200 frames). More than the usable "
    "cores are capped at that number, with a warning.",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Run each room as a task on a Ray cluster: 'auto' (the cluster of 'ray start'), HOST:PORT, "
    "ray://HOST:PORT, or 'local' to start one here. --out must be a directory every node can write.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Delete the synthcam shards already in --out instead of resuming them "
    "(also an older-format dataset); files synthcam did not write are never deleted.",
)
@click.option(
    "--quiet", is_flag=True, help="No progress bar (notes, warnings, errors and the summary line still print)."
)
def generate(config_path, out_dir, workers, ray_address, overwrite, quiet, **options) -> None:
    """Render rooms along camera trajectories into noisy, labelled HDF5 shards.

    Writes one shard per room (room_00000.h5, ...), then manifest.json and config.yaml once all shards
    are complete; `synthcam generate --config OUT/config.yaml --out NEW` makes the same dataset again.
    Run again on the same --out to resume an interrupted run: complete shards are kept (after their
    checksums verify), partial and damaged ones redone. The same options, input files and seed give
    identical files whatever --workers or --ray-address is. One run at a time may use an --out (a lock
    file, .synthcam.lock, names its pid). Limits: --rooms up to 40,000, --frames-per-room up to
    100,000, --resolution from 16x16 to 4096x4096, --seed from 0 to 2**63 - 1.
    """
    import signal

    # SIGTERM is Ctrl-C from the first moment: the worker server starts before the heavy imports below, and a
    # SIGTERM during them must still end the run the Ctrl-C way (workers gone, nothing half-written, exit 130).
    previous = _install_signal(signal.SIGTERM, _sigterm_as_ctrl_c)
    try:
        _generate(config_path, out_dir, workers, ray_address, overwrite, quiet, options)
    finally:
        _install_signal(signal.SIGTERM, previous)


def _sigterm_as_ctrl_c(signum, frame):
    raise KeyboardInterrupt


def _generate(config_path, out_dir, workers, ray_address, overwrite, quiet, options) -> None:
    """The body of :func:`generate`, run with SIGTERM handled as Ctrl-C."""
    import os

    from tqdm import tqdm

    from synthcam.worker_processes import auto_workers, available_cores, needs_gl, start_worker_server

    config = generate_config(config_path, options)
    rooms, frames_per_room, width, height = config.rooms, config.frames_per_room, config.width, config.height
    if workers is None:
        workers = auto_workers(config.rooms, config.frames_per_room)
    if workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    usable = len(available_cores())
    if workers > usable and ray_address is None:
        click.echo(f"warning: --workers {workers} is more than the {usable} usable cores; using {usable}", err=True)
        workers = usable
    if workers > 1 and ray_address is None:
        start_worker_server(
            needs_gl(config.renderer)
        )  # its imports overlap ours; the first worker forks without waiting

    from synthcam.generate import generate_dataset
    from synthcam.room_shard import keep_large_buffers_in_heap
    from synthcam.write_failures import hdf5_write_failed, silence_failed_hdf5_closes

    keep_large_buffers_in_heap()  # this command's own process renders rooms too: the allocator setting workers get
    if ray_address is not None and not ray_address.strip():
        raise SynthcamError("--ray-address is empty; pass auto, HOST:PORT, ray://HOST:PORT or local")
    kept: list[int] = []  # the number of complete shards kept from an earlier run
    bar: list[tqdm] = []

    def progress(n: int) -> None:  # the bar starts with the first frame, after the checks of --out
        if quiet:
            return
        if not bar:
            bar.append(tqdm(total=rooms * frames_per_room, unit="frames", desc="generate", dynamic_ncols=True))
        bar[0].update(n)

    def notice(message: str) -> None:
        (bar[0].write if bar else click.echo)(f"note: {message}", file=sys.stderr)

    restore_hook = silence_failed_hdf5_closes()  # a failed write is reported once, in the error line
    start = time.perf_counter()
    try:
        paths = generate_dataset(
            config,
            out_dir,
            workers=workers,
            on_frame=progress,
            overwrite=overwrite,
            ray_address=ray_address,
            on_skip=kept.append,
            on_notice=notice,
        )
    except SynthcamError as exc:
        if not hdf5_write_failed():
            raise
        for b in bar:
            b.close()
        # A failed HDF5 write cannot be closed: a normal exit would crash in HDF5's clean-up.
        click.echo(f"error: {exc}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    finally:
        for b in bar:
            b.close()
        restore_hook()
    elapsed = time.perf_counter() - start
    frames = (rooms - kept[0]) * frames_per_room
    resumed = f"; kept {kept[0]} complete shards from an earlier run" if kept[0] else ""
    click.echo(
        f"wrote {len(paths) - kept[0]} shards ({frames} frames, {width}x{height}) to {out_dir} in {elapsed:.1f} s "
        f"({frames / elapsed:.1f} frames/s){resumed}"
    )


def _install_signal(signum, handler):
    """``signal.signal`` where allowed (the main thread); returns the previous handler (None elsewhere)."""
    import signal

    if handler is None:
        return None
    try:
        return signal.signal(signum, handler)
    except ValueError:  # not the main thread
        return None
