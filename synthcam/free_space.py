"""Clearance of camera eye positions in a room: distance to the geometry and to the footprint's edges."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from scene_library import Scene

DistanceFn = Callable[[np.ndarray], np.ndarray]
"""Maps (N, 3) world points (m) to (N,) distances (m) to the nearest surface."""


class FreeSpace:
    """Clearance of eye positions: the smaller of the distance to the geometry and to the footprint edges.

    Points outside the footprint get a negative clearance.
    """

    def __init__(self, scene: Scene, distance: DistanceFn):
        self.room = scene.room
        self.distance = distance
        poly = np.asarray(scene.room.footprint, dtype=np.float64)
        self._a = poly
        self._ab = np.roll(poly, -1, axis=0) - poly
        self._ab2 = np.maximum((self._ab**2).sum(axis=1), 1e-300)
        self._a0, self._a1 = poly[:, 0].copy(), poly[:, 1].copy()
        self._ab0, self._ab1 = self._ab[:, 0].copy(), self._ab[:, 1].copy()
        # Next vertex's y and the edge's run (+1e-300, as scene_library.scene.points_in_polygon) for the inside test.
        self._b1 = np.concatenate((poly[1:, 1], poly[:1, 1]))
        self._run = self._b1 - self._a1 + 1e-300
        self.lo, self.hi = poly.min(axis=0), poly.max(axis=0)

    def edge_distance(self, xy: np.ndarray) -> np.ndarray:
        """(N,) plan distance (m) from the (N, 2) points to the footprint edges, negative outside."""
        # Per component, the same operations as the vector form |rel - t * ab| with t = clip(rel . ab / |ab|^2).
        rx, ry = xy[:, 0:1] - self._a0, xy[:, 1:2] - self._a1  # (N, P) each
        # np.minimum(np.maximum()) rather than np.clip (slow on tiny arrays): they differ only in the sign of a
        # zero t, which cannot change the distance.
        t = np.minimum(np.maximum((rx * self._ab0 + ry * self._ab1) / self._ab2, 0.0), 1.0)
        ex, ey = rx - t * self._ab0, ry - t * self._ab1
        d = np.sqrt(ex * ex + ey * ey).min(axis=1)
        # Inside the footprint: the even-odd test of Room.contains (scene_library.scene.points_in_polygon),
        # with the same operations, sharing ry with the distance above.
        x, y = xy[:, 0:1], xy[:, 1:2]
        crosses = ((self._a1 > y) != (self._b1 > y)) & (x < self._ab0 * ry / self._run + self._a0)
        return np.where(np.count_nonzero(crosses, axis=1) % 2 == 1, d, -d)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """(N,) clearance (m) of the (N, 3) world points."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return np.minimum(np.asarray(self.distance(points), dtype=np.float64), self.edge_distance(points[:, :2]))

    def with_gradient(self, p: tuple[float, float, float], h: float = 0.02) -> tuple[float, float, float]:
        """Clearance at ``p`` and its unit plan gradient ``(gx, gy)`` (zero where flat), by central differences."""
        x, y, z = p
        pts = np.array([[x, y, z], [x + h, y, z], [x - h, y, z], [x, y + h, z], [x, y - h, z]])
        d = self(pts)
        gx, gy = (d[1] - d[2]) / (2 * h), (d[3] - d[4]) / (2 * h)
        norm = math.hypot(gx, gy)
        if norm < 1e-9:
            return float(d[0]), 0.0, 0.0
        return float(d[0]), gx / norm, gy / norm

    def segment_clear(self, a: np.ndarray, b: np.ndarray, clearance: float, spacing: float = 0.02) -> bool:
        """True when every point of the segment a-b (world, m) keeps ``clearance`` m.

        Samples at most ``spacing`` m apart each keep ``clearance + spacing / 2`` (clearance is 1-Lipschitz).
        """
        length = float(np.linalg.norm(b - a))
        n = max(2, int(math.ceil(length / spacing)) + 1)
        step = length / (n - 1)
        pts = a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
        return bool(np.all(self(pts) >= clearance + step / 2))
