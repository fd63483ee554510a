"""``--json PATH`` on every command that reports figures: the file to write them to, ``-`` for standard output.

With ``--json -`` the JSON is the only thing on standard output; the command's text report goes to
standard error (:func:`text_echo`). A file target is checked before any work (:func:`check_json_target`)
and written whole or not at all (:func:`emit_json`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from synthcam_core.errors import SynthcamError

STDOUT = "-"


def json_option(help: str) -> Callable:
    """The ``--json PATH`` option (parameter ``json_path``: a str, ``-`` or None)."""
    return click.option(
        "--json",
        "json_path",
        type=click.Path(dir_okay=False, allow_dash=True),
        default=None,
        metavar="PATH",
        help=f"{help} ('-': to standard output, the text report then to standard error).",
    )


def to_stdout(json_path: str | None) -> bool:
    return json_path == STDOUT


def text_echo(json_path: str | None) -> Callable[..., None]:
    """``click.echo`` for the text report: to standard error when the JSON takes standard output."""
    return functools.partial(click.echo, err=to_stdout(json_path))


def same_place(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (False if either cannot be resolved)."""
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def check_json_out(path: Path, option: str = "--json") -> None:
    """Refuse an existing, non-empty ``path`` that does not hold a JSON object: a report never replaces a
    checkpoint, shard, PNG or YAML file named by mistake."""
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
        if not head.startswith(b"{") and not head.startswith(b"["):
            raise SynthcamError(
                f"{option} {path} exists and is not a JSON file; it is never overwritten, choose another {option}"
            )


def check_json_target(json_path: str | None, option: str = "--json") -> None:
    """Refuse, before anything is measured, an output file that cannot be written (nothing for ``-``)."""
    if json_path is None or to_stdout(json_path):
        return
    path = Path(json_path)
    parent = path.parent
    if path.is_dir():
        raise SynthcamError(f"{option} {path} is a directory; pass a file name, e.g. {path / 'report.json'}")
    if not parent.is_dir():
        raise SynthcamError(f"{option} {path}: folder {parent} does not exist; create it or pass another path")
    if path.exists() and not path.is_file():  # a pipe would block the write at the end
        raise SynthcamError(f"{option} {path} is not a regular file (a pipe or device); pass a file name")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SynthcamError(f"{option} {path} cannot be written (permission denied); pass a writable path")
    check_json_out(path, option)


def emit_json(json_path: str, data: Any, indent: int | None = 1) -> None:
    """``data`` as JSON to standard output (``-``) or to the file, atomically."""
    from synthcam_core.atomic_file import write_json

    if to_stdout(json_path):
        click.echo(json.dumps(data, indent=indent))
        return
    write_json(json_path, data, indent=indent)
