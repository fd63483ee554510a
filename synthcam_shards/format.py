"""The shard format's vocabulary (formats v2 and v3, see FORMAT.md): names, versions, dataset lists, limits,
the depth encoding (float32 metres <-> uint16 millimetres), the optical-flow units and mask codes (v3), the
CRC32 of stored frames and the label tables.

Everything here is shared by the writer (:mod:`synthcam_shards.writer`), the header digest
(:mod:`synthcam_shards.digest`), the checks made when a shard is opened (:mod:`synthcam_shards.layout`),
the reader (:mod:`synthcam_shards.shard_file`) and the manifest reader (:mod:`synthcam_shards.manifest`);
it imports none of them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np

FORMAT_NAME = "synthcam-shard"
FORMAT_VERSION = 2
"""Version of ``manifest.json`` and of a shard without optical flow (v2 added the header digest,
:data:`HEADER_DIGEST`); a shard without flow is always written as this version."""
FLOW_FORMAT_VERSION = 3
"""Version of a shard holding optical flow: version 2 plus the :data:`FLOW_DATASETS`."""
READ_VERSIONS = (FORMAT_VERSION, FLOW_FORMAT_VERSION)
"""Shard format versions this synthcam reads; a newer one is refused with "upgrade synthcam"."""
MANIFEST_FORMAT = "synthcam-dataset"
"""The ``format`` field of ``manifest.json``."""
SHARD_SUFFIX = ".h5"
MANIFEST = "manifest.json"
TEMP_SUFFIX = ".synthcam-partial"
"""Suffix of a shard being written (``room_00000.h5.synthcam-partial``): the only temporary name this
tool creates, exclusively (never through an existing file or symlink), and the only one it removes."""
FRAME_DATASETS = ("depth", "depth_clean", "class40", "instance")
"""The (N, H, W) image datasets, one frame per chunk."""
CHECKSUM_FIELDS = ("depth", "depth_clean", "class40", "instance", "pose", "timestamp", "trajectory_id")
"""Column order of the ``checksum`` dataset: CRC32 of each frame's stored bytes of these datasets."""
FLOW_DATASETS = ("flow", "flow_mask")
"""The datasets a version 3 shard adds, one frame per chunk: ``flow`` (N, 2, H, W) int16 in
1 / :data:`FLOW_SCALE` pixels, planes du then dv; ``flow_mask`` (N, H, W) uint8 codes (:data:`FLOW_MASK_CODES`)."""
FLOW_CHECKSUM_FIELDS = (*CHECKSUM_FIELDS, *FLOW_DATASETS)
"""Column order of the ``checksum`` dataset of a version 3 shard."""
STACK_DATASETS = (*FRAME_DATASETS, *FLOW_DATASETS)
"""Every per-frame dataset stored one frame per compressed chunk (the header digest covers their layout,
the ``checksum`` table their values)."""
FLOW_SCALE = 16
"""Stored flow units per pixel: a stored int16 ``q`` is ``q / FLOW_SCALE`` pixels."""
FLOW_LIMIT = 32767
"""Largest stored |flow| in units (2047.94 px); a pixel whose flow rounds beyond it is stored as 0 with mask
:data:`FLOW_OUT_OF_VIEW`."""
FLOW_NONE, FLOW_VALID, FLOW_OCCLUDED, FLOW_OUT_OF_VIEW = 0, 1, 2, 3
"""``flow_mask`` codes: no surface in frame t, or no next frame; visible in the next frame; hidden there by
nearer geometry; projects outside the next image or behind its camera (those of
:mod:`synthcam_core.geometry.flow_np`)."""
FLOW_MASK_CODES = ("none", "valid", "occluded", "out of view")
"""Name of each ``flow_mask`` code, by code."""
HEADER_DIGEST = "header_sha256"
"""Root attribute holding the hex SHA-256 of the shard's header (see :func:`synthcam_shards.digest.header_digest`)."""
HEADER_DATASETS = (
    "pose",
    "timestamp",
    "trajectory_id",
    "checksum",
    "class40_pixels",
    "intrinsics",
    "class40_names",
    "class13_names",
    "class37_names",
    "class40_to_13",
    "class40_to_37",
)
"""Datasets read whole when a shard is opened; the header digest covers their data."""
CLASS_COUNTS = {"class40_names": 41, "class13_names": 14, "class37_names": 38}
"""Entries of each class-name list (ids 0..40, 0..13, 0..37; entry 0 = ``"void"``)."""

MAX_FRAMES = 100_000
"""Most frames one shard may hold (about 55 minutes at 30 frames/s); checked before a shard is read."""
MAX_IMAGE_SIDE = 4096
"""Largest image width or height, in pixels, a shard may declare: the largest ``synthcam generate`` writes
(:data:`synthcam_core.camera.MAX_IMAGE_SIDE`), so readers and the writer accept only what the tool makes. One
frame of the four image datasets is then at most 4096 * 4096 * 7 bytes (112 MiB), with optical flow (v3)
4096 * 4096 * 12 bytes (192 MiB), the most a frame-by-frame reader holds
(``validate`` and ``inspect`` hold one frame and a few MiB besides)."""
MAX_ATTRIBUTES = 64
"""Most attributes on the root group (or on one dataset) of a shard."""
MAX_NAME_BYTES = 256
"""Longest class name, in UTF-8 bytes."""
IMAGE_DTYPES = {
    "depth": np.dtype("<u2"),
    "depth_clean": np.dtype("<u2"),
    "class40": np.dtype("|u1"),
    "instance": np.dtype("<u2"),
}
"""Stored dtype of each (N, H, W) image dataset: uint16 millimetres for depths, uint8 class40 ids,
uint16 instance ids."""
FLOW_DTYPES = {"flow": np.dtype("<i2"), "flow_mask": np.dtype("|u1")}
"""Stored dtype of each of the :data:`FLOW_DATASETS`."""


def shard_version(flow: bool) -> int:
    """The format version of a shard with or without optical flow (3 or 2)."""
    return FLOW_FORMAT_VERSION if flow else FORMAT_VERSION


def checksum_fields(version: int) -> tuple[str, ...]:
    """Column names of the ``checksum`` table of a shard of format ``version`` (2 or 3)."""
    return FLOW_CHECKSUM_FIELDS if version == FLOW_FORMAT_VERSION else CHECKSUM_FIELDS
    return 7 + (5 if version == FLOW_FORMAT_VERSION else 0)


COUNT_BLOCK_PIXELS = 1 << 20
"""Pixels counted at a time by :func:`class_counts` (its temporary is 8 bytes a pixel, so 8 MiB)."""


def class_counts(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(max(n_classes, largest id + 1),) int64 pixels of each id in ``labels`` (any shape, uint8 class ids),
    counted :data:`COUNT_BLOCK_PIXELS` at a time so the temporary stays small whatever the image size."""
    flat = labels.reshape(-1)
    counts = np.zeros(n_classes, dtype=np.int64)
    for start in range(0, flat.size, COUNT_BLOCK_PIXELS):
        block = np.bincount(flat[start : start + COUNT_BLOCK_PIXELS], minlength=n_classes)
        if len(block) > len(counts):
            counts = np.concatenate([counts, np.zeros(len(block) - len(counts), dtype=np.int64)])
        counts[: len(block)] += block
    return counts


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """(H, W) float32 metres (0 = invalid) -> (H, W) uint16 millimetres, rounded to nearest; NaN and
    negative values become 0, and so do values beyond 65.535 m (the largest storable)."""
    import cv2

    depth = np.ascontiguousarray(depth, dtype=np.float32)
    if depth.size == 0:
        return np.zeros(depth.shape, dtype=np.uint16)
    # Rounds and saturates; NaN -> 0. OpenCV takes a scalar operand, which its stubs do not list.
    mm = cv2.multiply(depth, 1000.0, dtype=cv2.CV_16U).reshape(depth.shape)  # type: ignore[call-overload]
    if mm.max() == 65535:  # rare: saturated pixels beyond the range are invalid, not 65.535 m
        mm[~(depth < np.float32(65.5355))] = 0
    return mm


def mm_to_depth(mm: np.ndarray) -> np.ndarray:
    """uint16 millimetres -> float32 metres (0 stays 0 = invalid)."""
    return mm.astype(np.float32) / np.float32(1000.0)


def _crc32_function():
    """zlib's CRC32 as ISA-L computes it (same values, ~3.5x faster: 0.05 vs 0.17 ms for a 640x480 uint16
    image) where the ``isal`` package is installed, else the standard library's."""
    try:
        from isal import isal_zlib

        return isal_zlib.crc32
    except ImportError:
        return zlib.crc32


crc32 = _crc32_function()
"""``crc32(buffer) -> int``: the CRC32 that shard checksums use (zlib's polynomial)."""


def frame_crc(array: np.ndarray) -> int:
    """CRC32 of an array's bytes in C order, little-endian (the dtypes stored in shards are)."""
    return crc32(np.ascontiguousarray(array))  # the buffer itself: no copy


# --- labels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelTables:
    """The label vocabulary stored in every shard.

    class40_names : 41 names by NYUv2-40 id, entry 0 = ``"void"``.
    class13_names, class37_names : names of the derived 13-class (SceneNet/Eigen) and 37-class
        (SUN RGB-D) spaces, entry 0 = ``"void"``.
    class40_to_13, class40_to_37 : (41,) uint8 lookup tables from a 40-class id to the derived id.
    """

    class40_names: tuple[str, ...]
    class13_names: tuple[str, ...]
    class37_names: tuple[str, ...]
    class40_to_13: np.ndarray
    class40_to_37: np.ndarray


@cache
def default_label_tables() -> LabelTables:
    """NYUv2-40 names and the 40 -> 13 and 40 -> 37 tables, from :mod:`synthcam_core.labels`."""
    from synthcam_core import labels

    return LabelTables(
        labels.class40_names(),
        labels.class13_names(),
        labels.class37_names(),
        labels.class40_to_13(),
        labels.class40_to_37(),
    )
