"""Plan-view geometry for layout: oriented boxes, overlap tests and free-floor rasters (metres, radians)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box3:
    """An oriented box standing upright: plan centre (cx, cy), yaw about z, size (w, d), z range [z0, z1]."""

    cx: float
    cy: float
    yaw: float
    w: float
    d: float
    z0: float
    z1: float

    def corners(self) -> np.ndarray:
        """(4, 2) plan corners, counter-clockwise."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        local = np.array([[-self.w, -self.d], [self.w, -self.d], [self.w, self.d], [-self.w, self.d]]) / 2
        return local @ np.array([[c, s], [-s, c]]) + (self.cx, self.cy)

    def grown(self, margin: float) -> Box3:
        """The same box enlarged by ``margin`` on every plan side."""
        return Box3(self.cx, self.cy, self.yaw, self.w + 2 * margin, self.d + 2 * margin, self.z0, self.z1)


def plan_overlap(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether two convex plan polygons (K, 2) overlap by more than ``tol`` (separating-axis test)."""
    for poly in (a, b):
        edges = np.concatenate((poly[1:], poly[:1])) - poly  # next vertex minus this one
        normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        pa, pb = a @ normals.T, b @ normals.T
        if np.any((pa.max(axis=0) <= pb.min(axis=0) + tol) | (pb.max(axis=0) <= pa.min(axis=0) + tol)):
            return False
    return True


def boxes_overlap(a: Box3, b: Box3, tol: float = 1e-6) -> bool:
    """Whether two upright boxes share volume (z ranges and plan footprints both overlap by > ``tol``).

    Pure-Python separating-axis test on the four edge directions (the hot path of the layout solver).
    """
    if a.z1 <= b.z0 + tol or b.z1 <= a.z0 + tol:
        return False
    dx, dy = b.cx - a.cx, b.cy - a.cy
    aw, ad, bw, bd = a.w, a.d, b.w, b.d
    if math.hypot(dx, dy) >= math.hypot(aw, ad) / 2 + math.hypot(bw, bd) / 2:
        return False  # bounding circles apart
    ca, sa, cb, sb = math.cos(a.yaw), math.sin(a.yaw), math.cos(b.yaw), math.sin(b.yaw)
    aw, ad, bw, bd = aw / 2, ad / 2, bw / 2, bd / 2
    for ux, uy in ((ca, sa), (-sa, ca), (cb, sb), (-sb, cb)):
        ra = aw * abs(ux * ca + uy * sa) + ad * abs(-ux * sa + uy * ca)
        rb = bw * abs(ux * cb + uy * sb) + bd * abs(-ux * sb + uy * cb)
        if abs(dx * ux + dy * uy) >= ra + rb - tol:
            return False
    return True


def rect_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def rasterize(polygons: list[np.ndarray], shape: tuple[int, int], cell: float) -> np.ndarray:
    """(H, W) uint8 mask, 1 where any of the plan polygons (metres) covers a cell of size ``cell``."""
    import cv2

    mask = np.zeros(shape, dtype=np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly / cell - 0.5).astype(np.int32)], 1)
    return mask


def free_floor_connected(
    room_polygon: np.ndarray,
    obstacles: list[np.ndarray],
    radius: float,
    must_reach: list[np.ndarray],
    cell: float = 0.05,
) -> bool:
    """Whether a disc of ``radius`` m can move between all ``must_reach`` plan points through free floor.

    Free floor is the room polygon minus obstacle footprints, eroded by ``radius``; each point of
    ``must_reach`` (2,) must fall in the eroded free space (nearest free cell within ``radius``) and all
    in one connected component.
    """
    import cv2

    hi = room_polygon.max(axis=0)
    shape = (int(np.ceil(hi[1] / cell)) + 2, int(np.ceil(hi[0] / cell)) + 2)
    free = rasterize([room_polygon], shape, cell) & (1 - rasterize(obstacles, shape, cell))
    k = 2 * int(np.ceil(radius / cell)) + 1
    eroded = cv2.erode(free, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, labels = cv2.connectedComponents(eroded, connectivity=4)
    if n <= 1:
        return False
    reach = set()
    r = int(np.ceil(radius / cell))
    for p in must_reach:
        j, i = int(p[0] / cell), int(p[1] / cell)
        window = labels[max(i - r, 0) : i + r + 1, max(j - r, 0) : j + r + 1]
        ids = set(np.unique(window[window > 0]).tolist())
        if not ids:
            return False
        reach.add(min(ids))
    return len(reach) == 1
