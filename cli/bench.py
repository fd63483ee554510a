"""``synthcam bench``: measurements of the toolkit against its references."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from synthcam_core.errors import SynthcamError


@click.group()
def bench() -> None:
    """Benchmarks and conformance checks."""


@bench.command("noise")
@click.option("--preset", "presets", multiple=True, metavar="NAME",
              help="Noise preset to check (repeatable; default: all registered presets).")
@click.option("--resolution", default="640x480", show_default=True, help="Image size WIDTHxHEIGHT (NYUv2 camera scaled).")
@click.option("--noise-param", multiple=True, metavar="STAGE.FIELD=VALUE",
              help="Override a parameter of every checked preset, e.g. disparity.sigma_units=0.3 (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every measurement as JSON.")
def bench_noise(presets, resolution, noise_param, seed, json_path) -> None:
    """Noise conformance suite: canonical scenes (planes at 0.5-4.5 m and 0-85 deg, a step edge, a concave
    corner) measured against each preset's reference curves. Prints a table and one PASS/FAIL per check
    and per preset; exits with status 1 if any check fails."""
    import json

    from cli.noise_options import parse_noise_params
    from synthcam_core.camera import parse_resolution
    from synthcam.noise_bench import format_report, preset_passed, run_conformance, to_json

    if json_path is not None and not json_path.parent.is_dir():
        raise SynthcamError(f"--json {json_path}: directory {json_path.parent} does not exist")
    params = parse_noise_params(noise_param)
    names = list(presets) or None
    import noise_models

    results = run_conformance(names, parse_resolution(resolution), seed,
                              {n: params for n in (names or noise_models.PRESETS)} if params else None)
    click.echo(format_report(results))
    if json_path:
        json_path.write_text(json.dumps(to_json(results), indent=1) + "\n")
    if not all(preset_passed(r) for r in results.values()):
        sys.exit(1)
