"""``synthcam bench``: measurements of the toolkit against its references."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.choices import NOISE_PRESETS, NamedChoice
from cli.json_output import check_json_target, emit_json, json_option, text_echo


@click.group()
def bench() -> None:
    """Benchmarks and conformance checks."""


@bench.command("noise")
@click.option(
    "--preset",
    "presets",
    multiple=True,
    type=NamedChoice(NOISE_PRESETS, "noise preset"),
    help="Noise preset to check (repeatable; default: all registered presets).",
)
@click.option(
    "--resolution", default="640x480", show_default=True, help="Image size WIDTHxHEIGHT (NYUv2 camera scaled)."
)
@click.option(
    "--noise-param",
    multiple=True,
    metavar="STAGE.FIELD=VALUE",
    help="Override a parameter of every checked preset, e.g. disparity.sigma_units=0.3 (repeatable).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
@json_option("Also write every measurement as JSON")
@click.option("--quiet", is_flag=True, help="Print only one PASS/FAIL line per preset.")
def bench_noise(presets, resolution, noise_param, seed, json_path, quiet) -> None:
    """Noise conformance suite: canonical scenes (planes at 0.5-4.5 m and 0-85 deg, a step edge, a concave
    corner) measured against each preset's reference curves. Prints a table and one PASS/FAIL per check
    and per preset; exits with status 1 if any check fails."""
    from cli.noise_options import parse_noise_params
    from synthcam.noise_bench import format_report, preset_passed, run_conformance, to_json
    from synthcam_core.camera import parse_resolution

    check_json_target(json_path)
    params = parse_noise_params(noise_param)
    names = list(presets) or None
    import noise_models

    results = run_conformance(
        names,
        parse_resolution(resolution),
        seed,
        {n: params for n in (names or noise_models.PRESETS)} if params else None,
    )
    if quiet:
        report = "\n".join(f"{'PASS' if preset_passed(r) else 'FAIL'}  {name}" for name, r in results.items())
    else:
        report = format_report(results)
    text_echo(json_path)(report)
    if json_path is not None:
        emit_json(json_path, to_json(results), indent=1)
    if not all(preset_passed(r) for r in results.values()):
        sys.exit(1)


@bench.command("flow")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--k",
    "steps",
    multiple=True,
    type=click.IntRange(1, 100),
    help="Frame distance to propagate labels over (repeatable; default: 1, 5 and 10).",
)
@click.option(
    "--frames",
    type=click.IntRange(min=2),
    default=None,
    help="Read at most this many frames of each shard, from its start (default: all).",
)
@json_option("Also write the figures as JSON")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def bench_flow(path, steps, frames, json_path, quiet) -> None:
    """Check a dataset's optical flow (generated with --flow) on its own frames.

    Label propagation: each frame's labels are carried along the stored flow to the frame k later and
    compared with its rendered labels (accuracy over the pixels a label reached: the flow and its occlusion
    mask). Depth warp: the next frame's clean depth, sampled along the flow and moved into the frame's
    camera by the poses, against the frame's own clean depth (median and 95th percentile, mm).
    """
    from tqdm import tqdm

    from synthcam.flow_bench import DEFAULT_STEPS, flow_bench, format_report
    from synthcam.flow_export import flow_shards

    check_json_target(json_path)
    total = sum(n if frames is None else min(n, frames) for _, n in flow_shards(path))  # refuses a shard without flow
    with tqdm(total=total, unit="frames", desc="bench flow", dynamic_ncols=True, disable=quiet, leave=False) as bar:
        report = flow_bench(path, steps or DEFAULT_STEPS, frames, bar.update)
    text_echo(json_path)(format_report(report))
    if json_path is not None:
        emit_json(json_path, report.to_json(), indent=1)


@bench.command("fusion")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A trained 13-class depth-only SegNet (default: train a small one on generated rooms first).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    default=None,
    help="Test sequences: a dataset generated with kinect_v1 noise (default: generate --test-rooms rooms).",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the generated datasets and the training run, kept and reused (default: a temporary one).",
)
@click.option("--test-rooms", type=click.IntRange(1, 100), default=2, show_default=True, help="Test rooms.")
@click.option("--test-frames", type=click.IntRange(2, 2000), default=60, show_default=True, help="Frames per room.")
@click.option("--resolution", default="320x240", show_default=True, help="Test frames' size WIDTHxHEIGHT.")
@click.option("--train-rooms", type=click.IntRange(1, 1000), default=12, show_default=True, help="Training rooms.")
@click.option("--epochs", type=click.IntRange(1, 100), default=4, show_default=True, help="Training epochs.")
@click.option("--voxel-size", type=float, default=0.02, show_default=True, help="Voxel side, metres.")
@click.option("--trunc", type=float, default=0.08, show_default=True, help="TSDF truncation distance, metres.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the datasets and the training.")
@json_option("Also write the figures as JSON")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def bench_fusion(
    checkpoint, data, work, test_rooms, test_frames, resolution, train_rooms, epochs, voxel_size, trunc, seed,
    json_path, quiet,
) -> None:  # fmt: skip
    """Semantic segmentation in the loop of reconstruction: per-frame network accuracy against the same
    labels fused into a 3D map and re-projected, 3D accuracy of the map against the rooms' true surfaces, and
    the fusion of ground-truth labels (clean and noisy depth) as the ceiling. Trains a small depth-only
    SegNet on generated rooms first unless --checkpoint is given (minutes on a CPU)."""
    import tempfile

    from cli.fusion_bench import BenchSettings, format_report, run_fusion_bench
    from segnet.fusion.pipeline import check_fusion_options
    from synthcam_core.camera import parse_resolution

    check_json_target(json_path)
    check_fusion_options(voxel_size, trunc)
    settings = BenchSettings(
        test_rooms=test_rooms,
        test_frames=test_frames,
        resolution=parse_resolution(resolution),
        train_rooms=train_rooms,
        epochs=epochs,
        voxel_size=voxel_size,
        trunc=trunc,
        seed=seed,
    )
    echo = text_echo(json_path)
    with tempfile.TemporaryDirectory(prefix="synthcam-bench-fusion-") as tmp:
        report = run_fusion_bench(Path(work) if work else Path(tmp), settings, checkpoint, data, quiet, echo)
    echo(format_report(report))
    if json_path is not None:
        emit_json(json_path, report, indent=1)
