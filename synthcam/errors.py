"""Project exceptions for user mistakes; the CLI prints their message in one line and exits 2."""


class SynthcamError(Exception):
    """A user-facing error whose message says what to do."""


class ShardError(SynthcamError):
    """A file that is not a readable shard of a supported format version."""
