"""The names the command line offers as ``click.Choice`` lists, as small constant tuples.

The registries themselves (:data:`noise_models.PRESETS`, :data:`synthcam.render.RENDERERS`,
:data:`scene_library.rooms.ROOM_TYPES`, :data:`synthcam_core.real_frames.CAMERAS`,
:data:`segnet.encodings.ENCODINGS`, :data:`segnet.models.MODELS`, ...) live in modules that import numpy,
Open3D or torch; ``synthcam --help`` must not (it stays under 0.3 s). tests/test_config_files.py checks
that every tuple here equals its registry, so a name added there and not here fails a test.
"""

from __future__ import annotations

import click

NOISE_PRESETS = ("none", "kinect_v1", "kinect_v1_filled", "kinect_v1_dots", "redwood", "kinect_v2", "d435")
"""Keys of :data:`noise_models.PRESETS`."""
RENDERERS = ("auto", "raycast", "gl", "pyrender")
"""Keys of :data:`synthcam.render.RENDERERS`."""
ROOM_TYPES = ("bedroom", "kitchen", "living_room", "bathroom", "dining_room", "office")
""":data:`scene_library.rooms.ROOM_TYPES`."""
CAMERAS = ("nyuv2", "sunrgbd_kv2")
"""Keys of :data:`synthcam_core.real_frames.CAMERAS`."""
ENCODINGS = ("D", "DH", "DHA", "HHA")
"""Keys of :data:`segnet.encodings.ENCODINGS`."""
CAMERA_HEIGHTS = ("estimated", "true")
""":data:`segnet.encodings.CAMERA_HEIGHTS`."""
MODELS = ("segnet", "segnet-basic")
"""Keys of :data:`segnet.models.MODELS`."""
CLASS_SPACES = (13, 37, 40)
""":data:`synthcam_core.sample.CLASS_SPACES`."""
REAL_KINDS = ("raw", "filled")
""":data:`synthcam_core.real_frames.KINDS`: which depth of a folder of real frames to read."""
FLOW_FORMATS = ("flo", "kitti")
""":data:`synthcam.flow_files.FORMATS`: the files ``synthcam export flow`` writes."""


class NamedChoice(click.Choice):
    """A ``click.Choice`` whose refusal reads like the library's: ``unknown WHAT 'x'; valid: a, b, c``."""

    def __init__(self, choices, what: str, **kwargs) -> None:
        super().__init__(choices, **kwargs)
        self.what = what

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(
                f"unknown {self.what} {str(value)[:60]!r}; valid: {', '.join(map(str, self.choices))}", param, ctx
            )
