"""The ``--noise-param STAGE.FIELD=VALUE`` option's parser, shared by ``generate`` and ``bench noise``."""

from __future__ import annotations

from synthcam_core.errors import SynthcamError


def parse_noise_params(values: tuple[str, ...]) -> dict[str, float]:
    """``("stage.field=value", ...)`` -> ``{"stage.field": value}``; every value a finite number."""
    import math

    params = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SynthcamError(
                f"--noise-param {text!r} is not of the form stage.field=value, e.g. disparity.sigma_units=0.3"
            )
        try:
            number = float(value)
        except ValueError:
            raise SynthcamError(f"--noise-param {text!r}: {value!r} is not a number") from None
        if not math.isfinite(number):
            raise SynthcamError(f"--noise-param {text!r}: the value must be a finite number")
        params[key.strip()] = number
    return params
