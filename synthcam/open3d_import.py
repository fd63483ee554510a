"""Open3D, imported only where it is used (its import costs a second and needs ``libusb-1.0-0``)."""

from __future__ import annotations

from synthcam_core.errors import SynthcamError


def import_open3d():
    """The ``open3d`` module; a missing system library becomes an error that says what to install."""
    try:
        import open3d
    except ImportError as exc:  # e.g. libusb-1.0.so.0 missing
        if isinstance(exc.__cause__, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt):
            # Ctrl-C or SIGTERM while its extension initialised: not a missing library.
            raise KeyboardInterrupt from None
        raise SynthcamError(
            f"open3d cannot be imported ({exc}); run scripts/setup.sh or install libusb-1.0-0"
        ) from None
    return open3d
