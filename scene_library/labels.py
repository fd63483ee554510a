"""The label vocabulary: NYUv2-40 class ids and names, and the derived 13-class space.

Tables are loaded from the data files shipped in ``scene_library/data`` (copies of the project's
shared benchmark metadata), never retyped here. Class ids are 1-based; 0 means void/unlabelled.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from scene_library.errors import SceneError

VOID = 0


def _load_json(name: str) -> dict:
    return json.loads(resources.files("scene_library").joinpath("data", name).read_text())


@lru_cache(maxsize=None)
def class40_names() -> tuple[str, ...]:
    """Names of the NYUv2-40 classes indexed by id: entry 0 is ``"void"``, entries 1..40 the classes."""
    return ("void", *_load_json("classMapping40.json")["className_40"])


@lru_cache(maxsize=None)
def class13_names() -> tuple[str, ...]:
    """Names of the 13 SceneNet/Eigen classes indexed by id (entry 0 is ``"void"``)."""
    return ("void", *_load_json("class13Mapping.json")["classNames_13"])


@lru_cache(maxsize=None)
def class40_to_13() -> np.ndarray:
    """(41,) uint8 lookup table mapping a 40-class id (0 = void) to its 13-class id."""
    table = _load_json("class13Mapping.json")["labels13_40_to_13"]
    return np.asarray([0, *table], dtype=np.uint8)


def class40_id(name: str) -> int:
    """The NYUv2-40 id of ``name`` (spaces or underscores, any case); a miss lists valid names."""
    key = name.strip().lower().replace("_", " ")
    names = class40_names()
    if key in names[1:]:
        return names.index(key)
    raise SceneError(f"unknown NYU40 class {name!r}; valid names: {', '.join(names[1:])}")
