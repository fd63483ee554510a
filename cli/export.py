"""``synthcam export``: a dataset's stored ground truth in the file formats other tools read."""

from __future__ import annotations

from pathlib import Path

import click

from cli.choices import FLOW_FORMATS, NamedChoice


@click.group()
def export() -> None:
    """Write a dataset's ground truth in other tools' file formats."""


@export.command("flow")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the files."
)
@click.option(
    "--format",
    "fmt",
    type=NamedChoice(FLOW_FORMATS, "flow format"),
    default="flo",
    show_default=True,
    help="flo: Middlebury .flo (float32, unknown = 1e10); kitti: KITTI 16-bit PNG (u, v * 64 + 2^15, valid).",
)
@click.option("--overwrite", is_flag=True, help="Replace files of the same names already in --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_flow_command(path, out_dir, fmt, overwrite, quiet) -> None:
    """Export the forward optical flow of every frame of a dataset generated with --flow.

    One file per frame that has a next frame, SHARD_FRAME.flo or .png (room_00003_00012.flo): the flow of
    the frame to the next one of its trajectory, in pixels. Pixels hidden in the next frame or leaving it are
    written as unknown (.flo) or invalid (KITTI). Files are written whole or not at all.
    """
    from tqdm import tqdm

    from synthcam.flow_export import export_flow, plan_export
    from synthcam.output_dir import prepare_output

    targets = plan_export(path, out_dir, fmt, overwrite)
    prepare_output(out_dir)  # creates --out if needed; never removes anything in it
    with tqdm(total=len(targets), unit="frames", desc="export", dynamic_ncols=True, disable=quiet, leave=False) as bar:
        written = export_flow(targets, fmt, bar.update)
    click.echo(f"wrote {len(written)} flow files ({fmt}) to {out_dir}")
