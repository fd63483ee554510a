"""Exceptions raised by the scene library for user mistakes (bad names, bad parameters)."""


class SceneError(ValueError):
    """A scene request that cannot be met; the message says what to change."""
