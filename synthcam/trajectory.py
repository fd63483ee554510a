"""Handheld-like camera trajectories inside a room.

The eye and the look-at point each follow a uniform cubic B-spline through random control points:
eye control points at handheld height inside the room, look-at control points on furniture. A
B-spline stays inside the convex hull of its control points, so the eye height stays in the sampled
band; clearance to all geometry is checked densely along the curve and a trajectory that comes closer
than ``clearance`` metres is resampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from scene_library import Scene
from synthcam.camera import look_at
from synthcam.errors import SynthcamError

SHELL_PIECES = ("floor", "ceiling", "wall_0", "wall_1", "wall_2", "wall_3", "door", "window", "picture")


@dataclass(frozen=True)
class Trajectory:
    """Camera path of one room.

    poses : (N, 4, 4) float64 camera-to-world (OpenCV camera axes).
    timestamps : (N,) float64 seconds from the first frame.
    """

    poses: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)


def bspline(control: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Clamped uniform cubic B-spline.

    control : (K, D) control points, K >= 2.
    t : (N,) parameters in [0, 1].
    Returns (N, D) points; t = 0 and t = 1 give the first and last control point.
    """
    pts = np.concatenate([control[:1], control[:1], control, control[-1:], control[-1:]])
    segments = len(pts) - 3
    s = np.clip(t, 0.0, 1.0) * segments
    i = np.minimum(s.astype(int), segments - 1)
    u = (s - i)[:, None]
    b0, b1 = (1 - u) ** 3, 3 * u**3 - 6 * u**2 + 4
    b2, b3 = -3 * u**3 + 3 * u**2 + 3 * u + 1, u**3
    return (b0 * pts[i] + b1 * pts[i + 1] + b2 * pts[i + 2] + b3 * pts[i + 3]) / 6.0


def furniture_targets(scene: Scene) -> np.ndarray:
    """(P, 3) float64 look-at points: the bounding-box centre of each furniture piece, z in [0.3, 1.2] m."""
    groups: dict[str, list[np.ndarray]] = {}
    for obj in scene.objects:
        if obj.piece not in SHELL_PIECES:
            groups.setdefault(obj.piece, []).append(obj.mesh.bounds)
    if not groups:
        raise SynthcamError("the scene has no furniture to look at; add furniture to the room")
    centres = []
    for bounds in groups.values():
        b = np.stack(bounds)
        lo, hi = b[:, 0].min(axis=0), b[:, 1].max(axis=0)
        c = (lo + hi) / 2
        c[2] = np.clip(c[2], 0.3, 1.2)
        centres.append(c)
    return np.array(centres)


def sample_trajectory(
    scene: Scene,
    n_frames: int,
    rng: np.random.Generator,
    distance: Callable[[np.ndarray], np.ndarray],
    height: tuple[float, float] = (1.1, 1.6),
    clearance: float = 0.3,
    speed: float = 0.5,
    max_tries: int = 100,
    view_score: Callable[[np.ndarray], float] | None = None,
    key_view: float = 0.2,
    path_view: float = 0.08,
) -> Trajectory:
    """Sample a trajectory of ``n_frames`` poses.

    distance : maps (N, 3) world points to (N,) distances to the nearest surface, metres.
    height : eye height band, metres above the floor.
    clearance : least distance from the eye to any geometry along the whole path, metres.
    speed : mean eye speed in m/s, which sets the timestamps.
    view_score : optional score of a (4, 4) pose, e.g. the fraction of pixels showing furniture;
        every key view must reach ``key_view`` and every frame ``path_view``.
    Raises :class:`SynthcamError` when no valid path is found in ``max_tries`` attempts.
    """
    sx, sy, _ = scene.room.size
    targets = furniture_targets(scene)
    n_ctrl = 4 + n_frames // 40
    dense_t = np.linspace(0.0, 1.0, max(8 * n_frames, 64))
    margin = clearance + 0.1

    def key_view_pair() -> tuple[np.ndarray, np.ndarray] | None:
        for _ in range(50):
            eye = np.array([rng.uniform(margin, sx - margin), rng.uniform(margin, sy - margin),
                            rng.uniform(height[0] + 0.05, height[1] - 0.05)])
            look = targets[rng.integers(len(targets))] + rng.normal(0.0, 0.1, 3)
            if np.linalg.norm((look - eye)[:2]) < 1.5 or distance(eye[None])[0] < margin:
                continue
            if view_score is None or view_score(look_at(eye, look)) >= key_view:
                return eye, look
        return None

    for _ in range(max_tries):
        keys = [key_view_pair() for _ in range(n_ctrl)]
        if any(k is None for k in keys):
            continue
        eyes = np.array([k[0] for k in keys])
        looks = np.repeat(np.array([k[1] for k in keys]), 2, axis=0)  # the gaze dwells on each target
        path = bspline(eyes, dense_t)
        if np.any(distance(path) < clearance):
            continue
        t = np.linspace(0.0, 1.0, n_frames)
        eye, look = bspline(eyes, t), bspline(looks, t)
        if np.any(np.linalg.norm((look - eye)[:, :2], axis=1) < 1.0):
            continue  # too steep a view
        poses = np.stack([look_at(e, g) for e, g in zip(eye, look)])
        if view_score is not None and any(view_score(p) < path_view for p in poses):
            continue
        length = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
        timestamps = t * max(length / speed, 1e-3)
        return Trajectory(poses=poses, timestamps=timestamps)
    raise SynthcamError(f"no trajectory with {clearance} m clearance that sees the furniture was found in "
                        f"{max_tries} tries; the room is too cluttered or too empty")


def furniture_fraction(scene: Scene, render_instances: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], float]:
    """A ``view_score``: the fraction of pixels that show furniture from a (4, 4) pose.

    render_instances : maps a pose to an (h, w) instance-id image (a low-resolution render is enough).
    """
    furniture = np.zeros(max(o.instance_id for o in scene.objects) + 1, dtype=bool)
    for o in scene.objects:
        furniture[o.instance_id] = o.piece not in SHELL_PIECES
    return lambda pose: float(furniture[render_instances(pose)].mean())
