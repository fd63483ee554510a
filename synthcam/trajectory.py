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
- **Time**: the walk is simulated at 25 Hz; after a 3 s burn-in every ``frame_every``-th step is a
  candidate frame (by default every 10th, 0.4 s: 2.5 frames/s); a frame's timestamp is its step index over
  the rate, counted from the first frame.
- **Constraints**: the eye stays inside the room footprint and at least ``clearance + 0.05`` m from all
  geometry at every simulation step (a step is at most 2 cm, so the whole simulated path keeps
  ``clearance``); a violating step is re-proposed with a fresh random force up to 5 times, then the
  velocity is reflected off the obstacle (or zeroed). The straight segment between consecutive frames
  is also checked densely against ``clearance``.
- **Views**: a candidate frame is rendered at low resolution and rejected when wall covers more than
  70 % of it, wall + floor + ceiling more than 85 %, or fewer than 3 object instances (not room
  structure) cover at least 1 % each. Rejected candidates are skipped (the frames stay a time-ordered
  video sequence with a gap). With ``clip_length`` N > 1 the frames come in clips of N consecutive
  candidates without a gap: a rejection within a clip drops the clip's frames so far, and the next
  accepted candidate starts the clip again. A walk is abandoned and a new one started when more than 20 % of its
  candidates are rejected or the eye travels less than ``min(1 m, 0.1 m/s * duration)``.

The two bodies are :mod:`synthcam.walk`, the clearance queries :mod:`synthcam.free_space` and the view
rules :mod:`synthcam.view_rules`; this module picks the focus pieces, starts walks and keeps the frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from scene_library import Scene
from synthcam.free_space import DistanceFn, FreeSpace
from synthcam.view_rules import ViewJudge, ViewRules, ViewStats, is_structure, view_rules_for
from synthcam.walk import DEFAULT_WALK_PARAMS, RenderInstancesFn, Walk, WalkContext, WalkParams
from synthcam_core.errors import SynthcamError

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
            f"{required:.2f} m to the floor and the ceiling; widen the height band or lower the clearance"
        )
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


def _start(ctx: WalkContext, rng: np.random.Generator) -> Walk | None:
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
            return Walk(ctx, rng, start, h0, focus, free0, focus_range)
    return None


def _walk(ctx: WalkContext, rng: np.random.Generator, n_frames: int, rules: ViewRules) -> _Outcome:
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
    candidates = 0
    while len(poses) < n_frames:
        if step >= 0:
            for _ in range(p.frame_every):
                moved = walk.step()
                path += moved if poses else 0.0
        step += p.frame_every
        candidates += 1
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
        partial = len(poses) % p.clip_length  # frames of an unfinished clip: dropped, the clip starts again
        if partial:
            del poses[-partial:], steps[-partial:], rows[-partial:]
            path = path if poses else 0.0
        if rejected_views + rejected_segments > max_rejected:
            return _Outcome(None, "too many rejected views")
    timestamps = (np.array(steps, dtype=np.float64) - steps[0]) / p.rate_hz
    if path < min(rules.min_travel, rules.min_mean_speed * timestamps[-1]):
        return _Outcome(None, "travelled too little")
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    views = ViewStats(wall=table[:, 0], surfaces=table[:, 1], objects=table[:, 2].astype(np.int64))
    stats = SamplingStats(
        attempts=0,
        failures={},
        candidates=candidates,
        rejected_views=rejected_views,
        rejected_segments=rejected_segments,
        bounces=walk.bounces,
        path_length=path,
    )
    return _Outcome(Trajectory(np.stack(poses), timestamps, views, stats))


def sample_trajectory(
    scene: Scene,
    n_frames: int,
    rng: np.random.Generator,
    distance: DistanceFn,
    render_instances: RenderInstancesFn,
    *,
    height: tuple[float, float] = (1.1, 1.6),
    clearance: float = 0.3,
    params: WalkParams = DEFAULT_WALK_PARAMS,
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
            "smaller clearance"
        )
    targets, weights = _furniture_boxes(scene, 0.4)
    ctx = WalkContext(
        free,
        ViewJudge(scene, rules),
        render_instances,
        targets,
        weights,
        starts,
        band,
        float(clearance),
        required,
        params,
    )
    failures: dict[str, int] = {}
    for attempt in range(1, max_attempts + 1):
        outcome = _walk(ctx, rng, n_frames, rules)
        if outcome.trajectory is not None:
            traj = outcome.trajectory
            assert traj.stats is not None  # every walk records how it was found
            return dataclasses.replace(traj, stats=dataclasses.replace(traj.stats, attempts=attempt, failures=failures))
        failures[outcome.reason] = failures.get(outcome.reason, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(failures.items()))
    raise SynthcamError(
        f"no valid {n_frames}-frame trajectory in the {scene.room.room_type} after {max_attempts} walks ({summary}); "
        f"views must show at least {rules.min_objects} objects and not mostly wall, with {clearance} m clearance: "
        "use a larger or better furnished room, or relax the view rules"
    )
