"""Settings files: a run's settings dataclass read from, and written to, a small YAML file.

A config file is a YAML mapping of a dataclass's field names to values (``synthcam generate --config
gen.yaml``, ``synthcam train --config train.yaml``); every run writes its effective settings in the same
form (``OUT/config.yaml``, ``RUN/config.yaml``), so ``--config OUT/config.yaml`` runs it again.

:func:`read_config_file` reads one strictly (PyYAML's safe loader through :mod:`synthcam_core.strict_yaml`:
no aliases, no duplicate keys, at most :data:`MAX_CONFIG_BYTES`) and checks every key and the type of
every value against the dataclass's fields; each mistake is one :class:`SynthcamError` line naming the
file and the key. Ranges and names are the dataclass's own checks (the caller's). :func:`config_text`
writes the settings back, headed by :data:`HEADER`, by which :func:`is_written_config` knows a file
synthcam wrote (and may replace) from a user's file (never replaced).
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import typing
from pathlib import Path
from typing import Any

from synthcam_core.errors import SynthcamError

MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB): a config is a few dozen settings."""
CONFIG_NAME = "config.yaml"
"""The file name every run writes its effective settings under, in its output directory."""
HEADER = "# written by synthcam"
"""The first line of every config file synthcam writes (``# written by synthcam generate: ...``)."""

_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def setting_fields(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{field name: type}`` of the settings of dataclass ``cls`` (without ``skip``), in field order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name not in skip}


def field_default(cls: type, name: str) -> Any:
    """The default value of field ``name`` of dataclass ``cls`` (``dataclasses.MISSING`` if it has none)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def field_help(cls: type, name: str) -> str | None:
    """The ``help`` text of field ``name`` (its ``metadata``), or None."""
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata.get("help")


def read_config_file(path: str | Path, cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{field: value}`` of the YAML config file ``path`` for dataclass ``cls``, each value of its
    field's type (an int widened for a float field, a list made a tuple); ``skip`` names fields a
    file may not set. Raises a one-line :class:`SynthcamError` naming the file (and key) otherwise."""
    from synthcam_core.strict_yaml import StrictFormat, parse_yaml

    path = Path(path)
    data = parse_yaml(
        _read_text(path),
        path,
        StrictFormat(
            "config file",
            SynthcamError,
            nesting="a config file maps setting names to plain values",
            alias_advice="write each value out",
        ),
    )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SynthcamError(
            f"config file {path} must be a YAML mapping of settings (e.g. 'seed: 3'), not a {type(data).__name__}"
        )
    kinds = setting_fields(cls, skip)
    for key in data:
        if key not in kinds:
            raise SynthcamError(f"config file {path}: unknown key {str(key)[:40]!r}; valid keys: {', '.join(kinds)}")
    return {key: _checked(path, key, value, kinds[key]) for key, value in data.items()}


def _read_text(path: Path) -> str:
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise SynthcamError(f"config file {path} is a directory; pass a YAML file of settings")
        if info.st_size > MAX_CONFIG_BYTES:
            raise SynthcamError(
                f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; a config file holds a few settings"
            )
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise SynthcamError(
            f"config file {path} does not exist; pass a YAML file of settings, e.g. a run's {CONFIG_NAME}"
        ) from None
    except OSError as exc:
        raise SynthcamError(
            f"config file {path} cannot be read ({exc.strerror}); check the path and its permissions"
        ) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SynthcamError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; a config file holds a few settings"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SynthcamError(f"config file {path} is not UTF-8 text; write the settings as YAML") from None


def _checked(path: Path, key: str, value: Any, kind: Any) -> Any:
    """``value`` of setting ``key`` as type ``kind``; a one-line error naming file and key otherwise."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple:
        ok = isinstance(value, list) and (len(args) == 2 and args[1] is Ellipsis or len(value) == len(args))
        item = args[0]
        if ok:
            items = [_scalar(item, v) for v in value]
            if all(v is not _WRONG for v in items):
                return tuple(items)
        count = "a list of" if args[-1] is Ellipsis else f"a list of {len(args)}"
        raise SynthcamError(f"config file {path}: {key} must be {count} {_plural(item)}, got {_shown(value)}")
    if kind is dict or origin is dict:
        if isinstance(value, dict) and all(
            isinstance(k, str) and _scalar(float, v) is not _WRONG for k, v in value.items()
        ):
            return {k: _scalar(float, v) for k, v in value.items()}  # numbers as floats, as --noise-param gives them
        raise SynthcamError(f"config file {path}: {key} must be a mapping of names to numbers, got {_shown(value)}")
    checked = _scalar(kind, value)
    if checked is _WRONG:
        hint = ""
        if kind in (int, float) and isinstance(value, str):
            try:
                float(value)
                hint = " (YAML reads it as text; write a plain number such as 0.001 or 1.0e-3)"
            except ValueError:
                pass
        raise SynthcamError(f"config file {path}: {key} must be {_KINDS.get(kind, kind)}, got {_shown(value)}{hint}")
    return checked


_WRONG = object()


def _scalar(kind: Any, value: Any) -> Any:
    """``value`` as ``kind`` (bool, int, float or str), or :data:`_WRONG`."""
    if isinstance(value, bool):
        return value if kind is bool else _WRONG
    if kind is int:
        return value if isinstance(value, int) else _WRONG
    if kind is float:
        if isinstance(value, int):
            return float(value) if abs(value) < 2**1000 else _WRONG
        return value if isinstance(value, float) else _WRONG
    return value if isinstance(value, kind) else _WRONG


def _plural(kind: Any) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(kind, str(kind))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def config_values(config: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{field: value}`` of a settings dataclass as plain YAML values (tuples as lists), in field order."""
    out = {}
    for f in dataclasses.fields(config):
        if f.name in skip:
            continue
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, dict) else value
    return out


def config_text(command: str, values: dict[str, Any], rerun: str) -> str:
    """The YAML text of a written config: :data:`HEADER` and ``command`` on the first line, ``rerun``
    (how to run it again) on the second, then the settings in the order given."""
    import yaml

    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise SynthcamError(f"setting {key} is {value}; a config holds finite numbers")
    body = yaml.safe_dump(values, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    return f"{HEADER} {command}\n# {rerun}\n{body}"


def is_written_config(path: str | Path) -> bool | None:
    """Whether ``path`` is a config file synthcam wrote (None if nothing is there): a regular file, not a
    link, at most :data:`MAX_CONFIG_BYTES`, whose first line starts with :data:`HEADER`."""
    path = Path(path)
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CONFIG_BYTES:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            return fh.read(len(HEADER) + 1).startswith(HEADER.encode() + b" ")
    except OSError:
        return False
