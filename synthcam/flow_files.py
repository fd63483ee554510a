"""Optical flow in the two file formats other tools read: Middlebury ``.flo`` and KITTI 16-bit PNG.

- **Middlebury** ``.flo``: the float32 tag 202021.25 (bytes ``PIEH``), int32 width, int32 height, then
  (H, W, 2) float32 (u, v) in pixels, row by row, little-endian. A pixel without flow holds 1e10 in both
  channels (readers treat anything above 1e9 as unknown).
- **KITTI** PNG: a 3-channel 16-bit PNG, red = u * 64 + 2^15, green = v * 64 + 2^15, blue = 1 where the
  flow is valid and 0 elsewhere (KITTI's ``flow_noc`` convention: occluded pixels are invalid); u and v
  must lie within ±511.98 px, so a larger vector is written invalid.

Writers take our flow (H, W, 2) float32 pixels and a (H, W) bool validity and write atomically
(:func:`~synthcam_core.atomic_file.write_atomic`); readers check the header against the file's size before
they allocate anything, so a damaged or crafted file is one :class:`~synthcam_core.errors.InputError` line.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from synthcam_core.atomic_file import write_atomic
from synthcam_core.errors import InputError

FLO_TAG = 202021.25
"""The float32 tag that opens every Middlebury ``.flo`` file (its bytes spell ``PIEH``)."""
FLO_UNKNOWN = 1e10
"""What a ``.flo`` file holds where there is no flow (readers treat values above 1e9 as unknown)."""
KITTI_SCALE, KITTI_OFFSET = 64.0, 2**15
"""KITTI PNG: a channel holds ``flow * 64 + 2^15`` as uint16."""
KITTI_MAX = (65535 - KITTI_OFFSET) / KITTI_SCALE
"""Largest |u| or |v| (pixels) a KITTI PNG can hold: 511.98."""
MAX_SIDE = 16384
"""Largest width or height a reader accepts (pixels): bounds what a crafted header can make it allocate."""
FORMATS = ("flo", "kitti")
"""Export formats by name: ``flo`` (Middlebury) and ``kitti`` (16-bit PNG)."""
SUFFIX = {"flo": ".flo", "kitti": ".png"}


def _check(flow: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flow = np.asarray(flow, dtype=np.float32)
    valid = np.asarray(valid, dtype=bool)
    if flow.ndim != 3 or flow.shape[2] != 2 or valid.shape != flow.shape[:2]:
        raise ValueError(f"flow must be (H, W, 2) with a (H, W) validity, got {flow.shape} and {valid.shape}")
    return flow, valid & np.isfinite(flow).all(axis=2)


def flo_bytes(flow: np.ndarray, valid: np.ndarray) -> bytes:
    """The Middlebury ``.flo`` bytes of (H, W, 2) float32 flow (pixels) with (H, W) bool ``valid``."""
    flow, valid = _check(flow, valid)
    h, w = valid.shape
    data = np.where(valid[..., None], flow, np.float32(FLO_UNKNOWN)).astype("<f4")
    return struct.pack("<fii", FLO_TAG, w, h) + data.tobytes()


def kitti_png_bytes(flow: np.ndarray, valid: np.ndarray) -> bytes:
    """The KITTI 16-bit PNG bytes of (H, W, 2) float32 flow (pixels) with (H, W) bool ``valid``; a vector
    beyond ±:data:`KITTI_MAX` px is written invalid."""
    import cv2

    flow, valid = _check(flow, valid)
    valid = valid & (np.abs(flow) <= KITTI_MAX).all(axis=2)
    coded = np.where(valid[..., None], np.rint(flow * KITTI_SCALE + KITTI_OFFSET), 0).astype(np.uint16)
    bgr = np.dstack([valid.astype(np.uint16), coded[..., 1], coded[..., 0]])  # OpenCV writes B, G, R
    ok, buffer = cv2.imencode(".png", bgr)
    if not ok:
        raise RuntimeError("OpenCV could not encode the KITTI flow PNG")
    return buffer.tobytes()


def write_flow_file(path: Path, flow: np.ndarray, valid: np.ndarray, fmt: str, option: str = "--out") -> Path:
    """Write ``flow`` and ``valid`` to ``path`` in format ``fmt`` (:data:`FORMATS`), atomically."""
    if fmt not in FORMATS:
        raise InputError(f"unknown flow format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    data = flo_bytes(flow, valid) if fmt == "flo" else kitti_png_bytes(flow, valid)

    def write(file: BinaryIO) -> None:
        file.write(data)

    write_atomic(path, write, option)
    return Path(path)


def read_flo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Middlebury ``.flo`` file: ((H, W, 2) float32 pixels, (H, W) bool valid); unknown flow reads 0.

    Raises :class:`InputError` (one line naming the file) for a wrong tag, a size the file does not hold
    or a side above :data:`MAX_SIDE`."""
    path = Path(path)
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or struct.unpack("<f", head[:4])[0] != FLO_TAG:
            raise InputError(f"{path} is not a Middlebury .flo file (its first bytes are not 'PIEH')")
        w, h = struct.unpack("<ii", head[4:])
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise InputError(f"{path}: a .flo header of {w}x{h} pixels is out of range (1..{MAX_SIDE})")
        data = file.read(w * h * 8 + 1)
    if len(data) != w * h * 8:
        raise InputError(f"{path}: a {w}x{h} .flo file needs {w * h * 8} bytes of flow, it holds {len(data)}")
    flow = np.frombuffer(data, dtype="<f4").reshape(h, w, 2).astype(np.float32)
    valid: np.ndarray = np.all(np.abs(flow) < 1e9, axis=2)
    return np.where(valid[..., None], flow, 0).astype(np.float32), valid


def read_kitti_png(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI flow PNG: ((H, W, 2) float32 pixels, (H, W) bool valid); invalid pixels read 0.

    Raises :class:`InputError` (one line naming the file) unless it is a 3-channel 16-bit PNG."""
    import cv2

    path = Path(path)
    with open(path, "rb") as file:
        head = file.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise InputError(f"{path} is not a PNG file; pass a KITTI flow PNG")
    w, h, bits, colour = struct.unpack(">IIBB", head[16:26])
    if bits != 16 or colour != 2 or not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise InputError(f"{path} is not a KITTI flow PNG (a 3-channel 16-bit PNG up to {MAX_SIDE} pixels a side)")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"{path} is not a KITTI flow PNG (a 3-channel 16-bit PNG)")
    valid = image[..., 0] > 0
    flow = (image[..., [2, 1]].astype(np.float32) - KITTI_OFFSET) / KITTI_SCALE
    return np.where(valid[..., None], flow, 0).astype(np.float32), valid
