"""Optical flow as a version 3 shard stores it (FORMAT.md, "Shard format, version 3"): the encoding of a
frame's flow (float32 pixels <-> int16 in 1 / :data:`~synthcam_shards.format.FLOW_SCALE` pixels, planes du
then dv) and its mask, and the HDF5 filters of the two flow datasets.

Flow is stored planar, (2, H, W) per frame, with HDF5's shuffle filter before zstd level 3 (gzip where
hdf5plugin is missing): of a 640x480 frame of rendered rooms at 2.5 frames/s, about 180 kB against about
480 kB for (H, W, 2) interleaved components with the same filters, because the compressor finds long
repeats in a row of one component and not in rows of alternating ones.
"""

from __future__ import annotations

import numpy as np

from synthcam_shards.format import FLOW_LIMIT, FLOW_MASK_CODES, FLOW_OUT_OF_VIEW, FLOW_SCALE, FLOW_VALID

FLOW_ZSTD_LEVEL = 3
"""zstd level of the ``flow`` dataset (level 1 stores about 15 % more for 0.1 ms less a 640x480 frame)."""


def flow_filters(compression: str) -> dict:
    """h5py filter keywords of the ``flow`` dataset for a shard whose ``compression`` attribute is
    ``"zstd"`` or ``"gzip"``: byte shuffle, then that compressor."""
    if compression == "zstd":
        import hdf5plugin

        return {"shuffle": True, **hdf5plugin.Zstd(clevel=FLOW_ZSTD_LEVEL)}
    return {"shuffle": True, "compression": "gzip", "compression_opts": 1}


def encode_flow(flow: np.ndarray, mask: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One frame's flow as stored: ((2, H, W) int16 du, dv planes in 1 / FLOW_SCALE px, (H, W) uint8 mask).

    flow : (H, W, 2) pixels (du, dv), any float dtype; mask : (H, W) codes 0..3 (:data:`FLOW_MASK_CODES`).
    Values are rounded to the nearest unit (half to even); where the mask is not
    :data:`~synthcam_shards.format.FLOW_VALID` they are stored 0, and a valid pixel whose flow rounds beyond
    :data:`~synthcam_shards.format.FLOW_LIMIT` units in either component is stored 0 with mask
    :data:`~synthcam_shards.format.FLOW_OUT_OF_VIEW`. Raises ``ValueError`` for other shapes, mask codes
    above 3 or a non-finite flow at a valid pixel.
    """
    flow, mask = np.asarray(flow), np.asarray(mask)
    if flow.shape != (*shape, 2) or mask.shape != shape:
        raise ValueError(
            f"flow {flow.shape} and mask {mask.shape}: this shard stores {(*shape, 2)} flow with an {shape} mask"
        )
    if mask.dtype.kind not in "ui" or flow.dtype.kind != "f":
        raise ValueError(f"flow must be float pixels and mask integer codes, not {flow.dtype} and {mask.dtype}")
    codes = mask.astype(np.uint8)  # a copy: changed below
    if int(mask.max(initial=0)) >= len(FLOW_MASK_CODES) or int(mask.min(initial=0)) < 0:
        raise ValueError(f"flow mask codes are 0..{len(FLOW_MASK_CODES) - 1}, found {int(mask.max())}")
    scaled = np.multiply(flow.transpose(2, 0, 1), np.float32(FLOW_SCALE), dtype=np.float32)  # (2, H, W), new
    np.rint(scaled, out=scaled)
    valid = codes == FLOW_VALID
    if not -FLOW_LIMIT <= scaled.min() <= scaled.max() <= FLOW_LIMIT:  # rare (or NaN): find the pixels
        with np.errstate(invalid="ignore"):
            fits = (np.abs(scaled[0]) <= FLOW_LIMIT) & (np.abs(scaled[1]) <= FLOW_LIMIT)  # NaN: False
        beyond = valid & ~fits
        if not np.isfinite(scaled[:, beyond]).all():
            raise ValueError("flow is not finite at a pixel whose mask says valid (code 1)")
        codes[beyond] = FLOW_OUT_OF_VIEW
        valid &= fits
        np.copyto(scaled, np.float32(0.0), where=~fits)
    stored = scaled.astype(np.int16)
    keep = valid.astype(np.int16)
    for plane in stored:  # 0 wherever the mask is not valid; per plane: a broadcast product is 3x slower
        np.multiply(plane, keep, out=plane)
    return stored, codes


def decode_flow(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Stored flow (..., 2, H, W) int16 units -> (..., H, W, 2) float32 pixels (du, dv), into ``out`` if given."""
    planes = np.moveaxis(raw, -3, -1)
    if out is None:
        out = np.empty(planes.shape, np.float32)
    np.multiply(planes, np.float32(1.0 / FLOW_SCALE), out=out)  # 1/64 is exact in binary
    return out


def interleave(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Stored flow (..., 2, H, W) int16 -> the same values (..., H, W, 2) int16, into ``out`` if given."""
    planes = np.moveaxis(raw, -3, -1)
    if out is None:
        return np.ascontiguousarray(planes)
    np.copyto(out, planes)
    return out
