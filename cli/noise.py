"""``synthcam noise``: sensor noise models (thin wrappers)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.choices import NOISE_PRESETS, RENDERERS, NamedChoice
from cli.json_output import check_json_target, emit_json, json_option, same_place, text_echo
from cli.real_options import real_folder_options


@click.group()
def noise() -> None:
    """Sensor noise models: fit a preset to a folder of real frames."""


@noise.command("fit")
@real_folder_options
@click.option(
    "--preset", type=NamedChoice(NOISE_PRESETS, "noise preset"), required=True, help="Noise preset to start from."
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Noise file to write (.yaml, .yml or .json), for 'synthcam generate --noise-file'.",
)
@click.option(
    "--param",
    "param_specs",
    multiple=True,
    metavar="STAGE.FIELD[=LO:HI]",
    help="Fit this parameter (repeatable; default: the preset's registered ones), within LO:HI or its default bounds.",
)
@click.option(
    "--rooms",
    type=click.IntRange(1, 100),
    default=6,
    show_default=True,
    help="Generated rooms rendered through the real camera.",
)
@click.option(
    "--frames-per-room", type=click.IntRange(1, 100), default=4, show_default=True, help="Frames rendered in each room."
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the rooms and of the noise draws."
)
@click.option(
    "--max-evals",
    type=click.IntRange(2, 100_000),
    default=150,
    show_default=True,
    help="Most evaluations of the realism distance (each adds noise to every frame and measures it).",
)
@click.option(
    "--renderer",
    type=click.Choice(RENDERERS),
    default="raycast",
    show_default=True,
    help="Renderer of the clean frames.",
)
@click.option(
    "--measures",
    default="",
    metavar="NAME,...",
    help="Realism measures whose distances the fit sums (default: every row of the realism report).",
)
@json_option("Also write the fit (parameters, distances, realism rows before and after, seconds) as JSON")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing --out, only if it is a noise file written by 'synthcam noise fit'.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def fit(
    real_dir,
    preset,
    out_path,
    real_depth,
    intrinsics,
    param_specs,
    rooms,
    frames_per_room,
    seed,
    max_evals,
    renderer,
    measures,
    json_path,
    overwrite,
    quiet,
) -> None:
    """Fit a noise preset's parameters to real depth frames and write a noise file.

    Renders a few generated rooms through the real camera, adds the preset's noise with fixed random
    draws, and searches the parameters (SciPy's Powell method, within bounds) that minimise the realism
    distance to the real frames (as 'synthcam realism' scores it). The same inputs give the same file.
    Prints the realism table before and after; progress goes to stderr.
    """
    from tqdm import tqdm

    from synthcam.noise_file import NoiseFile, check_noise_out, write_noise_file
    from synthcam.noise_fit import (
        check_clean_memory,
        fit_measures,
        fit_record,
        fit_to_folder,
        measure_real,
        parse_fit_params,
    )
    from synthcam_core.errors import SynthcamError
    from synthcam_core.real_frames import open_real_folder

    params = parse_fit_params(preset, param_specs)
    folder = open_real_folder(real_dir, real_depth, intrinsics)
    chosen = fit_measures([m.strip() for m in measures.split(",") if m.strip()], folder)
    check_noise_out(out_path, overwrite)
    if json_path not in (None, "-") and same_place(Path(json_path), out_path):
        raise SynthcamError(f"--json {json_path} is the --out noise file; pass another path for the JSON record")
    check_json_target(json_path)
    echo = text_echo(json_path)
    check_clean_memory(folder, preset, rooms, frames_per_room)
    real = measure_real(folder)  # before any output: a damaged real frame is the only line printed
    click.echo(
        f"fitting {', '.join(p.key for p in params)} of {preset} to {len(folder)} {real_depth} frames in {folder.path}",
        err=True,
    )
    with tqdm(
        total=rooms * frames_per_room, unit="frames", desc="render", dynamic_ncols=True, file=sys.stderr, disable=quiet
    ) as bar:
        bars = [bar]

        def rendered(n: int) -> None:
            bars[0].update(n)

        def evaluated(distance: float, best: float) -> None:
            if bars[0] is bar:
                bar.close()
                bars[0] = tqdm(
                    total=max_evals, unit="evals", desc="fit", dynamic_ncols=True, file=sys.stderr, disable=quiet
                )
            bars[0].set_postfix(distance=f"{distance:.3f}", best=f"{best:.3f}", refresh=False)
            bars[0].update(1)

        try:
            result = fit_to_folder(
                folder,
                preset,
                params,
                rooms,
                frames_per_room,
                seed,
                max_evals,
                renderer,
                chosen,
                on_frame=rendered,
                on_eval=evaluated,
                real=real,
            )
        except BaseException:
            bars[0].leave = False  # cleared: the error line follows the 'fitting' line
            raise
        finally:
            bars[0].close()
    record = fit_record(result, folder, rooms, frames_per_room, seed, max_evals, renderer, chosen)
    write_noise_file(
        out_path,
        NoiseFile(preset, dict(result.fitted), record),
        comment=f"written by synthcam noise fit: preset {preset} fitted to the {real_depth} depth in "
        f"{record['real']}\nuse it with: synthcam generate --noise-file THIS_FILE ...",
    )
    for title, distance, report in (
        ("before (preset {preset} defaults)", result.distance_before, result.before),
        ("\nafter (fitted)", result.distance_after, result.after),
    ):
        over = f" over {', '.join(chosen)} (all rows {report.score():.3f})" if chosen else ""
        echo(f"{title.format(preset=preset)}: distance {distance:.3f}{over}")
        echo(report.table())
    fitted = ", ".join(f"{k}={v:g} (was {result.start[k]:g})" for k, v in result.fitted.items())
    echo(f"\nfitted {fitted}\n{result.evaluations} evaluations in {result.seconds:.1f} s; wrote {out_path}")
    if json_path is not None:
        data = {
            **record,
            "preset": preset,
            "params": dict(result.fitted),
            "seconds": round(result.seconds, 3),
            "before": result.before.to_dict(),
            "after": result.after.to_dict(),
        }
        emit_json(json_path, data, indent=2)
