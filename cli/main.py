"""``synthcam``: generate, inspect and preview synthetic depth datasets.

Every command is a thin wrapper over a library function. User mistakes print one line starting with
``error:`` and exit with status 2; heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from noise_models.errors import NoiseConfigError
from scene_library.errors import SceneError
from synthcam.errors import SynthcamError

USER_ERRORS = (SynthcamError, SceneError, NoiseConfigError)


class SynthcamGroup(click.Group):
    """A click group that reports usage and user errors in one line with exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def _parse_noise_params(values: tuple[str, ...]) -> dict[str, float]:
    params = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise SynthcamError(f"--noise-param {text!r} is not of the form stage.field=value, e.g. disparity.sigma_units=0.3")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise SynthcamError(f"--noise-param {text!r}: {value!r} is not a number") from None
    return params


@click.group(cls=SynthcamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="synthcam3d", prog_name="synthcam")
def main() -> None:
    """Synthetic indoor depth frames with per-pixel NYU40 labels, for depth-only segmentation.

    Typical use: `synthcam generate --rooms 2 --frames-per-room 20 --out out/`, then
    `synthcam inspect out/` and `synthcam preview out/ --out out/previews`.
    """


@main.command()
@click.option("--rooms", type=int, required=True, help="Number of rooms; each room is one shard.")
@click.option("--frames-per-room", type=int, required=True, help="Frames along each room's camera trajectory.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output directory for the shards.")
@click.option("--seed", type=int, default=0, show_default=True, help="Master seed; the dataset is a function of the options and this seed.")
@click.option("--resolution", default="640x480", show_default=True, help="Image size WIDTHxHEIGHT (the NYUv2 camera scaled to it).")
@click.option("--noise", default="kinect_v1", show_default=True, help="Noise preset: none or kinect_v1.")
@click.option("--noise-param", multiple=True, metavar="STAGE.FIELD=VALUE", help="Override a noise parameter, e.g. disparity.sigma_units=0.3 (repeatable).")
@click.option("--room-type", "room_types", multiple=True, help="Restrict to these room types (repeatable): bedroom, living_room, office, kitchen.")
@click.option("--workers", type=int, default=None, help="Worker processes, each pinned to a core (default: one per core and at most one per room for "
              "jobs of 200 frames or more, else 1).")
def generate(rooms, frames_per_room, out_dir, seed, resolution, noise, noise_param, room_types, workers) -> None:
    """Render rooms along camera trajectories into noisy, labelled HDF5 shards.

    Writes one shard per room (room_00000.h5, ...) and dataset.json, the manifest, once all
    shards are complete. The same options and seed give identical arrays whatever --workers is.
    """
    from tqdm import tqdm

    from synthcam.camera import parse_resolution
    from synthcam.errors import SynthcamError
    from synthcam.generate import GenerateConfig, auto_workers, generate_dataset, prepare_output

    width, height = parse_resolution(resolution)
    config = GenerateConfig(rooms=rooms, frames_per_room=frames_per_room, seed=seed, width=width, height=height,
                            noise=noise, noise_params=_parse_noise_params(noise_param), room_types=tuple(room_types))
    config.validate()
    if workers is None:
        workers = auto_workers(config)
    if workers < 1:
        raise SynthcamError(f"workers must be at least 1, got {workers}")
    prepare_output(out_dir)
    start = time.perf_counter()
    with tqdm(total=rooms * frames_per_room, unit="frames", desc="generate", dynamic_ncols=True) as bar:
        paths = generate_dataset(config, out_dir, workers=workers, on_frame=bar.update)
    elapsed = time.perf_counter() - start
    frames = rooms * frames_per_room
    click.echo(f"wrote {len(paths)} shards ({frames} frames, {width}x{height}) to {out_dir} in {elapsed:.1f} s "
               f"({frames / elapsed:.1f} frames/s)")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON instead of text.")
def inspect(path, as_json) -> None:
    """Describe a shard or a directory of shards.

    Shows frame count, dataset shapes, dtypes and compression, depth statistics and invalid-pixel
    fraction, the class pixel histogram with class names, and the generating config and seed.
    """
    import json

    from synthcam.shards import find_shards
    from synthcam.summary import format_summary, summarize_shard

    summaries = [summarize_shard(p) for p in find_shards(path)]
    click.echo(json.dumps(summaries, indent=2) if as_json else format_summary(summaries))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the PNGs.")
@click.option("--frames", type=click.IntRange(min=1), default=3, show_default=True, help="Frames per shard to preview (evenly spaced).")
def preview(path, out_dir, frames) -> None:
    """Write PNG previews: clean and noisy depth side by side, and labels with a legend.

    Depth is colour-mapped (turbo) on one scale per frame; invalid pixels are white.
    """
    from synthcam.generate import prepare_output
    from synthcam.preview import preview_shard
    from synthcam.shards import find_shards

    shards = find_shards(path)
    prepare_output(out_dir)
    written = [p for shard in shards for p in preview_shard(shard, out_dir, frames)]
    click.echo(f"wrote {len(written)} previews to {out_dir}")


if __name__ == "__main__":
    main()
