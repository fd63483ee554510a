"""The stage registry lists every stage the presets use, and every stage checks its numbers alike."""

from __future__ import annotations

import dataclasses

import pytest

import noise_models
from noise_models.checks import require, require_finite


def test_registry_holds_every_preset_stage_by_name():
    used = {type(st) for build in noise_models.PRESETS.values() for st in build().values()}
    assert used <= set(noise_models.STAGE_TYPES.values())
    assert all(noise_models.STAGE_TYPES[name].__name__ == name for name in noise_models.STAGE_TYPES)
    assert all(issubclass(cls, noise_models.Stage) for cls in noise_models.STAGE_TYPES.values())


@pytest.mark.parametrize("name", sorted(noise_models.STAGE_TYPES))
def test_every_numeric_field_refuses_nan_and_fractional_integers(name):
    cls = noise_models.STAGE_TYPES[name]
    for f in dataclasses.fields(cls):
        if f.type == "float":
            with pytest.raises(ValueError, match=f"{f.name} must be a finite number"):
                cls(**{f.name: float("nan")})
        elif f.type == "int":
            with pytest.raises(ValueError, match=f"{f.name} must be a whole number"):
                cls(**{f.name: 2.5})


def test_checks_raise_one_line_value_errors():
    require(True, "never")
    with pytest.raises(ValueError, match="^bad thing$"):
        require(False, "bad thing")

    @dataclasses.dataclass
    class Probe:
        size: int = 1
        scale: float = 1.0

    require_finite(Probe(3, 0.5))
    with pytest.raises(ValueError, match="scale must be a finite number, got inf"):
        require_finite(Probe(3, float("inf")))
    with pytest.raises(ValueError, match="size must be a whole number, got 1.5"):
        require_finite(Probe(1.5, 0.5))
