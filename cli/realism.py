"""``synthcam realism``: measure generated shards against real depth frames (thin wrapper)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli.json_output import (
    check_json_out,  # noqa: F401  (cli/evaluate.py imports it from here until it moves)
    check_json_target,
    emit_json,
    json_option,
    same_place,
    text_echo,
)
from cli.real_options import real_folder_options
from synthcam_core.errors import SynthcamError


def _make_plot_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthcamError(f"--plots {path} cannot be created ({exc.strerror}); pass a writable folder") from None
    if not os.access(path, os.W_OK):
        raise SynthcamError(f"--plots {path} cannot be written (permission denied); pass a writable folder")


@click.command()
@click.argument("generated", type=click.Path(path_type=Path))
@real_folder_options
@click.option(
    "--depth",
    type=click.Choice(["noisy", "clean"]),
    default="noisy",
    show_default=True,
    help="Which generated depth to judge: the noisy sensor depth or the clean rendered depth.",
)
@click.option(
    "--labels", is_flag=True, help="Also compare 13-class shares (over the real frames with a NAME_label13.png)."
)
@click.option(
    "--max-frames",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Generated frames read at most, spread evenly over the shards.",
)
@json_option("Write the report and both sides' statistics as JSON")
@click.option(
    "--plots",
    "plot_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write one PNG per measure (both sides' distributions) and overview.png to this folder.",
)
@click.option("--check", is_flag=True, help="Exit with status 1 when any measure is outside its tolerance.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def realism(
    generated, real_dir, real_depth, depth, intrinsics, labels, max_frames, json_path, plot_dir, check, quiet
) -> None:
    """Compare generated frames (a dataset directory or one shard) with real depth PNGs.

    Measures both sides alike and prints one row per measure: each side's summary, the distance
    between the two distributions, its tolerance and whether it lies within. The summaries: missing
    (missing pixels, %), missing_by_depth (missing where the reference is beyond 3 m, %),
    missing_by_edge_distance (missing within 4 px of an edge, %), missing_border (missing in the
    10 % border bands, %), hole_sizes (median hole, % of the image), depth_histogram (mean valid
    depth, m), local_noise (mean |second difference|, mm), depth_steps (equal-depth neighbours, %),
    normal_angle (mean normal-to-ray angle, degrees), class_shares with --labels (wall share, %).
    The reference depth is the generated clean depth and the real filled depth (NAME_depth.png);
    without one the measures by depth and by edge distance are left out. Bad input exits with
    status 2.
    """
    from tqdm import tqdm

    from synthcam.realism import compare, measure_frames
    from synthcam.realism.sources import real_source, shard_source
    from synthcam_core.real_frames import open_real_folder

    check_json_target(json_path)
    echo = text_echo(json_path)
    if plot_dir is not None:
        if same_place(plot_dir, real_dir):  # plot PNGs there would be read as raw frames next time
            raise SynthcamError(f"--plots {plot_dir} is the real folder; pass another folder for the plots")
        _make_plot_dir(plot_dir)
    real = real_source(open_real_folder(real_dir, real_depth, intrinsics), labels=labels)
    gen = shard_source(generated, depth=depth, labels=labels, max_frames=max_frames)
    bar = tqdm(
        total=gen.count + real.count, unit="frames", desc="realism", dynamic_ncols=True, file=sys.stderr, disable=quiet
    )
    try:
        gen_stats = measure_frames(_counted(gen, bar), gen.intrinsics)
        real_stats = measure_frames(_counted(real, bar), real.intrinsics)
    except BaseException:
        bar.leave = False  # a damaged frame found while measuring: the bar is cleared, the error line stays alone
        raise
    finally:
        bar.close()
    report = compare(gen_stats, real_stats)
    echo(f"generated: {gen_stats.frames} frames {gen_stats.size[0]}x{gen_stats.size[1]} ({depth} depth) of {generated}")
    echo(
        f"real:      {real_stats.frames} frames {real_stats.size[0]}x{real_stats.size[1]} "
        f"({real_depth} depth) of {real_dir}"
    )
    echo(report.table())
    if labels and real.labelled < real.count:
        echo(f"class shares of the real side from its {real.labelled} labelled frames of {real.count}")
    if report.left_out:
        echo(f"left out (one side lacks a reference depth or labels): {', '.join(report.left_out)}")
    if json_path is not None:
        data = {
            "generated_path": str(generated),
            "real_path": str(real_dir),
            "depth": depth,
            "real_depth": real_depth,
            "report": report.to_dict(),
            "generated": gen_stats.to_dict(),
            "real": real_stats.to_dict(),
        }
        emit_json(json_path, data, indent=None)  # a file: never half-written
        if json_path != "-":
            echo(f"wrote {json_path}")
    if plot_dir is not None:
        from synthcam.realism.plots import plot_report

        try:
            written = plot_report(gen_stats, real_stats, report, plot_dir)
        except OSError as exc:
            raise SynthcamError(
                f"--plots {plot_dir} cannot be written ({exc.strerror}); pass a writable folder"
            ) from None
        echo(f"wrote {len(written)} plots to {plot_dir}")
    if check and not report.ok:
        sys.exit(1)


def _counted(frames, bar):
    for frame in frames:
        yield frame
        bar.update(1)
