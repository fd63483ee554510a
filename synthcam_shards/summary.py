"""Shard statistics for ``synthcam inspect``: shapes, dtypes, class histogram, depth statistics, and whether
the shard holds optical flow (with the share of each flow mask code)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthcam_shards.format import FLOW_DATASETS, FLOW_MASK_CODES, FRAME_DATASETS, class_counts
from synthcam_shards.manifest import not_enough_memory
from synthcam_shards.shard_file import ShardFile

STATS_BLOCK_PIXELS = 1 << 20
"""Depth pixels :class:`_DepthStats` takes at a time (its float64 temporaries are 8 bytes a pixel each)."""


def summarize_shard(path: Path) -> dict:
    """Statistics of one shard (JSON-friendly). Reads frame by frame with every checksum verified,
    so memory stays at one frame (of four fields, at most 4096 x 4096 x 6 bytes, 96 MiB) and a few MiB;
    raises :class:`~synthcam_core.errors.ShardError` for a damaged shard, and a ShardError
    (:class:`~synthcam_shards.manifest.NotEnoughMemory`) if the machine runs out of memory."""
    try:
        return _summarize_shard(path)
    except MemoryError:
        raise not_enough_memory(path) from None


def _summarize_shard(path: Path) -> dict:
    """:func:`summarize_shard` without its translation of MemoryError."""
    with ShardFile(path) as sf:
        n, names = len(sf), sf.class_names
        datasets = {}
        flow = FLOW_DATASETS if sf.has_flow else ()
        for key in (*FRAME_DATASETS, *flow, "pose", "timestamp", "trajectory_id", "intrinsics"):
            ds = sf.dataset(key)
            datasets[key] = {
                "shape": list(ds.shape),
                "dtype": str(ds.dtype),
                "compression": _filter_name(ds),
                "stored_bytes": int(ds.id.get_storage_size()),
            }
        hist = np.zeros(len(names), dtype=np.int64)
        depth_stats = {key: _DepthStats() for key in ("depth", "depth_clean")}
        codes = np.zeros(len(FLOW_MASK_CODES), dtype=np.int64)
        for i in range(n):
            frame = sf.read_frame(i, ("depth_mm", "depth_clean_mm", "class40", *flow[1:]))
            hist += class_counts(frame["class40"], len(names))[: len(names)]
            if flow:
                codes += class_counts(frame["flow_mask"], len(codes))[: len(codes)]  # validate refuses others
            for key, stats in depth_stats.items():
                stats.add(frame[key + "_mm"])
        attrs, scene = sf.attrs, sf.scene
    objects = scene.get("objects")
    return {
        "path": str(path),
        "frames": n,
        "datasets": datasets,
        "class_pixels": {names[i]: int(c) for i, c in enumerate(hist) if c},
        "depth": {k: s.result() for k, s in depth_stats.items()},
        "room_type": scene.get("room_type"),
        "objects": len(objects) if isinstance(objects, list) else 0,
        "flow": {FLOW_MASK_CODES[k]: int(c) for k, c in enumerate(codes)} if flow else None,
        "attrs": attrs,
    }


_FILTER_NAMES = {1: "gzip", 2: "shuffle", 3: "fletcher32", 32000: "lzf", 32001: "blosc", 32015: "zstd"}


def _filter_name(ds) -> str:
    """Names of the dataset's HDF5 filters, e.g. ``"zstd"`` or ``"gzip"``; ``"none"`` if unfiltered."""
    plist = ds.id.get_create_plist()
    ids = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return "+".join(_FILTER_NAMES.get(i, str(i)) for i in ids) or "none"


class _DepthStats:
    """Running statistics of uint16 millimetre depth (0 = invalid) over many frames."""

    def __init__(self):
        self.total = self.valid = 0
        self.sum = self.sumsq = 0.0
        self.lo, self.hi = np.inf, -np.inf

    def add(self, mm: np.ndarray) -> None:
        """Add an (H, W) uint16 millimetre image, :data:`STATS_BLOCK_PIXELS` at a time."""
        flat = mm.reshape(-1)
        for start in range(0, flat.size, STATS_BLOCK_PIXELS):
            self._add_block(flat[start : start + STATS_BLOCK_PIXELS])

    def _add_block(self, mm: np.ndarray) -> None:
        v = mm[mm > 0].astype(np.float64) / 1000.0
        self.total += mm.size
        self.valid += v.size
        if v.size:
            self.sum += v.sum()
            self.sumsq += np.square(v).sum()
            self.lo, self.hi = min(self.lo, v.min()), max(self.hi, v.max())

    def result(self) -> dict:
        mean = self.sum / self.valid if self.valid else 0.0
        std = float(np.sqrt(max(self.sumsq / self.valid - mean**2, 0.0))) if self.valid else 0.0
        return {
            "min_m": float(self.lo) if self.valid else None,
            "max_m": float(self.hi) if self.valid else None,
            "mean_m": mean,
            "std_m": std,
            "invalid_fraction": 1.0 - self.valid / self.total if self.total else 1.0,
        }


def _flow_text(codes: dict[str, int] | None) -> str:
    """``no``, or ``yes`` and the share of pixels of each flow mask code."""
    if codes is None:
        return "no"
    total = sum(codes.values()) or 1
    return "yes (" + ", ".join(f"{name} {100 * count / total:.1f} %" for name, count in codes.items()) + ")"


def merge_summaries(summaries: list[dict]) -> dict:
    """Totals over several shard summaries: frames, class pixels and pixel-weighted depth statistics."""
    classes: dict[str, int] = {}
    for s in summaries:
        for k, v in s["class_pixels"].items():
            classes[k] = classes.get(k, 0) + v
    return {"shards": len(summaries), "frames": sum(s["frames"] for s in summaries), "class_pixels": classes}


def format_summary(summaries: list[dict]) -> str:
    """Human-readable report of one or more shard summaries."""
    lines = []
    for s in summaries:
        a = s["attrs"]
        lines.append(
            f"{s['path']}: {s['frames']} frames, {s['room_type']} ({s['objects']} objects), "
            f"format v{a.get('format_version')}, synthcam {a.get('package_version')}"
        )
        filters = max(6, *(len(d["compression"]) for d in s["datasets"].values()))
        for key, d in s["datasets"].items():
            lines.append(
                f"  {key:<12} {str(tuple(d['shape'])):<18} {d['dtype']:<8} {d['compression']:<{filters}} "
                f"{d['stored_bytes'] / 1e6:8.2f} MB"
            )
        for key, label in (("depth", "noisy depth"), ("depth_clean", "clean depth")):
            d = s["depth"][key]
            rng_txt = f"{d['min_m']:.3f}-{d['max_m']:.3f} m" if d["min_m"] is not None else "no valid pixels"
            lines.append(
                f"  {label}: {rng_txt}, mean {d['mean_m']:.3f} m, std {d['std_m']:.3f} m, "
                f"invalid {100 * d['invalid_fraction']:.2f} %"
            )
        noise = a.get("noise")
        preset = noise.get("preset") if isinstance(noise, dict) else noise
        lines.append(
            f"  seed {a.get('seed')}, room {a.get('room_index')}, noise {preset}, renderer {a.get('renderer')}"
        )
        lines.append(f"  config {json.dumps(a.get('config'), sort_keys=True)}")
        lines.append(f"  optical flow: {_flow_text(s.get('flow'))}")
    total = merge_summaries(summaries)
    pixels = sum(total["class_pixels"].values()) or 1
    lines.append(f"class pixels over {total['shards']} shard(s), {total['frames']} frames:")
    for name, count in sorted(total["class_pixels"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<16} {100 * count / pixels:6.2f} %  {count}")
    return "\n".join(lines)
