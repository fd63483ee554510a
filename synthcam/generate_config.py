"""What determines a dataset: :class:`GenerateConfig`, its limits, the hashes of its input files, and how
room ``i`` is named (:func:`shard_name`) and seeded (:func:`room_seed`).

Limits (checked before any work, see :meth:`GenerateConfig.validate`): :data:`MAX_ROOMS`,
:data:`MAX_FRAMES_PER_ROOM`, :data:`MAX_SEED`, the image size of :func:`synthcam_core.camera.check_resolution`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from synthcam_core.errors import SynthcamError

if TYPE_CHECKING:
    import numpy as np

    from synthcam_core.camera import Intrinsics

# Light at import (``synthcam --help`` builds its options from :class:`GenerateConfig`): numpy, the noise
# models, the scene library, the renderers and the shard format are imported by the functions that use them.

MAX_ROOMS = 40_000
"""Most rooms (one shard each) in one dataset. ``manifest.json`` lists every shard on a line with its class
pixel counts, at most 682 bytes at the largest frame counts and image sizes, and readers load it whole
(at most :data:`synthcam_shards.manifest.MAX_MANIFEST_BYTES`, 32 MiB); 40,000 such lines are 26 MiB. 40,000 rooms
is more than twice SceneNet RGB-D's 16,895 trajectories."""
MAX_FRAMES_PER_ROOM = 100_000
"""Most frames along one room's trajectory (one shard): what a shard may hold; a shard keeps its poses,
checksums and class counts in memory while it is written."""
MAX_SEED = 2**63 - 1
"""Largest master seed: every shard stores it as a signed 64-bit integer."""


SIMULATION_HZ = 25.0
"""Rate (Hz) at which the camera walk is simulated (:class:`synthcam.walk.WalkParams` ``rate_hz``); a
frame is every :func:`steps_per_frame` steps."""
FRAME_RATE_EXAMPLES = "25, 12.5, 5, 2.5 or 1"
"""Frame rates named by the error for one that is not a whole number of simulation steps."""

DEFAULT_CAMERA = "nyuv2"
"""The camera of generated frames unless a config names another (a key of
:data:`synthcam_core.real_frames.CAMERAS`)."""
ASPECT_TOLERANCE_PX = 1.0
"""An image size whose aspect ratio is within this many pixels of the camera's (the rounding of a side to
whole pixels) resamples the camera (:meth:`~synthcam_core.camera.Intrinsics.scaled`); any other is
scaled uniformly and centre-cropped (:func:`camera_at`), never stretched."""


def _setting(default, help: str, **kw):
    """A field with its command-line help text (``synthcam`` builds its options from these)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=type(default), metadata={"help": help}, **kw)
    return field(default=default, metadata={"help": help}, **kw)


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset.

    rooms, frames_per_room : counts, 1 .. :data:`MAX_ROOMS` and 1 .. :data:`MAX_FRAMES_PER_ROOM`.
    seed : master seed, 0 .. :data:`MAX_SEED`.
    width, height : image size in pixels, see :func:`~synthcam_core.camera.check_resolution`.
    noise, noise_params : a :mod:`noise_models` preset and ``"stage.field" -> value`` overrides (finite numbers).
    renderer : a backend name from :data:`synthcam.render.RENDERERS`.
    room_types : room types to draw from (all, with NYUv2-like weights, when empty).
    scene : path of a scene description to render in every room instead of generated rooms ("" = none).
    camera : a named camera of :data:`synthcam_core.real_frames.CAMERAS`, brought to width x height by
        :func:`camera_at` (resampled, or scaled uniformly and centre-cropped where the aspect ratios differ).
    camera_intrinsics : ``(fx, fy, cx, cy)`` in pixels of the width x height image, instead of ``camera``
        (() = none).
    flow : store the forward optical flow of every frame to the next (format version 3 shards).
    frame_rate : frames per second of the exported video (Hz); the walk is simulated at
        :data:`SIMULATION_HZ`, so ``SIMULATION_HZ / frame_rate`` must be a whole number of steps
        (:func:`steps_per_frame`).
    clip_length : frames come in clips of this many consecutive frames with no gap; a multiple of it
        makes ``frames_per_room``.
    inputs : ``{absolute path: sha256 hex}`` of every input file (the scene description and the files it
        references), filled in by :meth:`with_inputs`; part of the config, so a resumed run never mixes
        shards made from different inputs.

    :meth:`to_dict` leaves out ``camera`` and ``camera_intrinsics`` at their defaults, so the config stored in
    shards and ``manifest.json`` (and so the bytes a seed gives) is what it was before they existed.
    """

    rooms: int = field(metadata={"help": "Number of rooms; each room is one shard."})
    frames_per_room: int = field(metadata={"help": "Frames along each room's camera trajectory."})
    seed: int = _setting(0, "Master seed; the dataset is a function of the settings and this seed.")
    width: int = _setting(640, "Image width in pixels.")
    height: int = _setting(480, "Image height in pixels.")
    noise: str = _setting(
        "kinect_v1",
        "Noise preset (kinect_v1 is like NYUv2 rawDepths, kinect_v1_filled like its in-painted depths; see README).",
    )
    noise_params: dict = _setting({}, "Noise parameter overrides, STAGE.FIELD -> number.")
    renderer: str = _setting(
        "auto",
        "Renderer backend: auto (the fastest available for each room), raycast (Open3D, "
        "CPU), gl (OpenGL over EGL: GPU, or Mesa on a CPU) or pyrender (OpenGL via "
        "pyrender, EGL).",
    )
    room_types: tuple[str, ...] = _setting((), "Room types to draw from (default: all, with NYUv2-like weights).")
    scene: str = _setting(
        "",
        "Scene description (from 'synthcam scenes sample' or 'scenes import') rendered in "
        "every room instead of generated rooms; each room index gets its own trajectory.",
    )
    inputs: dict = _setting({}, "sha256 of every input file, filled in by the run (never set by hand).")
    camera: str = _setting(
        DEFAULT_CAMERA,
        "Camera whose intrinsics are brought to the resolution: resampled when "
        "the aspect ratios agree, else scaled uniformly and centre-cropped "
        "(never stretched).",
    )
    camera_intrinsics: tuple[float, ...] = _setting(
        (), "fx,fy,cx,cy in pixels of the generated images, instead of --camera."
    )
    flow: bool = _setting(
        False,
        "Store the optical flow of every frame to the next one with a mask of valid, occluded and "
        "out-of-view pixels (shard format version 3).",
    )
    frame_rate: float = _setting(
        2.5,
        "Frames per second of the video; the walk is simulated at 25 Hz, so 25 / HZ must be whole "
        "(25, 12.5, 5, 2.5, 1 ...).",
    )
    clip_length: int = _setting(
        1,
        "Frames come in clips of N consecutive frames with no gap between them; --frames-per-room must "
        "be a multiple of N.",
    )

    def validate(self) -> None:
        """Raise :class:`SynthcamError` (or a noise/scene error) naming the first bad field; touches no output."""
        self.check_values()
        if self.scene:
            from scene_library import build_scene, load_description

            build_scene(load_description(Path(self.scene)))  # a bad description fails before any work

    def check_values(self) -> None:
        """:meth:`validate` without reading the scene description: the checks of the values alone."""
        import noise_models
        from scene_library import ROOM_TYPES
        from synthcam.render import RENDERERS
        from synthcam_core.camera import check_resolution
        from synthcam_core.real_frames import CAMERAS

        _check_count(
            "rooms",
            self.rooms,
            MAX_ROOMS,
            "per dataset is supported, split the work into several datasets (--out directories)",
        )
        _check_count(
            "frames-per-room",
            self.frames_per_room,
            MAX_FRAMES_PER_ROOM,
            "per room is supported, use more rooms with fewer frames each",
        )
        if not is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise SynthcamError(f"seed must be an integer from 0 to {MAX_SEED} (2**63 - 1), got {self.seed}")
        if not (is_int(self.width) and is_int(self.height)):
            raise SynthcamError(f"resolution must be whole pixels, got {self.width}x{self.height}")
        check_resolution(self.width, self.height)
        if self.renderer not in RENDERERS:
            raise SynthcamError(f"unknown renderer {self.renderer!r}; valid renderers: {', '.join(RENDERERS)}")
        for t in self.room_types:
            if t not in ROOM_TYPES:
                raise SynthcamError(f"unknown room type {t!r}; valid types: {', '.join(ROOM_TYPES)}")
        if self.camera not in CAMERAS:
            raise SynthcamError(f"unknown camera {self.camera!r}; valid cameras: {', '.join(CAMERAS)}")
        if self.camera_intrinsics and self.camera != DEFAULT_CAMERA:
            raise SynthcamError(
                f"camera {self.camera} and camera_intrinsics {list(self.camera_intrinsics)} both name "
                f"the camera; pass one of --camera or --intrinsics"
            )
        if self.camera_intrinsics:
            explicit_intrinsics(self.camera_intrinsics, self.width, self.height)
        noise_models.make(self.noise, self.noise_params)
        if not isinstance(self.flow, bool):
            raise SynthcamError(f"flow must be true or false, got {self.flow!r}")
        steps_per_frame(self.frame_rate)
        _check_clip_length(self.clip_length, self.frames_per_room)

    def with_inputs(self) -> GenerateConfig:
        """This config with :attr:`inputs` hashed from the files as they are now (``{}`` without a scene)."""
        return dataclasses.replace(self, inputs=input_hashes(self.scene) if self.scene else {})

    def to_dict(self) -> dict:
        """The config as stored in shards and ``manifest.json`` (``camera``, ``camera_intrinsics`` only when set)."""
        d = dataclasses.asdict(self)
        d["room_types"] = list(self.room_types)
        d["camera_intrinsics"] = list(self.camera_intrinsics)
        if self.camera == DEFAULT_CAMERA:
            del d["camera"]
        if not self.camera_intrinsics:
            del d["camera_intrinsics"]
        return d

    @property
    def intrinsics(self) -> Intrinsics:
        """The camera of the generated frames (width x height pixels)."""
        from synthcam_core.real_frames import CAMERAS

        if self.camera_intrinsics:
            return explicit_intrinsics(self.camera_intrinsics, self.width, self.height)
        return camera_at(CAMERAS[self.camera], self.width, self.height)


def explicit_intrinsics(values: tuple[float, ...], width: int, height: int) -> Intrinsics:
    """``(fx, fy, cx, cy)`` of a width x height image as :class:`Intrinsics`, checked by
    :func:`synthcam_core.real_frames.resolve_intrinsics` (one-line error if they cannot be that camera)."""
    from synthcam_core.real_frames import resolve_intrinsics

    if len(values) != 4:
        raise SynthcamError(f"camera_intrinsics must be 4 numbers fx,fy,cx,cy in pixels, got {len(values)}")
    return resolve_intrinsics(",".join(repr(float(v)) for v in values), None, width, height)


def camera_at(camera: Intrinsics, width: int, height: int) -> Intrinsics:
    """``camera`` brought to ``width`` x ``height`` pixels without stretching them.

    Where the aspect ratios agree to within :data:`ASPECT_TOLERANCE_PX` (a side rounded to whole pixels)
    the camera is resampled (:meth:`~synthcam_core.camera.Intrinsics.scaled`, as every 4:3 size of the
    NYUv2 camera always was); otherwise it is scaled by one factor until the image is covered and
    centre-cropped: fx/fy kept (square pixels stay square), the field of view narrowed on one axis (a
    640x360 NYUv2 camera has fx 518.9, fy 519.5 and cy 253.7 - 60).
    """
    from synthcam_core.camera import Intrinsics

    sx, sy = width / camera.width, height / camera.height
    if abs(camera.height * sx - height) <= ASPECT_TOLERANCE_PX or abs(camera.width * sy - width) <= ASPECT_TOLERANCE_PX:
        return camera.scaled(width, height)
    s = max(sx, sy)
    return Intrinsics(
        width,
        height,
        camera.fx * s,
        camera.fy * s,
        camera.cx * s - (camera.width * s - width) / 2,
        camera.cy * s - (camera.height * s - height) / 2,
    )


def is_int(value) -> bool:
    """True for an int or numpy integer (not a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    numpy = sys.modules.get("numpy")  # a numpy integer exists only once numpy is imported
    return numpy is not None and isinstance(value, numpy.integer)


def _check_count(name: str, value, largest: int, what_to_do: str) -> None:
    """Raise :class:`SynthcamError` unless ``value`` is an integer in 1 .. ``largest``; above it the message
    goes on with ``what_to_do`` (after "at most N ")."""
    if not is_int(value) or value < 1:
        raise SynthcamError(f"{name} must be at least 1, got {value}")
    if value > largest:
        raise SynthcamError(f"{name} is {value}; at most {largest:,} {what_to_do}")


def steps_per_frame(frame_rate: float) -> int:
    """Simulation steps (at :data:`SIMULATION_HZ`) between consecutive frames at ``frame_rate`` Hz.

    Raises :class:`SynthcamError` (one line listing valid rates) unless ``SIMULATION_HZ / frame_rate`` is a
    whole number of at least 1 (to a relative 1e-9, so 12.5 and 0.1 are exact).
    """
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float)) or not frame_rate > 0:
        steps = 0.0
    else:
        steps = SIMULATION_HZ / frame_rate
    whole = round(steps) if steps < 1e9 else 0
    if whole < 1 or abs(steps - whole) > 1e-9 * whole:
        raise SynthcamError(
            f"frame-rate {frame_rate} Hz is not {SIMULATION_HZ:g} Hz (the walk's simulation rate) over a whole "
            f"number of steps; use e.g. {FRAME_RATE_EXAMPLES}"
        )
    return int(whole)


def _check_clip_length(clip_length, frames_per_room: int) -> None:
    """Raise :class:`SynthcamError` unless ``clip_length`` is an integer from 1 that divides ``frames_per_room``."""
    if not is_int(clip_length) or clip_length < 1:
        raise SynthcamError(f"clip-length must be at least 1, got {clip_length}")
    if clip_length > frames_per_room:
        raise SynthcamError(
            f"clip-length {clip_length} is longer than frames-per-room {frames_per_room}; "
            f"use a clip length of at most {frames_per_room}"
        )
    if frames_per_room % clip_length:
        raise SynthcamError(
            f"frames-per-room {frames_per_room} is not a multiple of clip-length {clip_length}; "
            f"use e.g. frames-per-room {(frames_per_room // clip_length + 1) * clip_length}"
        )


def input_files(scene: str | Path) -> list[Path]:
    """The input files of a scene description: the description itself, then the mesh and label-map file of
    every ``imported`` object (``params.path``, ``params.label_map``), each once, in order."""
    from scene_library import load_description

    description = load_description(Path(scene))
    files = [Path(scene)]
    for obj in description.get("objects", []) if isinstance(description, dict) else []:
        params = obj.get("params") if isinstance(obj, dict) and obj.get("kind") == "imported" else None
        for key in ("path", "label_map"):
            value = params.get(key) if isinstance(params, dict) else None
            if isinstance(value, str) and value:
                files.append(Path(value))
    return list(dict.fromkeys(files))


def input_hashes(scene: str | Path) -> dict[str, str]:
    """``{absolute path: sha256 hex digest}`` of every file of :func:`input_files`."""
    hashes = {}
    for path in input_files(scene):
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise SynthcamError(
                f"cannot read {path}, an input of --scene {scene} ({exc.strerror}); check the path and its permissions"
            ) from None
        hashes[str(path.resolve())] = digest.hexdigest()
    return hashes


def shard_name(room_index: int) -> str:
    from synthcam_shards.format import SHARD_SUFFIX

    return f"room_{room_index:05d}{SHARD_SUFFIX}"


def room_seed(config: GenerateConfig, room_index: int) -> np.random.SeedSequence:
    """The seed sequence of room ``room_index``, independent of worker count and order."""
    import numpy as np

    return np.random.SeedSequence(config.seed, spawn_key=(room_index,))
