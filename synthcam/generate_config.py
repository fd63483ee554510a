"""What determines a dataset: :class:`GenerateConfig`, its limits, the hashes of its input files, and how
room ``i`` is named (:func:`shard_name`) and seeded (:func:`room_seed`).

Limits (checked before any work, see :meth:`GenerateConfig.validate`): :data:`MAX_ROOMS`,
:data:`MAX_FRAMES_PER_ROOM`, :data:`MAX_SEED`, the image size of :func:`synthcam_core.camera.check_resolution`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import noise_models
from scene_library import ROOM_TYPES, build_scene, load_description
from synthcam_core.camera import Intrinsics, check_resolution
from synthcam_core.errors import SynthcamError
from synthcam.render import RENDERERS
from synthcam_shards.shard_file import SHARD_SUFFIX

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


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset.

    rooms, frames_per_room : counts, 1 .. :data:`MAX_ROOMS` and 1 .. :data:`MAX_FRAMES_PER_ROOM`.
    seed : master seed, 0 .. :data:`MAX_SEED`.
    width, height : image size in pixels (the NYUv2 camera scaled to it), see :func:`~synthcam_core.camera.check_resolution`.
    noise, noise_params : a :mod:`noise_models` preset and ``"stage.field" -> value`` overrides (finite numbers).
    renderer : a backend name from :data:`synthcam.render.RENDERERS`.
    room_types : room types to draw from (all, with NYUv2-like weights, when empty).
    scene : path of a scene description to render in every room instead of generated rooms ("" = none).
    inputs : ``{absolute path: sha256 hex}`` of every input file (the scene description and the files it
        references), filled in by :meth:`with_inputs`; part of the config, so a resumed run never mixes
        shards made from different inputs.
    """

    rooms: int
    frames_per_room: int
    seed: int = 0
    width: int = 640
    height: int = 480
    noise: str = "kinect_v1"
    noise_params: dict = field(default_factory=dict)
    renderer: str = "auto"
    room_types: tuple[str, ...] = ()
    scene: str = ""
    inputs: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raise :class:`SynthcamError` (or a noise/scene error) naming the first bad field; touches no output."""
        _check_count("rooms", self.rooms, MAX_ROOMS, "per dataset is supported, split the work into several datasets "
                     "(--out directories)")
        _check_count("frames-per-room", self.frames_per_room, MAX_FRAMES_PER_ROOM, "per room is supported, use more "
                     "rooms with fewer frames each")
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
        noise_models.make(self.noise, self.noise_params)
        if self.scene:
            build_scene(load_description(Path(self.scene)))  # a bad description fails before any work

    def with_inputs(self) -> "GenerateConfig":
        """This config with :attr:`inputs` hashed from the files as they are now (``{}`` without a scene)."""
        return dataclasses.replace(self, inputs=input_hashes(self.scene) if self.scene else {})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["room_types"] = list(self.room_types)
        return d

    @property
    def intrinsics(self) -> Intrinsics:
        return Intrinsics.nyuv2().scaled(self.width, self.height)


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(name: str, value, largest: int, what_to_do: str) -> None:
    """Raise :class:`SynthcamError` unless ``value`` is an integer in 1 .. ``largest``; above it the message
    goes on with ``what_to_do`` (after "at most N ")."""
    if not is_int(value) or value < 1:
        raise SynthcamError(f"{name} must be at least 1, got {value}")
    if value > largest:
        raise SynthcamError(f"{name} is {value}; at most {largest:,} {what_to_do}")


def input_files(scene: str | Path) -> list[Path]:
    """The input files of a scene description: the description itself, then the mesh and label-map file of
    every ``imported`` object (``params.path``, ``params.label_map``), each once, in order."""
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
            raise SynthcamError(f"cannot read {path}, an input of --scene {scene} ({exc.strerror}); "
                                f"check the path and its permissions") from None
        hashes[str(path.resolve())] = digest.hexdigest()
    return hashes


def shard_name(room_index: int) -> str:
    return f"room_{room_index:05d}{SHARD_SUFFIX}"


def room_seed(config: GenerateConfig, room_index: int) -> np.random.SeedSequence:
    """The seed sequence of room ``room_index``, independent of worker count and order."""
    return np.random.SeedSequence(config.seed, spawn_key=(room_index,))

