"""``synthcam realism``: measure generated shards against real depth frames (thin wrapper)."""

from __future__ import annotations

import click


@click.command()
def realism() -> None:
    """Compare generated frames with real depth PNGs (being built)."""
