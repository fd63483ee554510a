"""``synthcam``: generate, inspect and preview synthetic depth datasets.

Every command is a thin wrapper over a library function. User mistakes print one line starting with
``error:`` and exit with status 2; heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from cli.choices import CAMERAS, NOISE_PRESETS, RENDERERS, ROOM_TYPES, NamedChoice
from cli.config_options import config_option, setting
from cli.generate_options import generate_config
from cli.json_output import check_json_target, emit_json, json_option, text_echo
from synthcam.generate_config import GenerateConfig
from synthcam_core.config_file import field_default, field_help
from synthcam_core.errors import SynthcamError

USER_ERRORS = (SynthcamError,)


class SynthcamGroup(click.Group):
    """A click group that reports usage and user errors in one line with exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:  # also what click makes of Ctrl-C
            click.echo("interrupted", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=SynthcamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthcam3d", prog_name="synthcam")
def main() -> None:
    """Synthetic indoor depth frames with per-pixel NYU40 labels, for depth-only segmentation.

    Typical use: `synthcam generate --rooms 2 --frames-per-room 20 --out out/`, then
    `synthcam inspect out/` and `synthcam preview out/ --out out/previews`.
    """


G = GenerateConfig


@main.command()
@config_option("generate")
@setting(G, "rooms", type=int, help=field_help(G, "rooms") + " Needed unless --config sets it.")
@setting(G, "frames_per_room", type=int, help=field_help(G, "frames_per_room") + " Needed unless --config sets it.")
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
    help=field_help(G, "room_types") + " Repeatable.",
)
@setting(G, "scene", type=click.Path(dir_okay=False, path_type=Path), default=None, show_default=False)
@setting(G, "renderer", type=click.Choice(RENDERERS))
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
    import os
    import signal

    from tqdm import tqdm

    from synthcam.runners import auto_workers, available_cores
    from synthcam.worker_processes import start_worker_server

    config = generate_config(config_path, options)
    rooms, frames_per_room, width, height = config.rooms, config.frames_per_room, config.width, config.height
    if workers is None:
        workers = auto_workers(config)
    if workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    usable = len(available_cores())
    if workers > usable and ray_address is None:
        click.echo(f"warning: --workers {workers} is more than the {usable} usable cores; using {usable}", err=True)
        workers = usable
    if workers > 1 and ray_address is None:
        start_worker_server()  # its imports overlap ours; the first worker forks without waiting

    from synthcam.generate import generate_dataset
    from synthcam.room_shard import keep_large_buffers_in_heap
    from synthcam.write_failures import hdf5_write_failed, silence_failed_hdf5_closes

    keep_large_buffers_in_heap()  # this command's own process renders rooms too: the allocator setting workers get
    if ray_address is not None and not ray_address.strip():
        raise SynthcamError("--ray-address is empty; pass auto, HOST:PORT, ray://HOST:PORT or local")
    kept, bar = [], []

    def progress(n: int) -> None:  # the bar starts with the first frame, after the checks of --out
        if quiet:
            return
        if not bar:
            bar.append(tqdm(total=rooms * frames_per_room, unit="frames", desc="generate", dynamic_ncols=True))
        bar[0].update(n)

    def notice(message: str) -> None:
        (bar[0].write if bar else click.echo)(f"note: {message}", file=sys.stderr)

    def terminated(signum, frame):  # SIGTERM: the Ctrl-C path (workers killed, nothing half-written, exit 130)
        raise KeyboardInterrupt

    previous = _install_signal(signal.SIGTERM, terminated)
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
        _install_signal(signal.SIGTERM, previous)
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


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@json_option("Write the statistics as JSON instead of printing them as text")
def inspect(path, json_path) -> None:
    """Describe a shard or a directory of shards.

    Shows frame count, dataset shapes, dtypes and compression, depth statistics and invalid-pixel
    fraction, the class pixel histogram with class names, and the generating config and seed.
    """
    from synthcam_shards.shard_file import find_shards
    from synthcam_shards.summary import format_summary, summarize_shard

    check_json_target(json_path)
    summaries = [summarize_shard(p) for p in find_shards(path)]
    if json_path is None:
        click.echo(format_summary(summaries))
    else:
        emit_json(json_path, summaries, indent=2)
        if json_path != "-":
            click.echo(f"wrote {json_path}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the PNGs."
)
@click.option(
    "--frames",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Frames per shard to preview (evenly spaced).",
)
def preview(path, out_dir, frames) -> None:
    """Write PNG previews: clean and noisy depth side by side, and labels with a legend.

    Depth is colour-mapped (turbo) on one scale per frame; invalid pixels are white.
    """
    from synthcam.output_dir import prepare_output
    from synthcam.preview import preview_shard
    from synthcam_shards.shard_file import find_shards

    shards = find_shards(path)
    prepare_output(out_dir)  # creates --out if needed; never removes anything in it
    written = [p for shard in shards for p in preview_shard(shard, out_dir, frames)]
    click.echo(f"wrote {len(written)} previews to {out_dir}")


@main.group()
def scenes() -> None:
    """Sample, preview and measure procedural rooms.

    Room types (--room-type): bedroom, kitchen, living_room, bathroom, dining_room, office.
    """


def _room_type_option(f):
    """``--room-type`` (parameter ``room_type``), and ``--type``, its older spelling, hidden."""
    f = click.option(
        "--type",
        "old_room_type",
        type=NamedChoice(ROOM_TYPES, "room type"),
        default=None,
        hidden=True,
        help="Deprecated spelling of --room-type.",
    )(f)
    return click.option(
        "--room-type",
        "room_type",
        type=NamedChoice(ROOM_TYPES, "room type"),
        default=None,
        help="Room type (default: drawn with NYUv2-like weights).",
    )(f)


def _one_room_type(room_type: str | None, old_room_type: str | None) -> str | None:
    if room_type is not None and old_room_type is not None and room_type != old_room_type:
        raise SynthcamError(
            f"--type {old_room_type} (the older spelling of --room-type) disagrees with --room-type "
            f"{room_type}; pass --room-type only"
        )
    return room_type or old_room_type


@contextmanager
def _echo_warnings():
    """Show library warnings (e.g. unlabelled mesh names) as one 'warning:' line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)


def _import_options(f):
    f = click.option(
        "--scale",
        type=float,
        default=1.0,
        show_default=True,
        help="Multiply imported coordinates by this (units to metres).",
    )(f)
    f = click.option(
        "--up",
        type=click.Choice(["z", "y"]),
        default="z",
        show_default=True,
        help="Up axis of the mesh files (glTF/GLB files are usually y-up).",
    )(f)
    return click.option(
        "--labels",
        "label_map",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Label map (YAML or JSON): mesh or node name, or 're:REGEX', -> NYU40 class name, plus a default.",
    )(f)


@scenes.command("sample")
@_room_type_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the room.")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output mesh (.glb, .ply or .obj); the JSON description is written next to it (.json).",
)
@click.option(
    "--add",
    "add_meshes",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A user mesh (OBJ, PLY, GLB, ...) to place in the room as well (repeatable; needs --labels).",
)
@_import_options
def scenes_sample(room_type, old_room_type, seed, out_path, add_meshes, label_map, up, scale) -> None:
    """Generate one room and export it as a mesh plus a JSON description.

    The JSON description reloads to the identical scene (`synthcam scenes preview ROOM.json`,
    `synthcam generate --scene ROOM.json`).
    """
    import numpy as np

    from scene_library.description import imported_piece
    from scene_library.rooms import generate_room

    room_type = _one_room_type(room_type, old_room_type)
    if out_path.suffix.lower() not in (".glb", ".ply", ".obj"):
        raise SynthcamError(f"--out {out_path} must end in .glb, .ply or .obj")
    if seed < 0:
        raise SynthcamError(f"seed must be >= 0, got {seed}")
    if add_meshes and label_map is None:
        raise SynthcamError("--add needs --labels LABEL_MAP (YAML or JSON) to label the imported meshes")
    with _echo_warnings():
        extra = tuple(imported_piece(m, label_map, up, scale) for m in add_meshes)
    scene = generate_room(np.random.default_rng(seed), room_type, extra=extra)
    _write_scene(scene, out_path)


def _write_scene(scene, out_path: Path) -> None:
    from scene_library.description import save_description

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        scene.to_trimesh().export(out_path)
        save_description(scene.description, out_path.with_suffix(".json"))
    except OSError as exc:
        raise SynthcamError(f"cannot write {out_path} ({exc.strerror}); choose a writable --out") from None
    d = scene.describe()
    click.echo(
        f"{d['room_type']}: {d['size_m'][0]:.2f} x {d['size_m'][1]:.2f} m, height {d['size_m'][2]:.2f} m, "
        f"{len(scene.description['objects'])} pieces, {len(scene.objects)} labelled parts, {d['triangles']} triangles"
    )
    click.echo(f"wrote {out_path} and {out_path.with_suffix('.json')}")


@scenes.command("import")
@click.argument("mesh", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output mesh (.glb, .ply or .obj) of the labelled scene; its JSON description goes next to it.",
)
@_import_options
def scenes_import(mesh, out_path, label_map, up, scale) -> None:
    """Import a whole scene from a user mesh file, labelling its parts with a label map.

    Names that no rule matches get the map's default class, with a warning listing them. The JSON
    description can be rendered with `synthcam generate --scene SCENE.json`.
    """
    from scene_library.description import build_scene, imported_scene_description

    if out_path.suffix.lower() not in (".glb", ".ply", ".obj"):
        raise SynthcamError(f"--out {out_path} must end in .glb, .ply or .obj")
    if label_map is None:
        raise SynthcamError("scenes import needs --labels LABEL_MAP (YAML or JSON) to label the mesh parts")
    with _echo_warnings():
        scene = build_scene(imported_scene_description(mesh, label_map, up, scale))
    _write_scene(scene, out_path)


@scenes.command("preview")
@click.argument("description", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_room_type_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the room when no DESCRIPTION is given.")
@click.option(
    "--views", type=click.IntRange(min=0, max=8), default=3, show_default=True, help="Rendered label views to add."
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the PNG."
)
def scenes_preview(description, room_type, old_room_type, seed, views, out_dir) -> None:
    """Draw a top-down plan (labelled footprints, door swing) and a few rendered label views.

    DESCRIPTION is a JSON file from `synthcam scenes sample`; without it a room is generated from
    --room-type and --seed.
    """
    import numpy as np

    from scene_library.description import build_scene, load_description
    from scene_library.rooms import generate_room
    from synthcam.generate import prepare_output
    from synthcam.preview import render_plan
    from synthcam.render_raycast import RaycastRenderer
    from synthcam.trajectory import sample_trajectory
    from synthcam_core.camera import Intrinsics

    room_type = _one_room_type(room_type, old_room_type)
    scene = (
        build_scene(load_description(description))
        if description
        else generate_room(np.random.default_rng(seed), room_type)
    )
    prepare_output(out_dir)
    images = []
    if views:
        cam = Intrinsics.nyuv2().scaled(320, 240)
        renderer, probe = RaycastRenderer(scene, cam), RaycastRenderer(scene, cam.scaled(64, 48))
        traj = sample_trajectory(scene, 8 * views, np.random.default_rng(seed), renderer.distance, probe.instances)
        images = [renderer.render(p, normals=False).class40 for p in traj.poses[::8]]  # spread along the walk
    stem = description.stem if description else f"{scene.room.room_type}_seed{seed}"
    path = render_plan(scene.description, out_dir / f"{stem}_plan.png", images)
    click.echo(f"wrote {path}")


@scenes.command("stats")
@click.option(
    "--per-type", type=click.IntRange(min=1), default=40, show_default=True, help="Rendered views per room type."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled rooms.")
@click.option(
    "--resolution", default="160x120", show_default=True, help="Render size WIDTHxHEIGHT (NYUv2 camera scaled)."
)
@json_option("Also write the figures as JSON")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def scenes_stats(per_type, seed, resolution, json_path, quiet) -> None:
    """Render random views of every room type and compare them with NYUv2.

    Prints NYU 13-class pixel shares next to the NYUv2 targets with their total variation distance,
    depth mean and standard deviation, objects visible per frame, and rooms generated per second.
    """
    from tqdm import tqdm

    from scene_library.rooms import ROOM_TYPES as TYPES
    from synthcam.scene_stats import format_statistics, scene_statistics
    from synthcam_core.camera import parse_resolution

    size = parse_resolution(resolution)
    check_json_target(json_path)
    with tqdm(total=per_type * len(TYPES), unit="views", desc="scenes stats", dynamic_ncols=True, disable=quiet) as bar:
        stats = scene_statistics(per_type, seed, size, on_view=bar.update)
    text_echo(json_path)(format_statistics(stats))
    if json_path is not None:
        emit_json(json_path, stats, indent=1)


from cli.evaluate import evaluate  # noqa: E402
from cli.train import train  # noqa: E402

main.add_command(train)
main.add_command(evaluate)

from cli.bench import bench  # noqa: E402

main.add_command(bench)

from cli.validate import validate  # noqa: E402

main.add_command(validate)

from cli.noise import noise  # noqa: E402
from cli.realism import realism  # noqa: E402

main.add_command(noise)
main.add_command(realism)


if __name__ == "__main__":
    main()
