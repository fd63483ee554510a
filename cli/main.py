"""``synthcam``: generate, inspect and preview synthetic depth datasets.

Every command is a thin wrapper over a library function. User mistakes print one line starting with
``error:`` and exit with status 2; heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.bench import bench
from cli.evaluate import evaluate
from cli.export import export
from cli.fuse import fuse
from cli.generate import generate
from cli.json_output import check_json_target, emit_json, json_option
from cli.noise import noise
from cli.realism import realism
from cli.scenes import scenes
from cli.train import train
from cli.validate import validate
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


for command in (generate, scenes, train, evaluate, bench, validate, noise, realism, export, fuse):
    main.add_command(command)


if __name__ == "__main__":
    main()
