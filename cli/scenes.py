"""``synthcam scenes``: sample, import, preview and measure procedural rooms (thin wrappers)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from cli.choices import ROOM_TYPES, NamedChoice
from cli.json_output import check_json_target, emit_json, json_option, text_echo
from synthcam_core.errors import SynthcamError


@click.group()
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
    assert scene.description is not None  # build_scene (also behind generate_room) records it
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
