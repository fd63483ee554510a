"""Which camera views a trajectory keeps: room structure against objects, per-view statistics from an
instance image, and the acceptance rules (at most so much wall, at least so many objects)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from scene_library import Scene, SceneObject
from synthcam_core.labels import class40_id

#: Kinds of piece that are room structure rather than objects: the shell, openings and what hangs flat on a
#: wall. A piece name is its kind with an optional ``_<number>`` suffix (``wall_2``, ``door_1``).
STRUCTURE_KINDS = frozenset({"floor", "ceiling", "wall", "skirting", "door", "window", "picture", "curtain", "blinds"})


def piece_kind(piece: str) -> str:
    """The kind of a piece name: ``"wall_2"`` -> ``"wall"``, ``"bed_3"`` -> ``"bed"``, ``"floor"`` -> ``"floor"``."""
    return re.sub(r"_\d+$", "", piece)


def is_structure(obj: SceneObject) -> bool:
    """True when ``obj`` belongs to the room structure (floor, ceiling, walls, openings, pictures, ...).

    An object counts as structure when its piece kind is in :data:`STRUCTURE_KINDS` or when it carries a
    true ``structure`` attribute (a hook for scene libraries that mark structure explicitly).
    """
    return (
        bool(getattr(obj, "structure", False))
        or piece_kind(obj.piece) in STRUCTURE_KINDS
        or obj.class40 in _structure_classes()
    )


@lru_cache(maxsize=1)
def _structure_classes() -> frozenset[int]:
    """NYU40 ids of the structure kinds (so imported scenes are judged by their labels too)."""
    return frozenset(
        class40_id(k) for k in ("floor", "ceiling", "wall", "door", "window", "picture", "curtain", "blinds")
    )


@dataclass(frozen=True)
class ViewRules:
    """Per-frame and per-walk acceptance rules.

    max_wall : largest pixel share of class wall. max_surfaces : largest share of wall + floor + ceiling.
    min_objects, min_object_share : at least ``min_objects`` non-structure instances must each cover
        ``min_object_share`` of the pixels.
    max_rejected : largest share of rejected candidate frames in an accepted walk.
    min_travel, min_mean_speed : the eye must travel at least ``min(min_travel, min_mean_speed * duration)``
        metres between the first and the last frame.
    """

    max_wall: float = 0.70
    max_surfaces: float = 0.85
    min_objects: int = 3
    min_object_share: float = 0.005
    max_rejected: float = 0.2
    min_travel: float = 1.0
    min_mean_speed: float = 0.1


@dataclass(frozen=True)
class ViewStats:
    """Per-frame view statistics: (N,) float64 pixel shares ``wall`` and ``surfaces`` (wall + floor +
    ceiling), and (N,) int64 ``objects``, the number of non-structure instances covering >= 1 % each."""

    wall: np.ndarray
    surfaces: np.ndarray
    objects: np.ndarray


class ViewJudge:
    """Computes :class:`ViewStats` rows from instance images and applies :class:`ViewRules`."""

    def __init__(self, scene: Scene, rules: ViewRules):
        self.rules = rules
        n = max(o.instance_id for o in scene.objects) + 2  # the last entry catches unknown ids
        self.wall = np.zeros(n, dtype=bool)
        self.surface = np.zeros(n, dtype=bool)
        self.object = np.zeros(n, dtype=bool)
        surfaces = {class40_id("wall"), class40_id("floor"), class40_id("ceiling")}
        for o in scene.objects:
            self.wall[o.instance_id] = o.class40 == class40_id("wall")
            self.surface[o.instance_id] = o.class40 in surfaces
            self.object[o.instance_id] = not is_structure(o)

    def stats(self, instance: np.ndarray) -> tuple[float, float, int]:
        """(wall share, wall + floor + ceiling share, objects covering >= ``min_object_share``) of an instance image."""
        ids = np.minimum(np.asarray(instance).ravel(), len(self.wall) - 1)
        shares = np.bincount(ids, minlength=len(self.wall)) / max(ids.size, 1)
        n_obj = int(np.count_nonzero(shares[self.object] >= self.rules.min_object_share))
        return float(shares[self.wall].sum()), float(shares[self.surface].sum()), n_obj

    def accepts(self, wall: float, surfaces: float, objects: int) -> bool:
        r = self.rules
        return wall <= r.max_wall and surfaces <= r.max_surfaces and objects >= r.min_objects


#: Rooms with at least this floor area (m^2) get the stricter :data:`OPEN_ROOM_RULES`.
OPEN_ROOM_AREA = 9.0
#: In rooms with space to step back, views may show at most 55 % wall (NYUv2 frames average 31 %).
OPEN_ROOM_RULES = ViewRules(max_wall=0.55, max_surfaces=0.80)


def view_rules_for(scene: Scene) -> ViewRules:
    """The view rules for a room: :data:`OPEN_ROOM_RULES` from :data:`OPEN_ROOM_AREA` m^2 of floor, else the
    defaults (a small bathroom cannot avoid walls filling most views)."""
    return OPEN_ROOM_RULES if scene.room.area >= OPEN_ROOM_AREA else ViewRules()
