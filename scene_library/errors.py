"""Exceptions raised by the scene library for user mistakes (bad names, bad parameters)."""

from synthcam_core.errors import InputError


class SceneError(InputError):
    """A scene request that cannot be met; the message says what to change."""
