"""``synthcam bench flow``: is a dataset's stored optical flow right? Two checks on its own frames.

- **Label propagation** (the weakly supervised use of flow): the NYUv2-40 labels of frame t are carried
  along the stored forward flow, step by step, to frame t + k (each point takes the flow of the pixel it
  lies in and survives only while the flow mask says it is seen in the next frame), dropped into the pixel
  it lands in, and compared with the rendered labels of t + k. Accuracy counts the pixels of t + k that
  received a label.
- **Depth warp**: frame t + 1's clean depth, sampled (bilinearly) where the flow sends each visible pixel of
  frame t, back-projected and moved into frame t's camera by the poses, must give frame t's clean depth:
  the absolute differences (mm) over the visible pixels, as median and 95th percentile.

Both read the stored values only (millimetre depth, 1/16 px flow), so they test the whole path from the
renderer to the file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthcam.flow_export import flow_shards
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError
from synthcam_core.geometry.flow_np import FLOW_VALID
from synthcam_shards.shard_file import ShardFile

DEFAULT_STEPS = (1, 5, 10)
"""Frame distances k the labels are propagated over."""
FIELDS = ("class40", "flow", "flow_mask", "depth_clean", "pose")


def propagate_labels(
    labels: np.ndarray, flows: Sequence[np.ndarray], masks: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Carry (H, W) uint8 ``labels`` of frame t along ``k = len(flows)`` forward flows to frame t + k.

    flows : k arrays (H, W, 2) float32 pixels, the flow of frames t .. t + k - 1 to their next frame.
    masks : k arrays (H, W) uint8 flow-mask codes of the same frames; a point survives a step only where
        the pixel it lies in is :data:`FLOW_VALID`.
    Returns ((H, W) uint8 propagated labels, 0 where nothing arrived; (H, W) bool where a label arrived).
    """
    h, w = labels.shape
    rows, cols = np.indices((h, w))
    x, y = cols + 0.5, rows + 0.5  # continuous position of each point, pixel centres at +0.5
    alive = labels > 0
    for flow, mask in zip(flows, masks):
        alive &= mask[rows, cols] == FLOW_VALID
        step = flow[rows, cols]
        x, y = x + step[..., 0], y + step[..., 1]
        cols, rows = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        alive &= (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        cols, rows = np.clip(cols, 0, w - 1), np.clip(rows, 0, h - 1)
    out = np.zeros((h, w), dtype=np.uint8)
    out[rows[alive], cols[alive]] = labels[alive]
    reached = np.zeros((h, w), dtype=bool)
    reached[rows[alive], cols[alive]] = True
    return out, reached


def depth_warp_errors(
    depth: np.ndarray,
    depth_next: np.ndarray,
    flow: np.ndarray,
    mask: np.ndarray,
    intrinsics: Intrinsics,
    pose: np.ndarray,
    pose_next: np.ndarray,
) -> np.ndarray:
    """(M,) float64 |predicted - stored| depth of frame t in mm over its visible pixels whose target's 2x2
    neighbourhood in frame t + 1 all has depth.

    depth, depth_next : (H, W) float32 metres; flow (H, W, 2) float32 pixels; mask (H, W) uint8 codes;
    poses (4, 4) float64 camera-to-world. The prediction samples ``depth_next`` bilinearly at pixel centre +
    flow, back-projects it in camera t + 1 and moves it into camera t."""
    k = intrinsics
    h, w = depth.shape
    rows, cols = np.nonzero(mask == FLOW_VALID)
    qx = cols + 0.5 + flow[rows, cols, 0].astype(np.float64)
    qy = rows + 0.5 + flow[rows, cols, 1].astype(np.float64)
    x, y = qx - 0.5, qy - 0.5  # pixel centres at integers
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    ax, ay = x - x0, y - y0
    inside = (x0 >= 0) & (x0 + 1 < w) & (y0 >= 0) & (y0 + 1 < h)
    x0, y0 = np.clip(x0, 0, w - 2), np.clip(y0, 0, h - 2)
    corners = [depth_next[y0 + dy, x0 + dx].astype(np.float64) for dy in (0, 1) for dx in (0, 1)]
    keep = inside & np.all([c > 0 for c in corners], axis=0)
    z = (corners[0] * (1 - ax) + corners[1] * ax) * (1 - ay) + (corners[2] * (1 - ax) + corners[3] * ax) * ay
    rows, cols, qx, qy = rows[keep], cols[keep], qx[keep], qy[keep]
    z = z[keep]
    points = np.stack([z * (qx - k.cx) / k.fx, z * (qy - k.cy) / k.fy, z], axis=1)
    to_t = np.linalg.inv(pose) @ pose_next
    z_pred = points @ to_t[2, :3] + to_t[2, 3]
    return np.abs(z_pred - depth[rows, cols]) * 1000.0


@dataclass(frozen=True)
class PropagationRow:
    """Label propagation over ``k`` frames: ``pairs`` frame pairs, ``pixels`` labels that arrived,
    ``correct`` of them equal to the rendered label."""

    k: int
    pairs: int
    pixels: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.pixels if self.pixels else float("nan")


@dataclass(frozen=True)
class FlowReport:
    """What ``synthcam bench flow`` measured over ``shards`` shards and ``frames`` frames: one row per k, and
    the depth-warp errors (mm) of consecutive frames."""

    shards: int
    frames: int
    rows: tuple[PropagationRow, ...]
    warp_pixels: int
    warp_median_mm: float
    warp_p95_mm: float
    visible_fraction: float

    def to_json(self) -> dict:
        return {
            "shards": self.shards,
            "frames": self.frames,
            "propagation": [
                {"k": r.k, "pairs": r.pairs, "pixels": r.pixels, "accuracy": r.accuracy} for r in self.rows
            ],
            "depth_warp": {
                "pixels": self.warp_pixels,
                "median_mm": self.warp_median_mm,
                "p95_mm": self.warp_p95_mm,
                "visible_fraction": self.visible_fraction,
            },
        }


def flow_bench(
    path: Path,
    steps: Sequence[int] = DEFAULT_STEPS,
    max_frames: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> FlowReport:
    """Run both checks over every shard of the dataset (or the shard) at ``path``; ``max_frames`` reads at most
    that many frames of each shard (from its start). Raises :class:`InputError` for a shard without flow."""
    steps = tuple(sorted(set(int(k) for k in steps)))
    if not steps or steps[0] < 1:
        raise InputError(f"frame distances must be at least 1, got {list(steps)}")
    shards = flow_shards(path)
    counts = {k: [0, 0, 0] for k in steps}
    errors: list[np.ndarray] = []
    visible = surface = frames = 0
    for shard_path, _ in shards:
        with ShardFile(shard_path) as shard:
            intrinsics = shard.intrinsics
            recent: deque[dict[str, np.ndarray]] = deque(maxlen=steps[-1] + 1)
            n = len(shard) if max_frames is None else min(len(shard), max_frames)
            for i in range(n):
                recent.append(shard.read_frame(i, FIELDS))
                frames += 1
                if on_frame is not None:
                    on_frame(1)
                if len(recent) >= 2:
                    a, b = recent[-2], recent[-1]
                    errors.append(
                        depth_warp_errors(
                            a["depth_clean"],
                            b["depth_clean"],
                            a["flow"],
                            a["flow_mask"],
                            intrinsics,
                            a["pose"],
                            b["pose"],
                        )
                    )
                    visible += int(np.count_nonzero(a["flow_mask"] == FLOW_VALID))
                    surface += int(np.count_nonzero(a["depth_clean"] > 0))
                for k in steps:
                    if len(recent) < k + 1:
                        continue
                    chain = list(recent)[-(k + 1) :]
                    labels, reached = propagate_labels(
                        chain[0]["class40"], [f["flow"] for f in chain[:-1]], [f["flow_mask"] for f in chain[:-1]]
                    )
                    row = counts[k]
                    row[0] += 1
                    row[1] += int(np.count_nonzero(reached))
                    row[2] += int(np.count_nonzero(reached & (labels == chain[-1]["class40"])))
    all_errors = np.concatenate(errors) if errors else np.zeros(0)
    return FlowReport(
        shards=len(shards),
        frames=frames,
        rows=tuple(PropagationRow(k, *counts[k]) for k in steps),
        warp_pixels=int(all_errors.size),
        warp_median_mm=float(np.median(all_errors)) if all_errors.size else float("nan"),
        warp_p95_mm=float(np.percentile(all_errors, 95)) if all_errors.size else float("nan"),
        visible_fraction=visible / surface if surface else float("nan"),
    )


def format_report(report: FlowReport) -> str:
    """The table ``synthcam bench flow`` prints."""
    lines = [
        f"optical flow of {report.frames} frames in {report.shards} shard(s)",
        "",
        "label propagation along the stored flow (NYUv2-40 labels, pixels that arrived)",
        f"{'k':>4}  {'pairs':>7}  {'pixels':>12}  {'accuracy':>9}",
    ]
    for r in report.rows:
        lines.append(f"{r.k:>4}  {r.pairs:>7}  {r.pixels:>12,}  {100 * r.accuracy:>8.2f}%")
    lines += [
        "",
        "depth warp: frame t+1's clean depth sampled along the flow and moved into camera t, vs frame t",
        f"  visible pixels {report.warp_pixels:,} ({100 * report.visible_fraction:.1f} % of surface pixels)",
        f"  |error| median {report.warp_median_mm:.3f} mm, 95th percentile {report.warp_p95_mm:.3f} mm",
    ]
    return "\n".join(lines)
