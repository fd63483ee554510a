"""Where the frames of a label fusion come from, and the class evidence fused with each.

Two sources give frames one at a time (memory stays that of one frame, however long the sequence):

- :class:`ShardSource`: a synthcam shard: noisy or clean depth, its poses and intrinsics, and its
  ground-truth labels in the 13-, 37- or 40-class space through the shard's own tables.
- :class:`RealSource`: a folder of real depth PNGs (:mod:`synthcam_core.real_frames`) with a TUM RGB-D
  trajectory (:mod:`segnet.fusion.tum`), one pose per depth frame in sorted order; ground truth where
  the folder holds label PNGs (``NAME_label13.png``, or ``NAME_label40.png`` mapped to the space).

Every pose is checked before any frame is read (:func:`check_poses`): finite, rigid (orthonormal
rotation of determinant +1, last row 0 0 0 1); a shard whose poses are all zero holds none.

:class:`CheckpointLabeler` turns a depth frame into per-pixel class probabilities with a trained
checkpoint, as ``synthcam evaluate``'s ``train`` protocol sees a frame (:mod:`segnet.eval_protocols`):
the depth resized (nearest, pixel centres) to the checkpoint's network size, encoded as its run did,
the softmax resized back to the frame (nearest, pixel centres).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from segnet.fusion.tum import read_tum
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError
from synthcam_core.sample import check_classes, class40_lut, gravity_from_pose

RIGID_TOLERANCE = 1e-4
"""Largest deviation of R^T R from the identity, of det R from 1 and of the last row from 0 0 0 1."""
LEVEL_GRAVITY = (0.0, 1.0, 0.0)
"""Camera-frame down direction of a level camera (OpenCV axes): used for real frames, whose world
frame (a TUM trajectory's) has no known up direction."""


@dataclass(frozen=True)
class FusionFrame:
    """One frame to fuse.

    index : position in the sequence (0-based); name : the frame's own name (shard index or PNG stem);
    depth : (H, W) float32 metres, 0 = invalid; pose : (4, 4) float64 camera-to-world (OpenCV camera);
    truth : (H, W) uint8 ground-truth class ids in the chosen space (0 = void), or None;
    gravity : (3,) float64 camera-frame down direction; camera_height : metres above the floor, NaN if unknown.
    """

    index: int
    name: str
    depth: np.ndarray
    pose: np.ndarray
    truth: np.ndarray | None
    gravity: np.ndarray
    camera_height: float


def check_poses(poses: np.ndarray, where: str, names: list[str] | None = None) -> np.ndarray:
    """(N, 4, 4) float64 camera-to-world poses after checking each (module docstring).

    where : what holds them, for messages (``shard room_00000.h5``, ``--poses traj.txt``); names :
    how to name pose k in a message (default ``frame k``). Raises :class:`InputError` in one line.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise InputError(f"{where} holds poses of shape {poses.shape}, not (N, 4, 4)")
    if len(poses) and not poses.any():
        raise InputError(f"{where} holds no camera poses (all zero); fuse a shard written by 'synthcam generate'")
    name = (lambda k: names[k]) if names is not None else (lambda k: f"frame {k}")
    finite = np.isfinite(poses).all(axis=(1, 2))
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise InputError(f"{where}: the pose of {name(k)} holds NaN or infinite values; its poses are unusable")
    rotation = poses[:, :3, :3]
    gram = np.abs(np.einsum("nji,njk->nik", rotation, rotation) - np.eye(3)).max(axis=(1, 2), initial=0.0)
    last = np.abs(poses[:, 3] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1, initial=0.0)
    det = np.linalg.det(rotation) if len(poses) else np.zeros(0)
    rigid = (gram <= RIGID_TOLERANCE) & (last <= RIGID_TOLERANCE) & (np.abs(det - 1.0) <= RIGID_TOLERANCE)
    if not rigid.all():
        k = int(np.flatnonzero(~rigid)[0])
        raise InputError(
            f"{where}: the pose of {name(k)} is not rigid (a rotation and a translation); its poses are unusable"
        )
    return poses


class ShardSource:
    """The frames of one shard (module docstring); ``frames`` limits it to the first ``frames``."""

    def __init__(self, path: Path, depth: str = "noisy", classes: int = 13, frames: int | None = None):
        from synthcam_shards.shard_file import ShardFile

        if depth not in ("noisy", "clean"):
            raise InputError(f"unknown depth {depth!r}; choose noisy or clean")
        self.path = Path(path)
        self.classes = check_classes(classes)
        self.depth = depth
        self.shard = ShardFile(self.path)
        self.intrinsics: Intrinsics = self.shard.intrinsics
        self.poses = check_poses(self.shard.poses, f"shard {self.path}")
        self.count = len(self.shard) if frames is None else min(int(frames), len(self.shard))
        self.has_truth = True

    def __len__(self) -> int:
        return self.count

    def frames(self) -> Iterator[FusionFrame]:
        """The frames in order, read one at a time."""
        fields = ("depth" if self.depth == "noisy" else "depth_clean", f"class{self.classes}")
        for i in range(self.count):
            read = self.shard.read_frame(i, fields)
            pose = self.poses[i]
            yield FusionFrame(
                i, f"{i:05d}", read[fields[0]], pose, read[fields[1]], gravity_from_pose(pose), float(pose[2, 3])
            )

    def close(self) -> None:
        self.shard.close()


class RealSource:
    """The frames of a folder of real depth PNGs with a TUM trajectory (module docstring)."""

    def __init__(
        self,
        folder: Path,
        poses: Path,
        classes: int = 13,
        kind: str = "raw",
        intrinsics: str | None = None,
        frames: int | None = None,
    ):
        from synthcam_core.real_frames import open_real_folder

        self.classes = check_classes(classes)
        self.folder = open_real_folder(folder, kind, intrinsics)
        self.path = self.folder.path
        self.intrinsics = self.folder.intrinsics
        trajectory = read_tum(poses)
        if len(trajectory) != len(self.folder):
            raise InputError(
                f"--poses {poses} holds {len(trajectory)} poses but {self.path} holds {len(self.folder)} depth "
                f"frames; pass one pose per depth frame, in the frames' sorted order"
            )
        names = [f"line {n}" for n in trajectory.lines.tolist()]
        self.poses = check_poses(trajectory.poses, f"--poses {poses}", names)
        self.count = len(self.folder) if frames is None else min(int(frames), len(self.folder))
        self.has_truth = (self.classes == 13 and self.folder.has_labels(13)) or self.folder.has_labels(40)

    def __len__(self) -> int:
        return self.count

    def _truth(self, label13: np.ndarray | None, label40: np.ndarray | None) -> np.ndarray | None:
        if self.classes == 13 and label13 is not None:
            return label13
        return class40_lut(self.classes)[label40] if label40 is not None else None

    def frames(self) -> Iterator[FusionFrame]:
        """The frames in sorted order, decoded one at a time (with labels where the folder has them)."""
        for i, frame in enumerate(self.folder.frames(labels=self.has_truth)):
            if i >= self.count:
                return
            truth = self._truth(frame.label13, frame.label40) if self.has_truth else None
            gravity = np.asarray(LEVEL_GRAVITY)
            yield FusionFrame(i, frame.name, frame.depth, self.poses[i], truth, gravity, math.nan)

    def close(self) -> None:
        """Nothing to close: PNGs are read and closed frame by frame."""


def open_source(
    path: Path,
    *,
    classes: int,
    depth: str = "noisy",
    frames: int | None = None,
    shard: str | None = None,
    poses: Path | None = None,
    real_depth: str = "raw",
    intrinsics: str | None = None,
) -> ShardSource | RealSource:
    """The source at ``path``: a shard file, a dataset directory (its first shard, or ``shard`` by file
    name), or a folder of real depth PNGs (then ``poses``, a TUM file, is needed). One-line errors for a
    missing path, a folder of neither, an unknown shard name, and options that do not apply."""
    from synthcam_shards.shard_file import SHARD_SUFFIX, find_shards

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; pass a shard, a dataset directory or a folder of depth PNGs")
    is_real = path.is_dir() and not any(path.glob(f"*{SHARD_SUFFIX}")) and any(path.glob("*.png"))
    if not is_real:
        if poses is not None or intrinsics is not None:
            raise InputError(f"{path} is a shard or dataset, which has its own poses and camera; leave out --poses")
        shards = find_shards(path)
        chosen = shards[0]
        if shard is not None:
            matches = [p for p in shards if p.name == shard]
            if not matches:
                valid = ", ".join(p.name for p in shards[:5]) + (", ..." if len(shards) > 5 else "")
                raise InputError(f"--shard {shard!r} is not a shard of {path}; valid: {valid}")
            chosen = matches[0]
        return ShardSource(chosen, depth, classes, frames)
    if shard is not None:
        raise InputError(f"--shard applies to a dataset directory; {path} is a folder of depth PNGs")
    if poses is None:
        raise InputError(f"{path} is a folder of depth PNGs; pass its camera poses with --poses TRAJECTORY.txt (TUM)")
    return RealSource(path, poses, classes, real_depth, intrinsics, frames)


class CheckpointLabeler:
    """Per-pixel class probabilities of a trained checkpoint (module docstring), on ``device``.

    classes : the class space asked for (13, 37, 40), None for the checkpoint's own; a checkpoint of
    another class count raises a one-line :class:`InputError`.
    """

    def __init__(self, path: Path, classes: int | None = None, device: str = "cpu"):
        from segnet.checkpoint import load_checkpoint, model_from_checkpoint
        from segnet.config import TrainConfig, check_device
        from segnet.rng import run_scope

        check_device(device)
        self.path = Path(path)
        state = load_checkpoint(self.path)
        trained = state["model_spec"]["num_classes"]
        classes = trained if classes is None else classes
        if trained != check_classes(classes):
            raise InputError(
                f"the checkpoint {self.path} predicts {trained} classes but --classes is {classes}; "
                f"pass --classes {trained}"
            )
        self.classes = classes
        self.config = TrainConfig.from_dict(state["config"])
        self.device = torch.device(device)
        with run_scope(self.config.seed):  # building the model draws from the generators: not the caller's
            self.model = model_from_checkpoint(state, self.path).to(self.device)

    def probabilities(self, frame: FusionFrame, intrinsics: Intrinsics) -> np.ndarray:
        """(classes + 1, H, W) float32 softmax at the frame's resolution; channel 0 (void) is 0."""
        from segnet.encodings import encode_batch
        from segnet.metrics import resize_nearest
        from segnet.train_data import network_size
        from synthcam_core.sample import crop_and_resize, make_sample

        h, w = frame.depth.shape
        k = np.array([intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy])
        sample = make_sample(
            frame.depth, np.zeros((h, w), np.int64), k, frame.gravity, frame.index, frame.camera_height, frame.pose
        )
        size = network_size(h, w, (self.config.height, self.config.width), keep_aspect=self.config.augment)
        batch = torch.utils.data.default_collate([crop_and_resize(sample, resize=size)])
        x = encode_batch(self.config.encoding, batch, self.device, self.config.camera_height)
        cuda = self.device.type == "cuda"
        with torch.no_grad(), torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=cuda):
            scores = self.model(x)
        probs = torch.softmax(scores.float(), dim=1)[0]
        if tuple(probs.shape[-2:]) != (h, w):
            probs = resize_nearest(probs, (h, w))
        out = np.zeros((self.classes + 1, h, w), dtype=np.float32)
        out[1:] = probs.cpu().numpy()
        return out
