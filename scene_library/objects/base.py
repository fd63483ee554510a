"""The contract every parametric object generator follows.

A generator is an :class:`ObjectSpec`: ``sample(rng) -> params`` draws a JSON-serialisable parameter
dict (variant and dimensions, metres), and ``build(params) -> Piece`` turns it into meshes,
deterministically, so a scene description that stores ``(kind, params, pose)`` reloads exactly.

Local frame of a piece (metres): the bounding box is ``x in [-width/2, width/2]``,
``y in [-depth/2, depth/2]``, ``z in [0, height]``; every vertex of every part lies inside it and the
lowest vertex is at z = 0. The *back* is at ``y = +depth/2`` (the side that goes against a wall) and the
front faces ``-y``. Wall-mounted pieces (pictures, mirrors, doors, windows, curtains, ...) use the same
frame: their back touches the wall, ``depth`` is how far they stand out of it, and z = 0 is their lower
edge (the placer lifts them to the mounting height).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import trimesh

#: Where a kind of object goes.
PLACEMENTS = (
    "wall",  # stands on the floor with its back against a wall (bed, dresser, bookshelf, ...)
    "corner",  # stands on the floor in a corner (or against a wall)
    "free",  # stands on the floor anywhere, any yaw (table, armchair, floor lamp, ...)
    "wall_mounted",  # hangs on a wall at ``mount_height`` (picture, mirror, whiteboard, shelves, ...)
    "opening",  # door or window, mounted flush on a wall (the shell places these)
    "surface",  # small object resting on a support surface of another piece (books, paper, box, ...)
    "floor_clutter",  # small object on the floor (box, bag, bin, floor mat)
)


@dataclass(frozen=True)
class Part:
    """One labelled mesh of a piece, in the piece's local frame (metres)."""

    name: str
    class40: int
    mesh: trimesh.Trimesh


@dataclass(frozen=True)
class Support:
    """A horizontal rectangle, in the piece's local frame, on which small objects can rest.

    z : height of the surface (m). x0 < x1, y0 < y1 : its extent (m).
    clearance : free height above the surface (m); ``inf`` for an open top, the gap for a shelf.
    """

    z: float
    x0: float
    y0: float
    x1: float
    y1: float
    clearance: float = float("inf")


@dataclass(frozen=True)
class Piece:
    """A built object: its parts and its local bounding box (see the module docstring).

    kind : registry name, e.g. ``"bed"``. params : the dict it was built from.
    supports : surfaces for small objects (table tops, shelves, counter tops, ...).
    """

    kind: str
    params: dict
    parts: tuple[Part, ...]
    width: float
    depth: float
    height: float
    supports: tuple[Support, ...] = ()


@dataclass(frozen=True)
class ObjectSpec:
    """A registered generator.

    kind : registry name (``snake_case``); class40 : NYU40 id of the main part.
    placement : one of :data:`PLACEMENTS`.
    sample : draws params from a ``numpy.random.Generator``; build : params -> :class:`Piece`.
    mount_height : for ``wall_mounted`` pieces, the range of the lower edge above the floor (m).
    front_clearance : free floor to keep in front of the piece (m), e.g. to open a wardrobe or sit.
    """

    kind: str
    class40: int
    placement: str
    sample: Callable[[np.random.Generator], dict]
    build: Callable[[dict], Piece]
    mount_height: tuple[float, float] | None = None
    front_clearance: float = 0.0
    tags: tuple[str, ...] = field(default=())


def box(extents: tuple[float, float, float], center: tuple[float, float, float]) -> trimesh.Trimesh:
    """Axis-aligned box with the given (x, y, z) extents and centre, metres."""
    return trimesh.creation.box(extents=extents, transform=trimesh.transformations.translation_matrix(center))


def cylinder(
    radius: float, z0: float, z1: float, xy: tuple[float, float] = (0.0, 0.0), sections: int = 16
) -> trimesh.Trimesh:
    """Vertical cylinder from height z0 to z1 around plan point ``xy``, metres."""
    mesh = trimesh.creation.cylinder(radius=radius, height=z1 - z0, sections=sections)
    mesh.apply_translation((xy[0], xy[1], (z0 + z1) / 2))
    return mesh


def merge(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    """One mesh from several (no boolean union: the pieces may touch or nest)."""
    return cast(trimesh.Trimesh, trimesh.util.concatenate(meshes))  # a Trimesh for Trimesh inputs


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A float (not a numpy scalar) drawn uniformly from [lo, hi], rounded to 0.1 mm for JSON."""
    return round(float(rng.uniform(lo, hi)), 4)
