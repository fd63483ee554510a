"""The project exception raised by the real-dataset readers."""

from synthcam_core.errors import SynthcamError


class DatasetError(SynthcamError):
    """A dataset path, file or option that cannot be read; the message names the file and what to do."""
