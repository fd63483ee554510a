"""Clean frames to fit noise on: a few generated rooms rendered through a real camera, held in memory.

The rooms and camera trajectories are those ``synthcam generate`` would make for the same seed
(:func:`synthcam.room_shard.plan_room`); each room is then rendered with the real folder's intrinsics
(image size and focal lengths) instead of the NYUv2 camera, keeping every ``stride``-th pose so that the
few frames of a room show different views (poses are 0.4 s apart along the walk).
"""

from __future__ import annotations

from collections.abc import Callable

from synthcam.generate_config import GenerateConfig
from synthcam.render import RENDERERS, make_renderer
from synthcam.room_shard import plan_room
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.frame import Frame

POSE_STRIDE = 5
"""Every 5th pose of a room's walk is rendered: views 2 s apart (about 0.6 m of walking)."""
_PLAN_SIZE = (64, 48)
"""Image size of the config that plans rooms: its own renderer is not used, so the cheapest size (the
trajectory probe renders at 64x48 whatever the size)."""


def render_clean_frames(
    intrinsics: Intrinsics,
    rooms: int,
    frames_per_room: int,
    seed: int = 0,
    renderer: str = "raycast",
    normals: bool = False,
    incidence: bool = False,
    room_types: tuple[str, ...] = (),
    stride: int = POSE_STRIDE,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[Frame, ...]:
    """``rooms * frames_per_room`` clean rendered frames (depth, class40 labels, and normals or the
    incidence angle when asked) of rooms ``0 .. rooms - 1`` of a dataset with master ``seed``, seen through
    ``intrinsics``. Deterministic: the same arguments give the same frames. ``on_frame(1)`` after each.
    Raises :class:`~synthcam_core.errors.SynthcamError` for bad counts, seed or renderer (as generate does).
    """
    config = GenerateConfig(
        rooms=rooms,
        frames_per_room=frames_per_room * stride,
        seed=seed,
        width=_PLAN_SIZE[0],
        height=_PLAN_SIZE[1],
        noise="none",
        renderer="raycast",
        room_types=tuple(room_types),
    )
    config.validate()
    if renderer not in RENDERERS:
        raise SynthcamError(f"unknown renderer {renderer!r}; valid renderers: {', '.join(RENDERERS)}")
    frames = []
    for index in range(rooms):
        plan = plan_room(config, index)
        camera = make_renderer(renderer, plan.scene, intrinsics)
        for pose in plan.trajectory.poses[stride - 1 :: stride][:frames_per_room]:
            frames.append(camera.render(pose, normals=normals, incidence=incidence))
            if on_frame is not None:
                on_frame(1)
    return tuple(frames)
