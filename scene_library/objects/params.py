"""Checks of stored object parameters against what each kind's generator takes.

A kind's parameters are the keys its ``sample`` draws (every generator draws all of its keys; a few draw
extra keys for some variants, so the keys of :data:`SCHEMA_SEEDS` draws are united). Each key's type is
the type the generator draws: a flag (bool), a count or index (int), a number (metres, radians or a ratio;
int or float), a text (a variant name) or a nested list of those. Values are checked for type, finiteness
and range before anything is built:

* numbers lie in ``[0, MAX_PARAM_VALUE]`` -- sizes are never negative -- or, for the keys in
  :data:`SIGNED_PARAMS` (angles, offsets, sides, indices), in ``[-MAX_PARAM_VALUE, MAX_PARAM_VALUE]``;
* a key in :data:`MIN_PARAM` (a pitch or ratio that divides a length into a number of parts) is at least
  its minimum, so no piece is made of millions of slats, and a key in :data:`MAX_PARAM` (a fraction of
  another length) at most its maximum;
* counts lie in ``[0, MAX_PARAM_COUNT]`` (``[-MAX_PARAM_COUNT, MAX_PARAM_COUNT]`` when signed);
* texts have at most ``MAX_TEXT`` characters; nested lists at most ``MAX_PARAM_DEPTH`` levels, and one
  object's parameters at most ``MAX_PARAM_VALUES`` values in all.

Keys may be left out (openings build from ``width`` and ``height`` alone; a missing key the generator
needs is reported when building).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

from scene_library.errors import SceneError
from scene_library.limits import MAX_PARAM_COUNT, MAX_PARAM_DEPTH, MAX_PARAM_VALUE, MAX_PARAM_VALUES, MAX_TEXT

#: Draws of each generator whose keys make up its parameter set (every key appears in the first two).
SCHEMA_SEEDS = 16

#: Parameters whose numbers may be negative: angles, offsets, sides (-1 / +1) and indices (-1 = none).
SIGNED_PARAMS = frozenset(
    {
        "yaw",
        "pillow_yaw",
        "tilt",
        "open_angle",
        "screen_angle",
        "lean",  # angles (radians)
        "books",
        "items",
        "blobs",
        "sheets",  # nested offsets and angles of small items
        "curtain_side",
        "pedestal_side",
        "hinge",  # sides
        "sink_unit",
        "stove_unit",  # unit indices, -1 = none
    }
)

#: Smallest value of parameters that divide a length into parts (metres, or a width / height ratio).
MIN_PARAM: dict[str, float] = {"fold_pitch": 0.02, "slat_width": 0.01, "aspect": 0.2}
#: Largest value of parameters that are fractions of another length (instead of ``MAX_PARAM_VALUE``).
MAX_PARAM: dict[str, float] = {"curtain_cover": 1.0, "open_fraction": 1.0, "split": 1.0}

_FLAG, _COUNT, _NUMBER, _TEXT, _NESTED, _ANY = "flag", "count", "number", "text", "nested", "any"
_DESCRIBED = {
    _FLAG: "true or false",
    _COUNT: "a whole number",
    _NUMBER: "a number",
    _TEXT: "a text",
    _NESTED: "a list",
    _ANY: "a value",
}


@cache
def param_types(kind: str) -> dict[str, str]:
    """``{key: type}`` of a registered kind's parameters (see the module docstring); types are
    ``"flag"``, ``"count"``, ``"number"``, ``"text"``, ``"nested"`` or ``"any"``."""
    from scene_library.objects import get_spec

    spec = get_spec(kind)
    seen: dict[str, set[str]] = {}
    for seed in range(SCHEMA_SEEDS):
        for key, value in spec.sample(np.random.default_rng(seed)).items():
            seen.setdefault(key, set()).add(_type_of(value))
    out = {}
    for key, types in seen.items():
        if types <= {_COUNT, _NUMBER}:
            out[key] = _NUMBER if _NUMBER in types else _COUNT
        else:
            out[key] = types.pop() if len(types) == 1 else _ANY
    return out


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return _FLAG
    if isinstance(value, (int, np.integer)):
        return _COUNT
    if isinstance(value, (float, np.floating)):
        return _NUMBER
    if isinstance(value, str):
        return _TEXT
    if isinstance(value, (list, tuple, dict)):
        return _NESTED
    return _ANY


def check_params(kind: str, params: Any, where: str) -> None:
    """SceneError, naming ``where`` (e.g. ``"object 3 'bed_1' (bed)"``), the key and the allowed values,
    unless ``params`` is a mapping of known keys of ``kind`` to values of their type within range."""
    if not isinstance(params, dict):
        raise SceneError(f"{where}: 'params' must be a mapping of parameter names to values, not {short_value(params)}")
    types = param_types(kind)
    unknown = [k for k in params if k not in types]
    if unknown:
        raise SceneError(
            f"{where}: unknown parameter(s) {listed_keys(unknown)} for a {kind}; "
            f"remove them (its parameters: {', '.join(sorted(types))})"
        )
    budget = [MAX_PARAM_VALUES]
    for key, value in params.items():
        _check_value(value, types[key], key, f"{where}: parameter {key!r}", budget, 0)


def _check_value(value: Any, kind_of: str, key: str, where: str, budget: list[int], depth: int) -> None:
    """Check one value (recursing into nested lists) of parameter ``key``; ``budget[0]`` counts down the
    values an object may still hold."""
    if isinstance(value, np.generic):  # params built in code may hold numpy scalars
        value = value.item()
    budget[0] -= 1
    if budget[0] < 0:
        raise SceneError(
            f"{where}: the object's parameters hold more than {MAX_PARAM_VALUES} values; shorten its lists"
        )
    if kind_of == _FLAG:
        if not isinstance(value, bool):
            raise SceneError(f"{where} must be true or false, not {short_value(value)}")
    elif kind_of == _COUNT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SceneError(f"{where} must be a whole number, not {short_value(value)}")
        _check_range(value, key, where, MAX_PARAM_COUNT, "")
    elif kind_of == _NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SceneError(f"{where} must be a number, not {short_value(value)}")
        _check_range(value, key, where, MAX_PARAM_VALUE, " (metres, radians or a ratio)")
    elif kind_of == _TEXT:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise SceneError(f"{where} must be a text of at most {MAX_TEXT} characters, not {short_value(value)}")
    elif kind_of in (_NESTED, _ANY):
        if isinstance(value, (list, dict)):
            if depth >= MAX_PARAM_DEPTH:
                raise SceneError(f"{where} nests lists more than {MAX_PARAM_DEPTH} deep; flatten it")
            items = value.values() if isinstance(value, dict) else value
            for item in items:
                _check_value(item, _ANY, key, where, budget, depth + 1)
        elif kind_of == _NESTED and depth == 0:
            raise SceneError(f"{where} must be a list, not {short_value(value)}")
        elif isinstance(value, bool):
            pass
        elif isinstance(value, (int, float)):
            _check_range(value, key, where, MAX_PARAM_VALUE, "")
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise SceneError(f"{where} holds a text longer than {MAX_TEXT} characters; shorten it")
        else:
            raise SceneError(f"{where} holds {short_value(value)}; use numbers, texts, true/false and lists only")


def _check_range(value: int | float, key: str, where: str, bound: float, unit: str) -> None:
    """SceneError unless ``value`` is finite and within the key's range (see the module docstring)."""
    lo = -bound if key in SIGNED_PARAMS else MIN_PARAM.get(key, 0)
    bound = MAX_PARAM.get(key, bound)
    if isinstance(value, float) and not math.isfinite(value):
        raise SceneError(f"{where} is {value}; use a finite number between {lo:g} and {bound:g}{unit}")
    if not lo <= value <= bound:  # ints compare exactly, however large
        raise SceneError(f"{where} is {short_value(value)}; use a value between {lo:g} and {bound:g}{unit}")


def listed_keys(keys: list[Any]) -> str:
    """Unknown keys for a message: the first five in their short form (:func:`short_value`), then how many more."""
    return ", ".join(short_value(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def short_value(value: Any, limit: int = 40) -> str:
    """A short printable form of a user value (long texts and lists are cut)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"a number of about {int(value.bit_length() * 0.30103)} digits"
    text = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
