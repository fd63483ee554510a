"""An in-memory dataset of analytic rooms: exact depth and labels without a renderer.

Each room is an axis-aligned box (floor at z = 0, ceiling, four walls) with one box of furniture
(a bed or a table) on the floor. A camera at 1.1-1.7 m looks horizontally or down (0-35 degrees)
in a random direction; depth is the exact ray-cast z-depth, labels are NYU40 classes mapped to the
chosen class space. Frames ``i`` with the same ``i // frames_per_room`` share one room (a "shard"),
which :attr:`SyntheticRooms.groups` exposes for leakage-free validation splits. Used by tests, the
training smoke path (``synthcam train --dataset synthetic``) and the speed benchmark.
"""

from __future__ import annotations

import numpy as np
import torch

from synthcam_core.camera import Intrinsics
from synthcam_core.geometry.rays import pixel_rays
from synthcam_core.labels import class40_id
from synthcam_core.sample import class40_lut, gravity_from_pose, make_sample


def look_pose(position: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """(4, 4) camera-to-world pose of an OpenCV camera at ``position`` looking along yaw, pitched down."""
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), -np.sin(pitch)])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = position
    return pose


def render_room(
    size: np.ndarray, box_lo: np.ndarray, box_hi: np.ndarray, box_class40: int, pose: np.ndarray, intrinsics: Intrinsics
) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast a room [-size/2, size/2] x [0, size_z] with one box: (H, W) float32 z-depth, uint8 NYU40."""
    rays = pixel_rays(intrinsics).reshape(-1, 3).astype(np.float64) @ pose[:3, :3].T  # z-depth = 1 along each ray
    origin = pose[:3, 3]
    lo, hi = np.array([-size[0] / 2, -size[1] / 2, 0.0]), np.array([size[0] / 2, size[1] / 2, size[2]])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / rays
        t_lo, t_hi = (lo - origin) * inv, (hi - origin) * inv
        t_exit = np.maximum(t_lo, t_hi)
        t_exit[~np.isfinite(t_exit)] = np.inf
        axis = np.argmin(t_exit, axis=1)
        t_room = t_exit[np.arange(len(rays)), axis]
        b_lo, b_hi = (box_lo - origin) * inv, (box_hi - origin) * inv
        t_in = np.nanmax(np.minimum(b_lo, b_hi), axis=1)
        t_out = np.nanmin(np.maximum(b_lo, b_hi), axis=1)
    wall, floor, ceiling = class40_id("wall"), class40_id("floor"), class40_id("ceiling")
    label = np.where(axis == 2, np.where(rays[:, 2] < 0, floor, ceiling), wall)
    hit_box = (t_in <= t_out) & (t_in > 0) & (t_in < t_room)
    t = np.where(hit_box, t_in, t_room)
    label = np.where(hit_box, box_class40, label)
    shape = (intrinsics.height, intrinsics.width)
    return t.reshape(shape).astype(np.float32), label.reshape(shape).astype(np.uint8)


class SyntheticRooms(torch.utils.data.Dataset):
    """``n`` frames of analytic rooms in the shared sample layout (see ``synthcam_core.sample``).

    width, height : image size in pixels (NYUv2 camera scaled); classes : 13, 37 or 40;
    seed : frames are a function of (seed, index) only; frames_per_room : frames sharing a room.
    """

    def __init__(
        self, n: int, width: int = 64, height: int = 48, classes: int = 13, seed: int = 0, frames_per_room: int = 4
    ) -> None:
        self.n, self.seed, self.frames_per_room = int(n), int(seed), max(1, int(frames_per_room))
        self.intrinsics = Intrinsics.nyuv2().scaled(width, height)
        self.lut = class40_lut(classes)
        self.classes = classes

    def __len__(self) -> int:
        return self.n

    @property
    def groups(self) -> np.ndarray:
        """(n,) int64 room id of each frame."""
        return np.arange(self.n) // self.frames_per_room

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        room = np.random.default_rng([self.seed, int(index) // self.frames_per_room])
        size = np.array([room.uniform(3.0, 6.0), room.uniform(3.0, 6.0), room.uniform(2.4, 3.0)])
        kind = ("bed", "table")[int(room.integers(2))]
        extent = np.array([2.0, 1.6, 0.5]) if kind == "bed" else np.array([1.2, 0.8, 0.75])
        centre = room.uniform(-1.0, 1.0, size=2) * (size[:2] / 2 - extent[:2] / 2 - 0.6)
        box_lo = np.array([*(centre - extent[:2] / 2), 0.0])
        box_hi = np.array([*(centre + extent[:2] / 2), extent[2]])
        rng = np.random.default_rng([self.seed, int(index), 1])
        height = rng.uniform(1.1, 1.7)
        while True:  # a camera position outside the box, away from the walls
            xy = rng.uniform(-1.0, 1.0, size=2) * (size[:2] / 2 - 0.3)
            if np.any(xy < box_lo[:2] - 0.3) or np.any(xy > box_hi[:2] + 0.3):
                break
        yaw = np.arctan2(*(centre - xy)[::-1]) + rng.normal(0.0, 0.5)
        pose = look_pose(np.array([*xy, height]), yaw, np.deg2rad(rng.uniform(0.0, 35.0)))
        depth, label40 = render_room(size, box_lo, box_hi, class40_id(kind), pose, self.intrinsics)
        k = self.intrinsics
        return make_sample(
            depth,
            self.lut[label40].astype(np.int64),
            [k.fx, k.fy, k.cx, k.cy],
            gravity_from_pose(pose),
            int(index),
            camera_height=float(height),
            pose=pose,
        )
