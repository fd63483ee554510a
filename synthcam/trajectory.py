"""Handheld-like camera trajectories: a two-body random walk of the eye and a look-at point.

The model follows SceneNet RGB-D's two-body walk (a camera and a look-at target pushed by random forces,
re-proposed on collision) retuned to a person walking slowly with a handheld depth camera, as in NYUv2
(research notes ``scene_generation.md`` sections 1.3, 4.3 and 6.3):

- **Eye body**: a point mass pushed by a smooth random force (an Ornstein-Uhlenbeck process), slowed by
  linear drag towards a cruise speed of 0.3 m/s, kept in a plan distance band from the piece of
  furniture in focus and pushed away from nearby geometry. The band is drawn at every focus choice: a far
  view across the room (3-8 m, as far as the room allows) or, with probability 0.2, a close-up
  (0.6-1.2 m), so frames span near furniture and far walls as NYUv2 depth does (mean 2.84 m, sd 1.42 m).
  Its acceleration is capped at 0.5 m/s^2 and its speed at 0.5 m/s. Its height is a damped spring around
  a per-trajectory ``h0`` (uniform in the height band shrunk by 5 cm) with a wobble of about 3 cm,
  clamped to the band.
- **Look-at body**: a point mass in plan, pulled towards the furniture piece in focus; pieces are chosen
  with weights proportional to their plan area (beds, sofas and tables more often than night stands).
  The focus moves to another piece every 5-10 s and whenever a view is rejected, preferring pieces whose
  view from the current eye passes the view rules (one low-resolution render per piece). The camera yaw
  turns towards the look-at body at most 45 deg/s. The pitch is a smooth random process (sd 6 deg)
  around the mean of -12 deg and the elevation of the look-at point (half each), clamped to
  [-40, +5] deg: close-ups look down onto the piece, far views nearly level (about -15 deg on average).
  Roll is 0.
- **Time**: the walk is simulated at 25 Hz; after a 3 s burn-in every 10th step (0.4 s) is a candidate
  frame; a frame's timestamp is its step index over the rate, counted from the first frame.
- **Constraints**: the eye stays inside the room footprint and at least ``clearance + 0.05`` m from all
  geometry at every simulation step (a step is at most 2 cm, so the whole simulated path keeps
  ``clearance``); a violating step is re-proposed with a fresh random force up to 5 times, then the
  velocity is reflected off the obstacle (or zeroed). The straight segment between consecutive frames
  is also checked densely against ``clearance``.
- **Views**: a candidate frame is rendered at low resolution and rejected when wall covers more than
  70 % of it, wall + floor + ceiling more than 85 %, or fewer than 3 object instances (not room
  structure) cover at least 1 % each. Rejected candidates are skipped (the frames stay a time-ordered
  video sequence with a gap). A walk is abandoned and a new one started when more than 20 % of its
  candidates are rejected or the eye travels less than ``min(1 m, 0.1 m/s * duration)``.
"""

from __future__ import annotations

from functools import lru_cache

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from scene_library import Scene, SceneObject
from synthcam_core.labels import class40_id
from synthcam_core.camera import look_at
from synthcam_core.errors import SynthcamError

#: Kinds of piece that are room structure rather than objects: the shell, openings and what hangs flat on a
#: wall. A piece name is its kind with an optional ``_<number>`` suffix (``wall_2``, ``door_1``).
STRUCTURE_KINDS = frozenset({"floor", "ceiling", "wall", "skirting", "door", "window", "picture", "curtain", "blinds"})

#: Most focus candidates whose view is rendered and scored at a focus switch.
MAX_SCORED = 8

DistanceFn = Callable[[np.ndarray], np.ndarray]
"""Maps (N, 3) world points (m) to (N,) distances (m) to the nearest surface."""

RenderInstancesFn = Callable[[np.ndarray], np.ndarray]
"""Maps a (4, 4) camera-to-world pose to an (h, w) uint16 instance-id image (a low resolution is enough)."""


def piece_kind(piece: str) -> str:
    """The kind of a piece name: ``"wall_2"`` -> ``"wall"``, ``"bed_3"`` -> ``"bed"``, ``"floor"`` -> ``"floor"``."""
    return re.sub(r"_\d+$", "", piece)


def is_structure(obj: SceneObject) -> bool:
    """True when ``obj`` belongs to the room structure (floor, ceiling, walls, openings, pictures, ...).

    An object counts as structure when its piece kind is in :data:`STRUCTURE_KINDS` or when it carries a
    true ``structure`` attribute (a hook for scene libraries that mark structure explicitly).
    """
    return (bool(getattr(obj, "structure", False)) or piece_kind(obj.piece) in STRUCTURE_KINDS
            or obj.class40 in _structure_classes())


@lru_cache(maxsize=1)
def _structure_classes() -> frozenset[int]:
    """NYU40 ids of the structure kinds (so imported scenes are judged by their labels too)."""
    return frozenset(class40_id(k) for k in ("floor", "ceiling", "wall", "door", "window", "picture", "curtain", "blinds"))


#: Pieces whose top is at most this high (m): beds (headboard included), sofas, tables, desks, what NYUv2
#: frames centre on with the things on them, weigh :data:`LOW_FOCUS_BOOST` times their plan area as focus.
LOW_FOCUS_HEIGHT, LOW_FOCUS_BOOST = 1.35, 3.0


def furniture_targets(scene: Scene, min_size: float = 0.4) -> np.ndarray:
    """(P, 3) float64 focus points, one per large furniture piece: its bounding-box centre, z clipped to [0.3, 1.2] m.

    min_size : a piece is large when the longest side of its bounding box reaches it (m); when no piece is
        large, every piece is a focus point.
    Raises :class:`SynthcamError` when the scene has no furniture (only structure).
    """
    return _furniture_boxes(scene, min_size)[0]


def focus_weights(scene: Scene, min_size: float = 0.4) -> np.ndarray:
    """(P,) float64 weights of the :func:`furniture_targets` points: the plan area (m^2) of each piece's
    bounding box, times :data:`LOW_FOCUS_BOOST` for low pieces, so beds, sofas and tables are looked at more
    often than night stands and wardrobes."""
    return _furniture_boxes(scene, min_size)[1]


def _furniture_boxes(scene: Scene, min_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Focus points (P, 3) and plan areas (P,) of the large furniture pieces (see :func:`furniture_targets`)."""
    groups: dict[str, list[np.ndarray]] = {}
    for obj in scene.objects:
        if not is_structure(obj):
            groups.setdefault(obj.piece, []).append(obj.mesh.bounds)
    if not groups:
        raise SynthcamError("the scene has no furniture to look at; add furniture to the room")
    boxes = np.array([[np.stack(b)[:, 0].min(axis=0), np.stack(b)[:, 1].max(axis=0)] for b in groups.values()])
    large = (boxes[:, 1] - boxes[:, 0]).max(axis=1) >= min_size
    chosen = boxes[large if large.any() else slice(None)]
    centres = chosen.mean(axis=1)
    centres[:, 2] = np.clip(centres[:, 2], 0.3, 1.2)
    extent = chosen[:, 1] - chosen[:, 0]
    low = chosen[:, 1, 2] <= LOW_FOCUS_HEIGHT
    return centres, np.maximum(extent[:, 0] * extent[:, 1], 0.01) * np.where(low, LOW_FOCUS_BOOST, 1.0)


@dataclass(frozen=True)
class WalkParams:
    """Dynamics of the two-body walk (SI units: m, s, rad).

    rate_hz : simulation rate (Hz). frame_every : simulation steps per candidate frame.
    burn_in_s : seconds walked before the first candidate frame.
    max_speed, max_accel : eye speed (m/s) and acceleration (m/s^2) caps. drag : linear drag (1/s).
    cruise_speed, cruise_gain : plan speed (m/s) the walker tends to keep, and how strongly (1/s).
    force_sd, force_tau : per-axis sd (m/s^2) and correlation time (s) of the eye's random plan force.
    height_force_sd, height_omega : sd (m/s^2; correlation time 0.5 s) of the vertical random force and
        natural frequency (rad/s) of the critically damped spring that holds the eye at h0; the defaults give
        a height wobble of about 3 cm sd.
    focus_range : preferred plan distance (m) from the eye to the piece in focus (a far view across the room).
    near_range, near_p : at each focus switch, with probability ``near_p`` the eye goes up close instead,
        ``near_range`` m (in plan) from the piece (a close-up, as handheld NYUv2 frames often are).
    focus_pull : the spring (1/s^2) that keeps the eye in range.
    repel_range, repel_gain : geometry closer than ``clearance + repel_range`` pushes the eye away with
        ``repel_gain`` (1/s^2) times the intrusion.
    look_speed, look_accel, look_pull : caps (m/s, m/s^2) and spring (1/s^2) of the look-at body.
    look_force_sd : per-axis sd (m/s^2) of the look-at body's random force (gaze wander).
    focus_dwell : range of the time (s) between focus switches.
    max_yaw_rate : rad/s. pitch_mean, pitch_sd, pitch_omega : the pitch process (rad, rad, rad/s).
    pitch_follow : weight in [0, 1] of the look-at point's elevation in the pitch process's centre
        (``(1 - w) * pitch_mean + w * elevation``): close-ups look down onto the piece in focus.
    pitch_limits : (min, max) pitch, rad.
    """

    rate_hz: float = 25.0
    frame_every: int = 10
    burn_in_s: float = 3.0
    max_speed: float = 0.5
    max_accel: float = 0.5
    drag: float = 0.5
    cruise_speed: float = 0.3
    cruise_gain: float = 1.0
    force_sd: float = 0.3
    force_tau: float = 1.5
    height_force_sd: float = 0.065
    height_omega: float = 1.0
    focus_range: tuple[float, float] = (3.0, 8.0)
    near_range: tuple[float, float] = (0.6, 1.2)
    near_p: float = 0.2
    focus_pull: float = 0.3
    repel_range: float = 0.4
    repel_gain: float = 2.0
    look_speed: float = 1.0
    look_accel: float = 1.0
    look_pull: float = 1.0
    look_force_sd: float = 0.3
    focus_dwell: tuple[float, float] = (5.0, 10.0)
    max_yaw_rate: float = math.radians(45.0)
    pitch_mean: float = math.radians(-12.0)
    pitch_sd: float = math.radians(6.0)
    pitch_omega: float = 1.5
    pitch_follow: float = 0.5
    pitch_limits: tuple[float, float] = (math.radians(-40.0), math.radians(5.0))


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


@dataclass(frozen=True)
class SamplingStats:
    """How the trajectory was found.

    attempts : walks started (the last one succeeded). failures : failed walks by reason.
    candidates, rejected_views, rejected_segments : candidate frames of the accepted walk, and those
        rejected by the view rules or by the clearance of the segment from the previous frame.
    bounces : steps of the accepted walk whose velocity was reflected or zeroed at an obstacle.
    path_length : metres the eye travelled between the first and the last frame.
    """

    attempts: int
    failures: dict[str, int]
    candidates: int
    rejected_views: int
    rejected_segments: int
    bounces: int
    path_length: float


@dataclass(frozen=True)
class Trajectory:
    """Camera path of one room: a video sequence of frames.

    poses : (N, 4, 4) float64 camera-to-world (OpenCV camera axes).
    timestamps : (N,) float64 seconds from the first frame, strictly increasing.
    views : per-frame view statistics (None when not computed).
    stats : how the sampler found the path (None when not sampled).
    """

    poses: np.ndarray
    timestamps: np.ndarray
    views: ViewStats | None = field(default=None, compare=False)
    stats: SamplingStats | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.poses)


# --- room geometry ------------------------------------------------------------------------------------


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


# --- the walk -----------------------------------------------------------------------------------------


def _clip_norm(x: float, y: float, limit: float) -> tuple[float, float]:
    n = math.hypot(x, y)
    return (x * limit / n, y * limit / n) if n > limit else (x, y)


def _clip_norm3(x: float, y: float, z: float, limit: float) -> tuple[float, float, float]:
    n = math.sqrt(x * x + y * y + z * z)
    return (x * limit / n, y * limit / n, z * limit / n) if n > limit else (x, y, z)


def _wrap(angle: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


@dataclass
class _Context:
    """Everything a walk needs that does not change between attempts."""

    free: FreeSpace
    judge: ViewJudge
    render_instances: RenderInstancesFn
    targets: np.ndarray  # (P, 3) focus points
    weights: np.ndarray  # (P,) how often each is chosen, relatively (plan area, m^2)
    starts: np.ndarray  # (S, 2) plan points with room to start
    height: tuple[float, float]
    clearance: float
    required: float  # clearance kept at every simulation step
    params: WalkParams


class _Walk:
    """One attempt: the state of both bodies, advanced one simulation step at a time."""

    def __init__(self, ctx: _Context, rng: np.random.Generator, start: np.ndarray, h0: float, focus: int, free0: float,
                 focus_range: tuple[float, float]):
        p = ctx.params
        self.ctx, self.rng, self.p = ctx, rng, p
        self._targets = ctx.targets.tolist()  # plain floats for the per-step arithmetic (same values)
        self._box = (ctx.free.lo.tolist(), ctx.free.hi.tolist())  # plan bounds of the footprint
        # Per-step constants of the random processes, evaluated once (the same expressions as per step).
        dt = 1.0 / p.rate_hz
        self._decay, kick = dt / p.force_tau, math.sqrt(2 * dt / p.force_tau)
        self._eye_kick, self._look_kick = p.force_sd * kick, p.look_force_sd * kick
        self._height_kick = p.height_force_sd * math.sqrt(2 * dt / 0.5)
        self._look_damp = 2 * math.sqrt(p.look_pull)
        self._yaw_limit = p.max_yaw_rate * dt
        w = p.pitch_omega
        self._pitch_spring, self._pitch_damp = -w * w, 2 * w
        self._pitch_kick = math.sqrt(4 * w**3 * p.pitch_sd**2 * dt)
        self.dt = 1.0 / p.rate_hz
        self.h0 = h0
        self.x, self.y, self.z = float(start[0]), float(start[1]), float(start[2])
        self.vx = self.vy = self.vz = 0.0
        f = rng.standard_normal(3)
        self.fx, self.fy = p.force_sd * f[0], p.force_sd * f[1]
        self.fz = 0.0
        self.focus = focus
        self.range = focus_range  # plan distance band to the piece in focus: far view or close-up
        self.next_switch = float(rng.uniform(*p.focus_dwell))
        tx, ty, _ = ctx.targets[focus]
        self.qx, self.qy, self.ux, self.uy = float(tx), float(ty), 0.0, 0.0
        self.gx = self.gy = 0.0
        self.yaw = math.atan2(self.qy - self.y, self.qx - self.x)
        self.pitch = float(np.clip(self._pitch_centre() + p.pitch_sd * f[2], *p.pitch_limits))
        self.pitch_rate = 0.0
        # Last clearance query: point, value and plan gradient (clearance is 1-Lipschitz).
        self.q_point, self.q_free, self.grad = (self.x, self.y, self.z), free0, (0.0, 0.0)
        self.t = 0.0
        self.bounces = 0

    # -- constraints --

    def _ok(self, x: float, y: float, z: float) -> bool:
        """Whether (x, y, z) keeps the required clearance; queries the scene only when the last query cannot tell."""
        qx, qy, qz = self.q_point
        moved = math.sqrt((x - qx) ** 2 + (y - qy) ** 2 + (z - qz) ** 2)
        if self.q_free - moved >= self.ctx.required:
            return True
        free, gx, gy = self.ctx.free.with_gradient((x, y, z))
        self.q_point, self.q_free, self.grad = (x, y, z), free, (gx, gy)
        return free >= self.ctx.required

    def _near(self) -> float:
        """Clearance of the eye, re-queried when it is close to geometry and the last query is over 5 cm away."""
        qx, qy, qz = self.q_point
        moved = math.sqrt((self.x - qx) ** 2 + (self.y - qy) ** 2 + (self.z - qz) ** 2)
        near = self.q_free - moved
        if near < self.ctx.clearance + self.p.repel_range and moved > 0.05:
            near, gx, gy = self.ctx.free.with_gradient((self.x, self.y, self.z))
            self.q_point, self.q_free, self.grad = (self.x, self.y, self.z), near, (gx, gy)
        return near

    # -- the eye body --

    def _eye_accel(self, fx: float, fy: float) -> tuple[float, float, float]:
        p = self.p
        ax, ay = fx - p.drag * self.vx, fy - p.drag * self.vy
        speed = math.hypot(self.vx, self.vy)
        if speed > 1e-3:  # a walker keeps going at about the cruise speed
            push = p.cruise_gain * (p.cruise_speed - speed) / speed
            ax, ay = ax + push * self.vx, ay + push * self.vy
        tx, ty, _ = self._targets[self.focus]
        dx, dy = tx - self.x, ty - self.y
        d = math.hypot(dx, dy)
        lo, hi = self.range
        if 1e-9 < d < lo:
            ax, ay = ax - p.focus_pull * (lo - d) * dx / d, ay - p.focus_pull * (lo - d) * dy / d
        elif d > hi:
            ax, ay = ax + p.focus_pull * (d - hi) * dx / d, ay + p.focus_pull * (d - hi) * dy / d
        near = self._near()
        intrusion = self.ctx.clearance + p.repel_range - max(near, self.ctx.clearance)
        if intrusion > 0:
            ax, ay = ax + p.repel_gain * intrusion * self.grad[0], ay + p.repel_gain * intrusion * self.grad[1]
        w = p.height_omega
        az = self.fz - w * w * (self.z - self.h0) - 2 * w * self.vz
        return _clip_norm3(ax, ay, az, p.max_accel)

    def _propose(self, vx: float, vy: float, vz: float) -> tuple[float, float, float, float, float, float]:
        """Next (x, y, z, vx, vy, vz) from the velocity ``v`` (speed-capped, height clamped to the band)."""
        vx, vy, vz = _clip_norm3(vx, vy, vz, self.p.max_speed)
        x, y, z = self.x + vx * self.dt, self.y + vy * self.dt, self.z + vz * self.dt
        lo, hi = self.ctx.height
        if not lo <= z <= hi:
            z, vz = min(max(z, lo), hi), 0.0
        return x, y, z, vx, vy, vz

    def _step_eye(self) -> None:
        p, dt, rng = self.p, self.dt, self.rng
        decay, kick = self._decay, self._eye_kick
        n = rng.standard_normal(3).tolist()
        fx = self.fx - self.fx * decay + kick * n[0]
        fy = self.fy - self.fy * decay + kick * n[1]
        self.fz += -self.fz * dt / 0.5 + self._height_kick * n[2]
        for attempt in range(6):  # the first proposal and up to 5 re-proposals with a fresh random force
            if attempt:
                fx, fy = (p.force_sd * rng.standard_normal(2)).tolist()
            ax, ay, az = self._eye_accel(fx, fy)
            state = self._propose(self.vx + ax * dt, self.vy + ay * dt, self.vz + az * dt)
            if self._ok(*state[:3]):
                break
        else:
            self.bounces += 1
            gx, gy = self.grad
            dot = self.vx * gx + self.vy * gy
            vx, vy = (self.vx - 2 * dot * gx, self.vy - 2 * dot * gy) if dot < 0 else (self.vx, self.vy)
            state = self._propose(vx, vy, 0.0)
            if not self._ok(*state[:3]):
                state = (self.x, self.y, self.z, 0.0, 0.0, 0.0)
        self.fx, self.fy = fx, fy
        self.x, self.y, self.z, self.vx, self.vy, self.vz = state

    # -- the look-at body and the orientation --

    def switch_focus(self) -> None:
        """Focus on another piece of furniture, at least the near focus distance away where possible.

        Pieces whose view from here (straight at them, at the current pitch) passes the view rules are
        preferred, then those showing the most objects; this costs one low-resolution render per piece
        (scoring at most :data:`MAX_SCORED` pieces drawn at random).
        """
        targets = self.ctx.targets
        if len(targets) > 1:
            d = np.hypot(targets[:, 0] - self.x, targets[:, 1] - self.y)
            others = np.arange(len(targets)) != self.focus
            ok = np.flatnonzero((d >= self.p.focus_range[0]) & others)
            if len(ok) == 0:
                ok = np.flatnonzero(others)
            if len(ok) > MAX_SCORED:
                ok = np.sort(self.rng.choice(ok, MAX_SCORED, replace=False))
            scores = np.array([self._view_score(targets[i]) for i in ok])
            ok = ok[scores == scores.max()]
            w = self.ctx.weights[ok]
            self.focus = int(ok[self.rng.choice(len(ok), p=w / w.sum())])
        self.range = self.p.near_range if self.rng.random() < self.p.near_p else self.p.focus_range
        self.next_switch = self.t + float(self.rng.uniform(*self.p.focus_dwell))

    def _view_score(self, target: np.ndarray) -> int:
        """1 when the view towards ``target`` from the eye at the current pitch passes the view rules,
        else minus the number of objects missing."""
        yaw = math.atan2(target[1] - self.y, target[0] - self.x)
        row = self.ctx.judge.stats(self.ctx.render_instances(self._pose(yaw, self.pitch)))
        return 1 if self.ctx.judge.accepts(*row) else min(row[2] - self.ctx.judge.rules.min_objects, 0)

    def _step_look(self) -> None:
        p, dt = self.p, self.dt
        if self.t >= self.next_switch:
            self.switch_focus()
        n = self.rng.standard_normal(3).tolist()
        decay, kick = self._decay, self._look_kick
        self.gx += -self.gx * decay + kick * n[0]
        self.gy += -self.gy * decay + kick * n[1]
        tx, ty, _ = self._targets[self.focus]
        k, c = p.look_pull, self._look_damp
        ax = k * (tx - self.qx) - c * self.ux + self.gx
        ay = k * (ty - self.qy) - c * self.uy + self.gy
        ax, ay = _clip_norm(ax, ay, p.look_accel)
        self.ux, self.uy = _clip_norm(self.ux + ax * dt, self.uy + ay * dt, p.look_speed)
        (lo_x, lo_y), (hi_x, hi_y) = self._box
        self.qx = min(max(self.qx + self.ux * dt, lo_x), hi_x)
        self.qy = min(max(self.qy + self.uy * dt, lo_y), hi_y)
        # Yaw turns towards the look-at body at a bounded rate.
        if math.hypot(self.qx - self.x, self.qy - self.y) > 0.05:
            err = _wrap(math.atan2(self.qy - self.y, self.qx - self.x) - self.yaw)
            limit = self._yaw_limit
            self.yaw = _wrap(self.yaw + min(max(err, -limit), limit))
        # Pitch: critically damped spring driven by white noise (stationary sd pitch_sd) around pitch_mean,
        # drawn towards the elevation of the look-at point (the focus height over the look-at body) by pitch_follow.
        acc = self._pitch_spring * (self.pitch - self._pitch_centre()) - self._pitch_damp * self.pitch_rate
        self.pitch_rate += acc * dt + self._pitch_kick * n[2]
        self.pitch += self.pitch_rate * dt
        lo_p, hi_p = p.pitch_limits
        if not lo_p <= self.pitch <= hi_p:
            self.pitch, self.pitch_rate = min(max(self.pitch, lo_p), hi_p), 0.0

    def _pitch_centre(self) -> float:
        """Centre (rad) of the pitch process: ``pitch_mean`` drawn towards the look-at point's elevation."""
        p = self.p
        if p.pitch_follow <= 0:
            return p.pitch_mean
        run = max(math.hypot(self.qx - self.x, self.qy - self.y), 0.3)
        elevation = math.atan2(self._targets[self.focus][2] - self.z, run)
        centre = (1 - p.pitch_follow) * p.pitch_mean + p.pitch_follow * elevation
        return min(max(centre, p.pitch_limits[0]), p.pitch_limits[1])

    def step(self) -> float:
        """Advance both bodies by one simulation step; returns the distance the eye moved (m)."""
        x, y, z = self.x, self.y, self.z
        self._step_eye()
        self._step_look()
        self.t += self.dt
        return math.sqrt((self.x - x) ** 2 + (self.y - y) ** 2 + (self.z - z) ** 2)

    def _pose(self, yaw: float, pitch: float) -> np.ndarray:
        """(4, 4) camera-to-world pose at the eye body looking along ``yaw`` and ``pitch`` (rad), roll 0."""
        eye = np.array([self.x, self.y, self.z])
        cp = math.cos(pitch)
        return look_at(eye, eye + np.array([cp * math.cos(yaw), cp * math.sin(yaw), math.sin(pitch)]))

    def pose(self) -> np.ndarray:
        """(4, 4) camera-to-world pose of the current state."""
        return self._pose(self.yaw, self.pitch)


@dataclass
class _Outcome:
    """Result of one walk: the trajectory, or the reason it failed."""

    trajectory: Trajectory | None
    reason: str = ""


def _height_band(scene: Scene, height: tuple[float, float], required: float) -> tuple[float, float]:
    """The part of the eye-height band (m) that keeps ``required`` m from the floor (z = 0) and the ceiling."""
    ceiling = float(scene.room.size[2])
    band = (max(float(height[0]), required + 0.02), min(float(height[1]), ceiling - required - 0.02))
    if band[1] - band[0] < 0.1:
        raise SynthcamError(
            f"a {ceiling:.2f} m high room leaves no eye height in {height[0]:.2f}-{height[1]:.2f} m with "
            f"{required:.2f} m to the floor and the ceiling; widen the height band or lower the clearance")
    return band


def _start_points(free: FreeSpace, height: tuple[float, float], required: float, spacing: float = 0.1) -> np.ndarray:
    """(S, 2) plan grid points (``spacing`` m apart) with ``required + spacing`` clearance at mid-band height."""
    xs = np.arange(free.lo[0] + spacing / 2, free.hi[0], spacing)
    ys = np.arange(free.lo[1] + spacing / 2, free.hi[1], spacing)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, (height[0] + height[1]) / 2)], axis=1)
    ok = free.room.contains(pts[:, :2], required)
    if np.any(ok):
        ok[ok] = free(pts[ok]) >= required + spacing
    return pts[ok, :2]


def _start(ctx: _Context, rng: np.random.Generator) -> _Walk | None:
    """A new walk: random band height, random focus, a far view or (with ``near_p``) a close-up of it, and
    a free start in that range of it when possible."""
    p = ctx.params
    lo, hi = ctx.height
    margin = min(0.05, (hi - lo) / 4)
    h0 = float(rng.uniform(lo + margin, hi - margin))
    focus_range = p.near_range if rng.random() < p.near_p else p.focus_range
    for _ in range(5):  # a piece that can be seen from within the range, where one is drawn in 5 tries
        focus = int(rng.choice(len(ctx.targets), p=ctx.weights / ctx.weights.sum()))
        d = np.hypot(ctx.starts[:, 0] - ctx.targets[focus, 0], ctx.starts[:, 1] - ctx.targets[focus, 1])
        good = np.flatnonzero((d >= focus_range[0]) & (d <= focus_range[1]))
        if len(good):
            break
    pool = good if len(good) else np.arange(len(ctx.starts))
    for _ in range(10):
        xy = ctx.starts[pool[rng.integers(len(pool))]] + rng.uniform(-0.05, 0.05, 2)
        start = np.array([xy[0], xy[1], h0])
        free0 = float(ctx.free(start[None])[0])
        if free0 >= ctx.required:
            return _Walk(ctx, rng, start, h0, focus, free0, focus_range)
    return None


def _walk(ctx: _Context, rng: np.random.Generator, n_frames: int, rules: ViewRules) -> _Outcome:
    """Run one attempt; export the candidate frames that pass, give up when too many fail."""
    walk = _start(ctx, rng)
    if walk is None:
        return _Outcome(None, "no free start")
    p = ctx.params
    max_rejected = max(2, int(rules.max_rejected / (1 - rules.max_rejected) * n_frames))
    for _ in range(int(round(p.burn_in_s * p.rate_hz))):
        walk.step()
    poses: list[np.ndarray] = []
    steps: list[int] = []  # simulation step of each frame, counted from the end of the burn-in
    rows: list[tuple[float, float, int]] = []
    rejected_views = rejected_segments = 0
    step = -p.frame_every  # the first candidate is the state at the end of the burn-in
    path = 0.0  # metres the eye travelled since the first frame
    while len(poses) < n_frames:
        if step >= 0:
            for _ in range(p.frame_every):
                moved = walk.step()
                path += moved if poses else 0.0
        step += p.frame_every
        pose = walk.pose()
        if poses and not ctx.free.segment_clear(poses[-1][:3, 3], pose[:3, 3], ctx.clearance):
            rejected_segments += 1
        else:
            row = ctx.judge.stats(ctx.render_instances(pose))
            if ctx.judge.accepts(*row):
                poses.append(pose)
                steps.append(step)
                rows.append(row)
                continue
            rejected_views += 1
            walk.switch_focus()
        if rejected_views + rejected_segments > max_rejected:
            return _Outcome(None, "too many rejected views")
    timestamps = (np.array(steps, dtype=np.float64) - steps[0]) / p.rate_hz
    if path < min(rules.min_travel, rules.min_mean_speed * timestamps[-1]):
        return _Outcome(None, "travelled too little")
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    views = ViewStats(wall=table[:, 0], surfaces=table[:, 1], objects=table[:, 2].astype(np.int64))
    stats = SamplingStats(attempts=0, failures={}, candidates=n_frames + rejected_views + rejected_segments,
                          rejected_views=rejected_views, rejected_segments=rejected_segments,
                          bounces=walk.bounces, path_length=path)
    return _Outcome(Trajectory(np.stack(poses), timestamps, views, stats))


#: Rooms with at least this floor area (m^2) get the stricter :data:`OPEN_ROOM_RULES`.
OPEN_ROOM_AREA = 9.0
#: In rooms with space to step back, views may show at most 55 % wall (NYUv2 frames average 31 %).
OPEN_ROOM_RULES = ViewRules(max_wall=0.55, max_surfaces=0.80)


def view_rules_for(scene: Scene) -> ViewRules:
    """The view rules for a room: :data:`OPEN_ROOM_RULES` from :data:`OPEN_ROOM_AREA` m^2 of floor, else the
    defaults (a small bathroom cannot avoid walls filling most views)."""
    return OPEN_ROOM_RULES if scene.room.area >= OPEN_ROOM_AREA else ViewRules()


def sample_trajectory(
    scene: Scene,
    n_frames: int,
    rng: np.random.Generator,
    distance: DistanceFn,
    render_instances: RenderInstancesFn,
    *,
    height: tuple[float, float] = (1.1, 1.6),
    clearance: float = 0.3,
    params: WalkParams = WalkParams(),
    rules: ViewRules | None = None,
    max_attempts: int = 30,
) -> Trajectory:
    """Sample a handheld-like video trajectory of ``n_frames`` poses in ``scene`` (see the module docstring).

    distance : (N, 3) world points -> (N,) distance (m) to the nearest surface, e.g. ``RaycastRenderer.distance``.
    render_instances : (4, 4) pose -> (h, w) instance ids; a low resolution such as 64x48 is enough.
    height : band (m above the floor) the eye stays in, narrowed where the floor or the ceiling is within
        ``clearance + 0.05`` m of it; each walk picks its mean height 5 cm inside the band.
    clearance : least distance (m) from the eye to any geometry, at every frame and along the path between frames.
    params, rules : the walk dynamics and the view / walk acceptance rules (default: :func:`view_rules_for`).
    max_attempts : walks to try before giving up.
    Deterministic given ``rng``. Raises :class:`SynthcamError` when no valid trajectory is found.
    """
    if n_frames < 1:
        raise SynthcamError(f"a trajectory needs at least 1 frame, got {n_frames}")
    rules = view_rules_for(scene) if rules is None else rules
    if not 0 <= height[0] < height[1]:
        raise SynthcamError(f"height band {height} is not (low, high) with 0 <= low < high metres")
    # Every simulation step keeps a margin of at least one step length, so the path between steps keeps clearance.
    required = clearance + max(0.05, params.max_speed / params.rate_hz)
    band = _height_band(scene, height, required)
    free = FreeSpace(scene, distance)
    starts = _start_points(free, band, required)
    if len(starts) == 0:
        raise SynthcamError(
            f"no point of the {scene.room.room_type} at {sum(band) / 2:.2f} m height keeps {required:.2f} m from "
            f"all geometry (clearance {clearance} m plus a margin); use a larger or less cluttered room, or a "
            "smaller clearance")
    targets, weights = _furniture_boxes(scene, 0.4)
    ctx = _Context(free, ViewJudge(scene, rules), render_instances, targets, weights, starts, band,
                   float(clearance), required, params)
    failures: dict[str, int] = {}
    for attempt in range(1, max_attempts + 1):
        outcome = _walk(ctx, rng, n_frames, rules)
        if outcome.trajectory is not None:
            traj = outcome.trajectory
            return dataclasses.replace(traj, stats=dataclasses.replace(traj.stats, attempts=attempt, failures=failures))
        failures[outcome.reason] = failures.get(outcome.reason, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(failures.items()))
    raise SynthcamError(
        f"no valid {n_frames}-frame trajectory in the {scene.room.room_type} after {max_attempts} walks ({summary}); "
        f"views must show at least {rules.min_objects} objects and not mostly wall, with {clearance} m clearance: "
        "use a larger or better furnished room, or relax the view rules")
