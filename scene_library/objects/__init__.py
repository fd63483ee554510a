"""Parametric object generators: one :class:`~scene_library.objects.base.ObjectSpec` per kind of object.

``OBJECTS`` maps a kind name to its spec. A piece is drawn with ``sample_piece(kind, rng)``, or rebuilt
exactly from stored params with ``build_piece(kind, params)``; see :mod:`scene_library.objects.base` for
the local-frame contract every piece obeys (metres, z up, back at +y, footprint centred, lowest vertex at
z = 0).

Families (one module each): :mod:`.seating`, :mod:`.beds`, :mod:`.tables`, :mod:`.storage`, :mod:`.kitchen`,
:mod:`.bathroom`, :mod:`.wall_items`, :mod:`.electronics`, :mod:`.small_objects` (which registers the kinds of
:mod:`.clutter`, :mod:`.lamps` and :mod:`.tableware` too).

Hints carried by ``ObjectSpec.tags``: room types the kind suits (``"bedroom"``, ``"living_room"``,
``"kitchen"``, ``"bathroom"``, ``"office"``, ``"dining_room"``); ``"tall"`` (always taller than 1.15 m: keep
pictures off the wall above it); ``"flat"`` (a rug or mat: other furniture may stand on it); ``"monitor"``
(goes on desks); ``"window"`` and ``"fit_to_window"`` (curtains and blinds: the room code sets their
``width`` and ``height`` params to suit the window and ceiling, and mounts them itself; their
``mount_height`` is None).
"""

from __future__ import annotations

import numpy as np

from scene_library.errors import SceneError
from scene_library.objects import (
    bathroom,
    beds,
    electronics,
    kitchen,
    seating,
    small_objects,
    storage,
    tables,
    wall_items,
)
from scene_library.objects.base import PLACEMENTS, ObjectSpec, Part, Piece, Support

_FAMILIES = (seating, beds, tables, storage, kitchen, bathroom, wall_items, electronics, small_objects)

#: Every registered spec, in family order.
_SPECS: tuple[ObjectSpec, ...] = tuple(s for family in _FAMILIES for s in family.SPECS)


def _registry(specs: tuple[ObjectSpec, ...]) -> dict[str, ObjectSpec]:
    out: dict[str, ObjectSpec] = {}
    for s in specs:
        assert s.kind not in out, f"duplicate object kind {s.kind!r}"
        assert s.placement in PLACEMENTS, f"{s.kind}: unknown placement {s.placement!r}"
        out[s.kind] = s
    return out


#: Registered object kinds.
OBJECTS: dict[str, ObjectSpec] = _registry(_SPECS)


def get_spec(kind: str) -> ObjectSpec:
    """The spec of ``kind``; an unknown kind raises :class:`SceneError` listing the valid kinds."""
    try:
        return OBJECTS[kind]
    except KeyError:
        raise SceneError(f"unknown object kind {kind!r}; valid kinds: {', '.join(sorted(OBJECTS))}") from None


def sample_piece(kind: str, rng: np.random.Generator) -> Piece:
    """Draw params for ``kind`` from ``rng`` and build the piece."""
    spec = get_spec(kind)
    return spec.build(spec.sample(rng))


def build_piece(kind: str, params: dict) -> Piece:
    """Build ``kind`` from stored params (deterministic: the same params give bit-identical meshes).

    Params missing a key raise :class:`SceneError` naming it (draw complete params with ``sample``)."""
    spec = get_spec(kind)
    try:
        return spec.build(params)
    except KeyError as err:
        raise SceneError(
            f"params for object kind {kind!r} lack the key {err.args[0]!r}; draw them with "
            f"get_spec({kind!r}).sample(rng) (got keys: {', '.join(sorted(params)) or 'none'})"
        ) from None


def kinds_by_placement(placement: str) -> tuple[str, ...]:
    """Registered kinds with the given placement (one of :data:`~scene_library.objects.base.PLACEMENTS`)."""
    if placement not in PLACEMENTS:
        raise SceneError(f"unknown placement {placement!r}; valid placements: {', '.join(PLACEMENTS)}")
    return tuple(k for k, s in OBJECTS.items() if s.placement == placement)


__all__ = [
    "OBJECTS",
    "PLACEMENTS",
    "ObjectSpec",
    "Part",
    "Piece",
    "Support",
    "build_piece",
    "get_spec",
    "kinds_by_placement",
    "sample_piece",
]
