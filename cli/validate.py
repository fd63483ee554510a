"""``synthcam validate``: check every shard of a dataset and name each bad one."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="Print only the bad shards, not the closing summary.")
def validate(path, quiet) -> None:
    """Check a dataset directory (or one shard) completely.

    Verifies format version, layout and sizes, the header checksum (attributes, names, label
    tables, intrinsics, poses), the checksum of every frame, value ranges (class and instance ids,
    rigid poses, timestamps, intrinsics), and manifest.json (format, config, frame counts, class
    pixel totals, plain file names), and names missing, extra or partial shards. Prints one line per
    bad shard ('NAME: problem') and exits with status 1 if there is any, 0 if all are good; a path
    that holds no dataset is an error (exit 2).
    """
    from synthcam_shards.validate import validate_path

    report = validate_path(path)
    for problem in report.problems:
        click.echo(str(problem))
    if not quiet:
        if report.ok:
            click.echo(f"ok: {report.shards} shards, {report.frames} frames, every checksum verified ({path})")
        else:
            click.echo(
                f"{len(report.problems)} problem(s) in {path}; regenerate the bad shards with 'synthcam generate'"
            )
    if not report.ok:
        sys.exit(1)
