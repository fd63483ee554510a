"""``synthcam noise``: sensor noise models (thin wrappers)."""

from __future__ import annotations

import click


@click.group()
def noise() -> None:
    """Sensor noise models: fit a preset to a folder of real frames."""
