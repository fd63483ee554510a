"""Noise files: a sensor noise preset plus parameter overrides, as ``synthcam noise fit`` writes them and
``synthcam generate --noise-file`` reads them.

A noise file is a small YAML (``.yaml``/``.yml``) or JSON (``.json``) mapping::

    # written by synthcam noise fit ...
    preset: kinect_v1               # a noise_models preset
    params:                         # "stage.field": number overrides (optional)
      range.z_max: 7.25
      incidence.theta0_deg: 66.0
    fit:                            # what was fitted, how well (optional, informational: generation ignores it)
      real: /data/my_sensor
      distance_before: 12.3
      distance_after: 4.5

Reading is strict (:func:`read_noise_file`): only ``preset``, ``params`` and ``fit`` at the top level, a
known preset, known ``stage.field`` names (:func:`noise_models.make` lists the valid ones), finite
numbers, no duplicate keys, no YAML aliases, at most :data:`MAX_NOISE_FILE_BYTES`; anything else is a
one-line :class:`SynthcamError` naming the file and what to fix. A file carrying a ``fit`` record is
one synthcam wrote (:func:`written_by_synthcam`): the only kind ``noise fit --overwrite`` replaces.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import noise_models
from noise_models.errors import NoiseConfigError
from synthcam_core.atomic_file import write_atomic
from synthcam_core.errors import SynthcamError
from synthcam_core.strict_yaml import StrictFormat, parse_json, parse_yaml

__all__ = [
    "MAX_NOISE_FILE_BYTES",
    "NOISE_FILE_SUFFIXES",
    "NoiseFile",
    "check_noise_out",
    "noise_file_text",
    "read_noise_file",
    "write_noise_file",
    "written_by_synthcam",
]

NOISE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_NOISE_FILE_BYTES = 64 * 1024
"""Largest noise file read: a preset name and a few dozen numbers take well under a kilobyte."""
TOP_LEVEL_KEYS = ("preset", "params", "fit")
_FORMAT = StrictFormat(
    "noise file",
    SynthcamError,
    nesting="a noise file is a preset and a mapping of numbers",
    alias_advice="write each value out",
)
_EXAMPLE = "e.g. 'preset: kinect_v1' and 'params: {range.z_max: 7.25}'"


@dataclass(frozen=True)
class NoiseFile:
    """A preset and its overrides.

    preset : a :data:`noise_models.PRESETS` name.
    params : ``"stage.field" -> value`` overrides (floats), as ``generate --noise-param`` takes them.
    fit : the informational record ``noise fit`` writes (JSON-ready values), or None.
    """

    preset: str
    params: dict[str, float] = field(default_factory=dict)
    fit: dict[str, Any] | None = None

    def model(self) -> noise_models.NoiseModel:
        """The built noise model (:class:`NoiseConfigError` for an unknown preset, stage or value)."""
        return noise_models.make(self.preset, self.params)


def read_noise_file(path: str | Path) -> NoiseFile:
    """Read and check a noise file (module docstring); :class:`SynthcamError` naming the file otherwise."""
    path = Path(path)
    data = _load(path)
    if not isinstance(data, Mapping):
        raise SynthcamError(f"noise file {path} must be a mapping with 'preset' and optionally 'params', {_EXAMPLE}")
    extra = [k for k in data if k not in TOP_LEVEL_KEYS]
    if extra:
        shown = ", ".join(_short(k) for k in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise SynthcamError(
            f"noise file {path} has unknown top-level key(s) {shown}; only "
            f"{', '.join(map(repr, TOP_LEVEL_KEYS))} are allowed"
        )
    preset = data.get("preset")
    if not isinstance(preset, str) or not preset or (len(preset) > 40 and preset not in noise_models.PRESETS):
        raise SynthcamError(
            f"noise file {path} needs 'preset' naming a noise preset ({', '.join(noise_models.PRESETS)}), "
            f"got {_short(preset)}"
        )
    raw = data.get("params")
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise SynthcamError(f"noise file {path}: 'params' must map 'stage.field' names to numbers, {_EXAMPLE}")
    params = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise SynthcamError(
                f"noise file {path}: the parameter name {_short(key)} is not text; write 'stage.field', "
                f"e.g. range.z_max"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SynthcamError(
                f"noise file {path}: parameter {_short(key)} needs a number, got {_short(value)}"
                f"{_text_number_hint(value)}"
            )
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            raise SynthcamError(
                f"noise file {path}: parameter {_short(key)} must be a finite number, got {_short(value)}"
            )
        params[key] = number
    fit = data.get("fit")
    if fit is not None and not isinstance(fit, Mapping):
        raise SynthcamError(
            f"noise file {path}: 'fit' must be a mapping (what was fitted; generation ignores it) or left out"
        )
    noise = NoiseFile(preset, params, dict(fit) if fit is not None else None)
    try:
        noise.model()
    except NoiseConfigError as exc:
        raise SynthcamError(f"noise file {path}: {exc}") from None
    return noise


def _short(value: Any) -> str:
    """``repr(value)`` cut to 40 characters (a message stays one readable line)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text_number_hint(value: Any) -> str:
    """A hint when YAML read a number as text (``1e-3`` or ``1.0e300``: YAML 1.1 wants a dot and a signed exponent)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads it as text; write 0.001, or an exponent with a dot and a sign: 1.0e-3, 1.0e+300)"
    return ""


def _load(path: Path) -> Any:
    """The parsed content of a noise file (YAML or JSON by suffix), within the size bound."""
    if path.suffix.lower() not in NOISE_FILE_SUFFIXES:
        raise SynthcamError(f"noise file {path} must be a .yaml, .yml or .json file; rename or convert it")
    if not path.is_file():
        raise SynthcamError(f"noise file {path} does not exist or is not a file; check the path")
    try:
        with path.open("rb") as f:
            blob = f.read(MAX_NOISE_FILE_BYTES + 1)
    except OSError as exc:
        raise SynthcamError(f"cannot read noise file {path} ({exc.strerror}); check its permissions") from None
    if len(blob) > MAX_NOISE_FILE_BYTES:
        raise SynthcamError(
            f"noise file {path} is larger than {MAX_NOISE_FILE_BYTES // 1024} KiB; a noise file holds a "
            f"preset name and a few numbers"
        )
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise SynthcamError(
            f"noise file {path} is not UTF-8 text; save it as a plain UTF-8 YAML or JSON file"
        ) from None
    return parse_json(text, path, _FORMAT) if path.suffix.lower() == ".json" else parse_yaml(text, path, _FORMAT)


def written_by_synthcam(path: str | Path) -> bool:
    """Whether ``path`` is a valid noise file with a ``fit`` record (what ``noise fit`` writes)."""
    try:
        return read_noise_file(path).fit is not None
    except SynthcamError:
        return False


def noise_file_text(noise: NoiseFile, suffix: str = ".yaml", comment: str = "") -> str:
    """The file content of ``noise``: YAML (``comment`` lines first, each as ``# ...``) or, for a ``.json``
    ``suffix``, JSON (no comment). The same value gives the same text."""
    data: dict[str, Any] = {"preset": noise.preset, "params": dict(noise.params)}
    if noise.fit is not None:
        data["fit"] = noise.fit
    if suffix.lower() == ".json":
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    import yaml

    out = io.StringIO()
    for line in comment.splitlines():
        out.write(f"# {line}".rstrip() + "\n")
    yaml.dump(data, out, Dumper=_dumper(), sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return out.getvalue()


def _dumper():
    """PyYAML's safe dumper writing lists on one line (``[3.0, 10.0]``), mappings as blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    return _Dumper


def write_noise_file(path: str | Path, noise: NoiseFile, comment: str = "") -> None:
    """Write ``noise`` to ``path`` atomically (YAML or JSON by suffix, see :func:`noise_file_text`)."""
    path = Path(path)
    if path.suffix.lower() not in NOISE_FILE_SUFFIXES:
        raise SynthcamError(f"noise file {path} must end in .yaml, .yml or .json")
    data = noise_file_text(noise, path.suffix, comment).encode("utf-8")
    write_atomic(path, lambda f: f.write(data))


def check_noise_out(path: str | Path, overwrite: bool = False) -> Path:
    """Check that a noise file may be written at ``path`` before any work: a noise-file suffix, an existing
    writable directory, and no file there unless ``overwrite`` is given and that file is a noise file
    synthcam wrote (:func:`written_by_synthcam`); anything else is never replaced. Returns ``path``."""
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise SynthcamError(f"--out {path} is a directory; pass the path of a noise file, e.g. {path / 'sensor.yaml'}")
    if path.suffix.lower() not in NOISE_FILE_SUFFIXES:
        raise SynthcamError(f"--out {path} must end in .yaml, .yml or .json (a noise file)")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise SynthcamError(
                f"--out {path} exists; pass --overwrite to replace it (only a noise file written by "
                f"'synthcam noise fit' is ever replaced)"
            )
        if not written_by_synthcam(path):
            raise SynthcamError(
                f"--out {path} exists and is not a noise file written by 'synthcam noise fit'; it is "
                f"never overwritten, choose another --out"
            )
    parent = path.parent
    if not parent.is_dir():
        raise SynthcamError(f"--out {path}: directory {parent} does not exist; create it or choose another --out")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise SynthcamError(
            f"--out {path}: cannot write in {parent} ({exc.strerror}); choose a writable --out"
        ) from None
    return path
