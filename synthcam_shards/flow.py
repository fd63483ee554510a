"""Optical flow as a version 3 shard stores it (FORMAT.md, "Shard format, version 3"): the encoding of a
frame's flow (float32 pixels <-> int16 in 1 / :data:`~synthcam_shards.format.FLOW_SCALE` pixels, planes du
then dv) and its mask, and the HDF5 filters of the two flow datasets.

Flow is stored planar, (2, H, W) per frame, in 1/16 px, with Blosc (LZ4 after its byte shuffle; HDF5's
shuffle and gzip where hdf5plugin is missing): planes compress about 2.5 times better than (H, W, 2)
interleaved components with the same filters, because the compressor finds long repeats in a row of one
component and not in rows of alternating ones; and LZ4 writes and reads a frame two to three times faster
than zstd, which the pipeline's and the clip reader's frame rates need (:data:`FLOW_BLOSC_LEVEL`).
"""

from __future__ import annotations

import cv2
import numpy as np

from synthcam_shards.format import FLOW_LIMIT, FLOW_MASK_CODES, FLOW_OUT_OF_VIEW, FLOW_SCALE, FLOW_VALID

FLOW_BLOSC_LEVEL = 9
"""Blosc level of the ``flow`` dataset (LZ4 with Blosc's byte shuffle): level 9 takes Blosc's largest
blocks, the smallest output at LZ4's speed. Measured on a 640x480 room at 2.5 frames/s, one thread, per
frame of flow at 1/16 px: 196 kB, written in 1.3 ms and read in 0.9 ms; HDF5 shuffle + zstd 3 stored 118 kB
in 2.3 ms and read it in 1.5 ms (and at 1/64 px 202 kB in 3.6 ms, read in 1.7 ms)."""


def flow_filters(compression: str) -> dict:
    """h5py filter keywords of the ``flow`` dataset for a shard whose ``compression`` attribute is
    ``"zstd"`` (hdf5plugin present at write time: Blosc LZ4 with byte shuffle) or ``"gzip"`` (HDF5's
    byte shuffle, then gzip level 1)."""
    if compression == "zstd":
        import hdf5plugin

        return dict(hdf5plugin.Blosc(cname="lz4", clevel=FLOW_BLOSC_LEVEL, shuffle=hdf5plugin.Blosc.SHUFFLE))
    return {"shuffle": True, "compression": "gzip", "compression_opts": 1}


def encode_flow(
    flow: np.ndarray, mask: np.ndarray, shape: tuple[int, int], out: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One frame's flow as stored: ((2, H, W) int16 du, dv planes in 1 / FLOW_SCALE px, (H, W) uint8 mask),
    C-contiguous, written into ``out`` (such a pair, reused frame after frame by the writer) if given.

    flow : (H, W, 2) pixels (du, dv), any float dtype (float32 planar, the (H, W, 2) view of (2, H, W)
    planes as :func:`synthcam_core.geometry.flow_np.forward_flow` returns it, is read without a copy);
    mask : (H, W) codes 0..3 (:data:`FLOW_MASK_CODES`). Values are rounded to the nearest unit (half to
    even); where the mask is not :data:`~synthcam_shards.format.FLOW_VALID` they are stored 0, and a valid
    pixel whose flow rounds beyond :data:`~synthcam_shards.format.FLOW_LIMIT` units in either component is
    stored 0 with mask :data:`~synthcam_shards.format.FLOW_OUT_OF_VIEW`. Raises ``ValueError`` for other
    shapes, mask codes above 3 or a non-finite flow at a valid pixel.
    """
    flow, mask = np.asarray(flow), np.asarray(mask)
    if flow.shape != (*shape, 2) or mask.shape != shape:
        raise ValueError(
            f"flow {flow.shape} and mask {mask.shape}: this shard stores {(*shape, 2)} flow with an {shape} mask"
        )
    if mask.dtype.kind not in "ui" or flow.dtype.kind != "f":
        raise ValueError(f"flow must be float pixels and mask integer codes, not {flow.dtype} and {mask.dtype}")
    if int(mask.max(initial=0)) >= len(FLOW_MASK_CODES) or int(mask.min(initial=0)) < 0:
        raise ValueError(f"flow mask codes are 0..{len(FLOW_MASK_CODES) - 1}, found {int(mask.max())}")
    stored, codes = (np.empty((2, *shape), np.int16), np.empty(shape, np.uint8)) if out is None else out
    np.copyto(codes, mask, casting="unsafe")
    planes = np.ascontiguousarray(np.moveaxis(flow, -1, 0), dtype=np.float32)  # (2, H, W); a view if planar
    invalid = np.not_equal(codes, FLOW_VALID).view(np.uint8)
    for plane, dst in zip(planes, stored):
        # x 64 (+ 0 x itself: cv2's fastest scaled conversion), rounded half to even and saturated to
        # int16 (NaN: -32768); then 0 where not valid
        cv2.addWeighted(plane, float(FLOW_SCALE), plane, 0.0, 0.0, dst=dst, dtype=cv2.CV_16S)
        cv2.subtract(dst, dst, dst=dst, mask=invalid)
        low, high, _, _ = cv2.minMaxLoc(dst)
        if low < -FLOW_LIMIT or high >= FLOW_LIMIT:  # saturated, NaN (-32768) or right at the limit: rare
            return _encode_checked(planes, codes, stored)
    return stored, codes


def _encode_checked(planes: np.ndarray, codes: np.ndarray, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`encode_flow` of (2, H, W) float32 ``planes`` and (H, W) uint8 ``codes`` (changed in place)
    into ``stored`` where some value rounds to the int16 limit or beyond, or is not finite."""
    scaled = np.multiply(planes, np.float32(FLOW_SCALE), dtype=np.float32)  # (2, H, W), new
    np.rint(scaled, out=scaled)
    valid = codes == FLOW_VALID
    with np.errstate(invalid="ignore"):
        fits = (np.abs(scaled[0]) <= FLOW_LIMIT) & (np.abs(scaled[1]) <= FLOW_LIMIT)  # NaN: False
    beyond = valid & ~fits
    if not np.isfinite(scaled[:, beyond]).all():
        raise ValueError("flow is not finite at a pixel whose mask says valid (code 1)")
    codes[beyond] = FLOW_OUT_OF_VIEW
    valid &= fits
    np.copyto(scaled, np.float32(0.0), where=~valid)
    np.copyto(stored, scaled, casting="unsafe")
    return stored, codes


def decode_flow(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Stored flow (..., 2, H, W) int16 units -> (..., H, W, 2) float32 pixels (du, dv), into ``out`` if given."""
    planes = np.moveaxis(raw, -3, -1)
    if out is None:
        out = np.empty(planes.shape, np.float32)
    np.multiply(planes, np.float32(1.0 / FLOW_SCALE), out=out)  # 1/16 is exact in binary
    return out


def interleave(raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Stored flow (..., 2, H, W) int16 -> the same values (..., H, W, 2) int16, into ``out`` if given."""
    planes = np.moveaxis(raw, -3, -1)
    if out is None:
        return np.ascontiguousarray(planes)
    np.copyto(out, planes)
    return out
