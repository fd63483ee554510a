"""Metadata tables of the real datasets, loaded from the packaged copies in ``segnet/data``.

Copied byte-for-byte from the project's shared benchmark metadata, never retyped: the NYUv2
795/654 split (``splits.json``), NYUv2 gravity rotations (``camera_rotations_NYU.txt``), the SUN RGB-D
5285/5050 split (``allsplit.json``). Class tables live in :mod:`synthcam_core.labels`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np


def data_text(name: str) -> str:
    """Text of the packaged data file ``segnet/data/<name>``."""
    return resources.files("segnet").joinpath("data").joinpath(name).read_text()


@cache
def nyuv2_split_indices() -> dict[str, np.ndarray]:
    """``{"train": (795,), "test": (654,)}`` int64 0-based frame indices into the labeled NYUv2 set."""
    raw = json.loads(data_text("splits.json"))
    return {
        "train": np.asarray(raw["trainNdxs"], dtype=np.int64) - 1,
        "test": np.asarray(raw["testNdxs"], dtype=np.int64) - 1,
    }


@cache
def nyuv2_camera_rotations() -> np.ndarray:
    """(1449, 3, 3) float64 gravity-alignment rotations, one per labeled NYUv2 frame, in index order.

    Convention (derived from the data): each matrix is SUN RGB-D's ``Rtilt`` for that frame. It maps
    a point in the camera frame with axes (x right, y forward, z up) = OpenCV (x, z, -y) to a
    gravity-aligned frame whose z axis points up. Evidence: every matrix is the minimal rotation
    about an axis in that frame's xy plane (the z-up axis is what gets aligned), and its third row
    agrees in sign and size with the ``Rtilt`` of the same NYU frame in SUN RGB-D's training metadata.
    """
    values = np.array(data_text("camera_rotations_NYU.txt").split(), dtype=np.float64)
    return values.reshape(-1, 3, 3)


def gravity_from_rtilt(rtilt: np.ndarray) -> np.ndarray:
    """(3,) OpenCV camera-frame down vector from a SUN RGB-D style ``Rtilt`` (see above).

    Up in the (x, forward, up) camera frame is ``Rtilt.T @ (0, 0, 1)`` = row 3 = (r31, r32, r33),
    which is OpenCV (r31, -r33, r32); down is its negative. A level camera (``Rtilt = I``) gives (0, 1, 0).
    """
    r = np.asarray(rtilt, dtype=np.float64)
    down = np.array([-r[2, 0], r[2, 2], -r[2, 1]])
    return down / np.linalg.norm(down)


@cache
def sunrgbd_split_folders() -> dict[str, tuple[str, ...]]:
    """SUN RGB-D frame folders relative to the ``SUNRGBD`` root: train 5285, test 5050, and the
    ``trainval_train`` 2666 / ``trainval_val`` 2619 partition of train (``allsplit.mat``)."""
    raw = json.loads(data_text("allsplit.json"))
    return {
        "train": tuple(raw["alltrain"]),
        "test": tuple(raw["alltest"]),
        "trainval_train": tuple(raw["trainvalsplit"]["train"]),
        "trainval_val": tuple(raw["trainvalsplit"]["val"]),
    }
