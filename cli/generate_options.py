"""The settings of ``synthcam generate``: its options and ``--config FILE`` made one :class:`GenerateConfig`.

Precedence: the dataclass's defaults, then the config file, then the options given on the command line.
A config file's keys are the fields of :class:`GenerateConfig` (``inputs`` excepted: a run hashes its input
files itself); a relative ``scene`` path in it is relative to the file's folder. Options that stand for
several fields: ``--resolution`` (width, height), ``--intrinsics`` (camera_intrinsics; given alone it
replaces a file's camera, as ``--camera`` given alone replaces a file's intrinsics), ``--noise-file``
(noise, noise_params) and ``--noise-param`` (entries of noise_params, over the file's unless the
command line names another preset).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from cli.config_options import file_checked, given, merge
from cli.noise_options import parse_noise_params
from synthcam.generate_config import DEFAULT_CAMERA, GenerateConfig
from synthcam_core.config_file import field_default, read_config_file
from synthcam_core.errors import SynthcamError

SETTINGS = (
    "rooms",
    "frames_per_room",
    "seed",
    "resolution",
    "camera",
    "intrinsics",
    "noise",
    "noise_param",
    "noise_file",
    "room_types",
    "scene",
    "renderer",
    "flow",
    "frame_rate",
    "clip_length",
)
"""The options of ``generate`` that set fields of :class:`GenerateConfig` (the others say how to run)."""
REQUIRED = ("rooms", "frames_per_room")
"""Fields without a default: the command line or the config file must give them."""


def generate_config(config_path: Path | None, options: dict) -> GenerateConfig:
    """The checked settings of a run from ``config_path`` (or None) and the option values ``options``
    (keyed by parameter name); a mistake in the file is one error line naming the file and key."""
    flags = given(SETTINGS)
    from_file = _file_settings(config_path) if config_path is not None else {}
    flagged = _flag_settings(options, flags, from_file)
    defaults = {
        name: field_default(GenerateConfig, name)
        for name in (
            "seed",
            "width",
            "height",
            "noise",
            "noise_params",
            "renderer",
            "room_types",
            "scene",
            "camera",
            "camera_intrinsics",
            "flow",
            "frame_rate",
            "clip_length",
        )
    }
    values = merge(defaults, from_file, flagged)
    for name in REQUIRED:
        if name not in values:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(f"Missing option '{option}' (or {name} in a --config file).")
    config = GenerateConfig(**values)
    config.validate()
    return config


def _file_settings(path: Path) -> dict:
    """The values of config file ``path``, checked on their own (errors name the file)."""
    values = read_config_file(path, GenerateConfig, skip=("inputs",))
    if values.get("scene"):
        values["scene"] = absolute_scene(path.parent / values["scene"], f"config file {path}: scene")
    placeholders = {name: 1 for name in REQUIRED}
    file_checked(path, lambda: GenerateConfig(**{**placeholders, **values}).check_values())
    return values


def _flag_settings(options: dict, flags: set[str], from_file: dict) -> dict:
    """The fields set by the options given on the command line."""
    from synthcam_core.camera import parse_resolution

    out: dict[str, Any] = {
        name: options[name]
        for name in ("rooms", "frames_per_room", "seed", "renderer", "flow", "frame_rate", "clip_length")
        if name in flags
    }
    if "resolution" in flags:
        out["width"], out["height"] = parse_resolution(options["resolution"])
    if "camera" in flags:
        out["camera"] = options["camera"]
        if "intrinsics" not in flags:
            out["camera_intrinsics"] = ()
    if "intrinsics" in flags:
        out["camera_intrinsics"] = parse_intrinsics(options["intrinsics"])
        if "camera" not in flags:
            out["camera"] = DEFAULT_CAMERA
    if "room_types" in flags:
        out["room_types"] = tuple(options["room_types"])
    if "scene" in flags:
        out["scene"] = absolute_scene(options["scene"], "--scene")
    params = parse_noise_params(options["noise_param"])
    file_noise = from_file.get("noise", field_default(GenerateConfig, "noise"))
    if "noise_file" in flags:
        out["noise"], base = noise_file_choice(options["noise"], "noise" in flags, options["noise_file"])
        out["noise_params"] = {**base, **params}
    elif "noise" in flags:
        out["noise"] = options["noise"]
        base = from_file.get("noise_params", {}) if options["noise"] == file_noise else {}
        out["noise_params"] = {**base, **params}
    elif params:
        out["noise_params"] = {**from_file.get("noise_params", {}), **params}
    return out


def parse_intrinsics(text: str) -> tuple[float, float, float, float]:
    """``"fx,fy,cx,cy"`` (pixels) as four finite floats; a camera name points to ``--camera``."""
    from cli.choices import CAMERAS

    if text.strip() in CAMERAS:
        raise SynthcamError(
            f"--intrinsics takes fx,fy,cx,cy in pixels; for the named camera pass --camera {text.strip()}"
        )
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise SynthcamError(f"--intrinsics {text[:60]!r} is not fx,fy,cx,cy in pixels, e.g. 518.9,519.5,325.6,253.7")
    return values


def noise_file_choice(noise: str, noise_given: bool, noise_file: Path) -> tuple[str, dict]:
    """The preset and parameters of ``--noise-file`` (a given ``--noise`` must name the file's preset)."""
    from synthcam.noise_file import read_noise_file

    loaded = read_noise_file(noise_file)
    if noise_given and noise != loaded.preset:
        raise SynthcamError(
            f"--noise {noise} disagrees with --noise-file {noise_file} (preset {loaded.preset}); "
            f"leave out --noise or pass the file's preset"
        )
    return loaded.preset, dict(loaded.params)


def absolute_scene(path: Path | str, what: str) -> str:
    """A scene description's path made absolute with its links resolved; ``what`` names where it came from."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError) as exc:  # a loop of symbolic links (RuntimeError before Python 3.13)
        raise SynthcamError(
            f"{what} {path} cannot be resolved ({exc}); pass the path of a scene description file"
        ) from None
