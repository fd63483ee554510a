"""Options built from a settings dataclass, and ``--config FILE`` merged under the flags given.

A command's settings come, in rising order of precedence, from the dataclass's defaults, a config file
(``--config``), and the options given on the command line (click's parameter source tells them from
defaults). Every option that stands for a field takes its default and help text from that field
(:func:`setting`), so the dataclass is the one place they are written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from synthcam_core.config_file import field_default, field_help
from synthcam_core.errors import SynthcamError


def setting(cls: type, name: str, *decls: str, **kwargs: Any) -> Callable:
    """A click option for field ``name`` of dataclass ``cls`` (parameter name ``name``), its default and
    help taken from the field unless given; ``decls`` default to ``--field-name``."""
    default = field_default(cls, name)
    if default is not dataclasses.MISSING and "default" not in kwargs:
        kwargs["default"] = default
        kwargs.setdefault("show_default", True)
    kwargs.setdefault("help", field_help(cls, name))
    return click.option(*(decls or (f"--{name.replace('_', '-')}",)), name, **kwargs)


def config_option(command: str) -> Callable:
    """The ``--config FILE`` option of ``command`` (parameter ``config_path``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help=f"Settings from a YAML file (keys as in the config.yaml every '{command}' writes); "
        f"options given on the command line override its values.",
    )


def given(names: Iterable[str]) -> set[str]:
    """The parameters among ``names`` given on the command line (or in the environment), not defaulted."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {
        n for n in names if ctx.get_parameter_source(n) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }


def file_checked(path: Path, build: Callable[[], Any]) -> Any:
    """``build()`` (a config made of a file's values, checked); its one-line error names the file."""
    try:
        return build()
    except SynthcamError as exc:
        raise type(exc)(f"config file {path}: {exc}") from None


def merge(defaults: dict[str, Any], from_file: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """Settings of a run: ``defaults`` (the values the options hold when not given), overridden by the
    file's values, overridden by ``flags`` (the options given on the command line)."""
    return {**defaults, **from_file, **flags}
