"""Options that only some datasets read: given for another dataset they would be silently ignored."""

from __future__ import annotations

from collections.abc import Mapping

import click

from synthcam_core.errors import SynthcamError


def refuse_ignored_options(dataset: str, applies_to: Mapping[str, tuple[str, ...]]) -> None:
    """One-line error when an option of ``applies_to`` (parameter name -> the datasets it changes) was given
    on the command line for a ``dataset`` that ignores it."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    for name, kinds in applies_to.items():
        if dataset not in kinds and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            raise SynthcamError(
                f"--{name.replace('_', '-')} applies to --dataset {', '.join(kinds)}; leave it out "
                f"for --dataset {dataset}"
            )
