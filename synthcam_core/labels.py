"""The label vocabulary: NYUv2-40 class ids and names, and the derived 13-class space.

Tables are loaded from the data files shipped in ``synthcam_core/data`` (copies of the project's
shared benchmark metadata), never retyped here. Class ids are 1-based; 0 means void/unlabelled.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np

from synthcam_core.errors import InputError

VOID = 0


def _load_json(name: str) -> dict:
    return json.loads(resources.files("synthcam_core").joinpath("data").joinpath(name).read_text())


@cache
def class40_names() -> tuple[str, ...]:
    """Names of the NYUv2-40 classes indexed by id: entry 0 is ``"void"``, entries 1..40 the classes."""
    return ("void", *_load_json("classMapping40.json")["className_40"])


@cache
def class13_names() -> tuple[str, ...]:
    """Names of the 13 SceneNet/Eigen classes indexed by id (entry 0 is ``"void"``)."""
    return ("void", *_load_json("class13Mapping.json")["classNames_13"])


@cache
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
    raise InputError(f"unknown NYU40 class {name!r}; valid names: {', '.join(names[1:])}")


@cache
def class894_to_40() -> np.ndarray:
    """(895,) uint8 lookup table mapping an NYUv2 894-class id (0 = unlabelled) to its NYU40 id (Gupta et al.)."""
    table = _load_json("classMapping40.json")["mapClass_894_to_40"]
    return np.asarray([0, *table], dtype=np.uint8)


@cache
def raw_name_to_40() -> dict[str, int]:
    """NYU40 id of each of NYUv2's 894 raw object names (``"tv stand"`` -> 39 otherfurniture)."""
    data = _load_json("classMapping40.json")
    return {name: int(id40) for name, id40 in zip(data["allClassName_894"], data["mapClass_894_to_40"])}


@cache
def class37_names() -> tuple[str, ...]:
    """Names of the SUN RGB-D 37 classes (``seg37list``) indexed by id (entry 0 is ``"void"``)."""
    return ("void", *_load_json("seg37list.json")["seg37list"])


@cache
def sunrgbd_name_to_40() -> dict[str, int]:
    """SUN RGB-D object names in underscore style (``night_stand``, ``fridge``, ...) -> NYU40 id."""
    return {name: int(id40) for name, id40 in _load_json("nicr_sunrgbd_name_to_nyu40.json").items()}


@cache
def class40_to_37() -> np.ndarray:
    """(41,) uint8 lookup table NYU40 id -> SUN RGB-D 37-class id (NYU40 38..40 and 0 -> 0 = void).

    Derived by name: a seg37 name equal to a NYU40 name (underscores as spaces) takes that id, the
    others (``fridge``, ``tv``) are looked up in the SUN RGB-D object name -> NYU40 table.
    """
    names40 = class40_names()
    alias = sunrgbd_name_to_40()
    lut = np.zeros(len(names40), dtype=np.uint8)
    for id37, name in enumerate(class37_names()[1:], start=1):
        key = name.replace("_", " ")
        id40 = names40.index(key) if key in names40 else int(alias[name])
        assert lut[id40] == 0, f"two SUN37 classes map to NYU40 id {id40}"
        lut[id40] = id37
    return lut


@cache
def class37_to_40() -> np.ndarray:
    """(38,) uint8 lookup table SUN RGB-D 37-class id -> NYU40 id (the inverse of :func:`class40_to_37`)."""
    forward = class40_to_37()
    lut = np.zeros(38, dtype=np.uint8)
    lut[forward[forward > 0]] = np.nonzero(forward)[0]
    return lut
