"""The project's one error root: every user mistake raises a :class:`SynthcamError` subclass whose message says
what to do; the CLI prints that message in one line and exits 2. Packages derive their own errors from it
(``scene_library.errors.SceneError``, ``noise_models.errors.NoiseConfigError``,
``segnet.datasets.errors.DatasetError``)."""


class SynthcamError(Exception):
    """A user-facing error whose message says what to do."""


class InputError(SynthcamError, ValueError):
    """A bad name or value in a request (an unknown class, preset or parameter); the message lists valid choices."""


class ShardError(SynthcamError):
    """A file that is not a readable shard of a supported format version."""
