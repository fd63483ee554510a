"""Options shared by the commands that read a folder of real depth frames (``realism``, ``noise fit``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from cli.choices import REAL_KINDS


def real_folder_options(f: Callable) -> Callable:
    """Add ``--real`` (``real_dir``), ``--real-depth`` (``real_depth``) and ``--intrinsics`` to a command."""
    f = click.option(
        "--intrinsics",
        default=None,
        metavar="NAME|fx,fy,cx,cy",
        help="Camera of the real frames: nyuv2, sunrgbd_kv2 or fx,fy,cx,cy in pixels "
        "(default: intrinsics.yaml beside the PNGs).",
    )(f)
    f = click.option(
        "--real-depth",
        type=click.Choice(REAL_KINDS),
        default="raw",
        show_default=True,
        help="Which real depth to match: the raw sensor depth or the filled depth.",
    )(f)
    return click.option(
        "--real",
        "real_dir",
        type=click.Path(path_type=Path),
        required=True,
        help="Folder of real depth PNGs (uint16 mm: NAME_raw.png or NAME.png raw, NAME_depth.png "
        "filled, NAME_label13.png labels).",
    )(f)
