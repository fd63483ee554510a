"""Camera, trajectories, renderer backends, the HDF5 shard format and the generation driver."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthcam3d")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
