"""Exceptions for user mistakes in noise configuration."""

from synthcam_core.errors import InputError


class NoiseConfigError(InputError):
    """An unknown preset or parameter, or a bad parameter value; the message lists valid choices."""
