"""The fields :meth:`synthcam_shards.shard_file.ShardFile.read_frames` returns: their names, the stored
dataset each comes from, which can be read into a caller's array (``out``), and the conversion from
stored values (millimetres, class40 ids, 1/16 px flow planes) to what the field holds.
"""

from __future__ import annotations

import numpy as np

from synthcam_core.errors import InputError
from synthcam_shards.flow import decode_flow, interleave
from synthcam_shards.format import mm_to_depth

READ_FIELDS = (
    "depth",
    "depth_clean",
    "depth_mm",
    "depth_clean_mm",
    "class40",
    "class13",
    "class37",
    "instance",
    "pose",
    "timestamp",
    "trajectory_id",
)
"""Field names every shard has (:meth:`~synthcam_shards.shard_file.ShardFile.read_frame`)."""
FLOW_FIELDS = ("flow", "flow_mask", "flow_raw", "flow_planes")
"""Field names of a shard with optical flow (format version 3): ``flow`` (H, W, 2) float32 pixels (du, dv),
``flow_mask`` (H, W) uint8 codes, ``flow_raw`` (H, W, 2) int16 in 1/16 px, ``flow_planes`` (2, H, W) int16
in 1/16 px exactly as stored (du plane, dv plane: read without a copy)."""
STORED = {
    "depth": "depth",
    "depth_mm": "depth",
    "depth_clean": "depth_clean",
    "depth_clean_mm": "depth_clean",
    "class40": "class40",
    "class13": "class40",
    "class37": "class40",
    "instance": "instance",
    "pose": "pose",
    "timestamp": "timestamp",
    "trajectory_id": "trajectory_id",
    "flow": "flow",
    "flow_mask": "flow_mask",
    "flow_raw": "flow",
    "flow_planes": "flow",
}
"""The stored dataset each field is read from."""
AS_STORED = {
    "depth_mm": np.uint16,
    "depth_clean_mm": np.uint16,
    "class40": np.uint8,
    "instance": np.uint16,
    "flow_mask": np.uint8,
    "flow_raw": np.int16,
    "flow_planes": np.int16,
}
"""Fields holding the stored values unchanged, which :meth:`~synthcam_shards.shard_file.ShardFile.read_frames`
can read into ``out`` (``flow_raw`` through a copy: it is stored as (2, H, W) planes; ``flow_planes`` directly)."""
INTERLEAVED = ("flow", "flow_raw")
"""Fields whose frames are (H, W, 2) (the others are (H, W), ``flow_planes`` (2, H, W))."""


def check_fields(fields: tuple[str, ...], has_flow: bool, shard_name: str) -> None:
    """Raise ``ValueError`` for an unknown field name (listing the valid ones), and
    :class:`~synthcam_core.errors.InputError` for a flow field asked of a shard without flow."""
    unknown = [name for name in fields if name not in STORED]
    if unknown:
        raise ValueError(
            f"unknown shard field(s) {', '.join(map(repr, unknown))}; valid fields: "
            f"{', '.join(READ_FIELDS + FLOW_FIELDS)} (the last {len(FLOW_FIELDS)} in shards with optical flow)"
        )
    if not has_flow and any(name in FLOW_FIELDS for name in fields):
        raise InputError(f"{shard_name} holds no optical flow; generate the dataset with --flow")


def field_shape(name: str, n: int, height: int, width: int) -> tuple[int, ...]:
    """Shape of ``n`` frames of the image field ``name``: (n, H, W, 2) for ``flow`` and ``flow_raw``,
    (n, 2, H, W) for ``flow_planes``, else (n, H, W)."""
    if name == "flow_planes":
        return (n, 2, height, width)
    return (n, height, width, 2) if name in INTERLEAVED else (n, height, width)


def check_out(
    out: dict[str, np.ndarray], fields: tuple[str, ...], n: int, height: int, width: int
) -> dict[str, np.ndarray]:
    """Check the ``out`` arrays of a read of ``n`` frames; ``{field: array}``. Raises ``ValueError`` for a
    field not requested or not in :data:`AS_STORED`, and for an array that is not writable, C-contiguous,
    of the field's shape and stored dtype."""
    for name, array in out.items():
        if name not in fields or name not in AS_STORED:
            raise ValueError(
                f"out[{name!r}]: only requested fields among {', '.join(AS_STORED)} can be read into an array"
            )
        shape = field_shape(name, n, height, width)
        if (
            array.shape != shape
            or array.dtype != AS_STORED[name]
            or not array.flags.c_contiguous
            or not array.flags.writeable
        ):
            raise ValueError(
                f"out[{name!r}] must be a writable C-contiguous {np.dtype(AS_STORED[name])} array of shape "
                f"{shape}, got {array.dtype} {array.shape}"
            )
    return dict(out)


def field_value(
    name: str, stored: np.ndarray, tables: dict[str, np.ndarray], out: np.ndarray | None = None
) -> np.ndarray:
    """The value of field ``name`` from its stored dataset's frames ``stored``; ``tables`` holds the
    ``class13`` and ``class37`` lookup tables (41,) uint8 by field name; ``out`` receives ``flow_raw``."""
    if name in ("depth", "depth_clean"):
        return mm_to_depth(stored)
    if name in tables:
        return tables[name][stored]
    if name == "flow":
        return decode_flow(stored)
    if name == "flow_raw":
        return interleave(stored, out)
    return stored
