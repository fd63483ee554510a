"""The two-body walk of a handheld camera: the eye and a look-at point pushed by random forces, advanced one
simulation step at a time (the model is described in :mod:`synthcam.trajectory`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthcam.free_space import FreeSpace
from synthcam.view_rules import ViewJudge
from synthcam_core.camera import look_at

#: Most focus candidates whose view is rendered and scored at a focus switch.
MAX_SCORED = 8

RenderInstancesFn = Callable[[np.ndarray], np.ndarray]
"""Maps a (4, 4) camera-to-world pose to an (h, w) uint16 instance-id image (a low resolution is enough)."""


@dataclass(frozen=True)
class WalkParams:
    """Dynamics of the two-body walk (SI units: m, s, rad).

    rate_hz : simulation rate (Hz). frame_every : simulation steps per candidate frame.
    clip_length : frames come in clips of this many consecutive candidates (``frame_every`` steps apart);
        a candidate rejected within a clip drops the clip's frames so far.
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
    clip_length: int = 1
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


DEFAULT_WALK_PARAMS = WalkParams()
"""The default walk dynamics (a frozen dataclass, shared as a default argument)."""


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
class WalkContext:
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


class Walk:
    """One attempt: the state of both bodies, advanced one simulation step at a time."""

    def __init__(
        self,
        ctx: WalkContext,
        rng: np.random.Generator,
        start: np.ndarray,
        h0: float,
        focus: int,
        free0: float,
        focus_range: tuple[float, float],
    ):
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
