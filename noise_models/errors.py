"""Exceptions for user mistakes in noise configuration."""


class NoiseConfigError(ValueError):
    """An unknown preset or parameter, or a bad parameter value; the message lists valid choices."""
