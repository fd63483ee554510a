"""A whole label fusion run: integrate a sequence, write the labelled map and what it says of each frame.

:func:`fuse_sequence` reads a source (:mod:`segnet.fusion.sources`) twice, one frame at a time:

1. integrate each frame's depth with its pose and class evidence (one-hot ground truth, or a
   checkpoint's softmax) into a :class:`~segnet.fusion.volume.LabelFusion`; then write
   ``fused.ply`` (the labelled points) and ``topdown.png`` (seen from above);
2. ray-cast the fused map into each frame's camera and write ``labels/NNNNN.png`` (fused labels in
   the palette colours of every picture, :mod:`synthcam_core.palette`; void black).

Then ``summary.json``. Every file is written atomically: an interrupted run leaves no half-written
file, and no ``fused.ply`` at all when stopped before integration ends. Nothing is ever removed.

Accuracies (where the frame has ground truth; void ground truth is never scored):

- ``input_accuracy``: the fused labels' input (ground truth itself, or the checkpoint's argmax)
  against ground truth, over pixels with valid depth;
- ``fused_accuracy``: the fused map's labels re-projected into the frame against ground truth, over
  pixels the fused map labels;
- ``fused_coverage``: the share of ground-truth labelled pixels with valid depth that the fused map labels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from segnet.fusion.sources import CheckpointLabeler, FusionFrame, RealSource, ShardSource
from synthcam_core.atomic_file import write_atomic, write_json
from synthcam_core.errors import InputError, SynthcamError

MAX_VOXEL_SIZE = 0.5
"""Largest voxel side accepted (metres): coarser than that no room keeps its furniture."""
MIN_TRUNC_VOXELS = 2.0
"""Smallest TSDF truncation distance, in voxels: less leaves holes between neighbouring voxels."""
PLY_NAME, TOPDOWN_NAME, LABELS_DIR, SUMMARY_NAME = "fused.ply", "topdown.png", "labels", "summary.json"
"""What a run writes into its output directory."""


def check_fusion_options(voxel_size: float, trunc: float) -> None:
    """One-line :class:`InputError` unless 0 < voxel_size <= :data:`MAX_VOXEL_SIZE` and trunc >= 2 voxels."""
    if not np.isfinite(voxel_size) or not 0.0 < voxel_size <= MAX_VOXEL_SIZE:
        raise InputError(f"--voxel-size must be in (0, {MAX_VOXEL_SIZE}] metres, got {voxel_size}")
    if not np.isfinite(trunc) or trunc < MIN_TRUNC_VOXELS * voxel_size:
        raise InputError(
            f"--trunc must be at least {MIN_TRUNC_VOXELS:g} voxels ({MIN_TRUNC_VOXELS * voxel_size:g} m at "
            f"--voxel-size {voxel_size:g}), got {trunc}"
        )


def label_name(index: int) -> str:
    """File name of frame ``index``'s fused label picture: ``00012.png``."""
    return f"{index:05d}.png"


def write_label_png(path: Path, labels: np.ndarray, classes: int) -> Path:
    """(H, W) integer class ids 0..classes as an RGB PNG in the palette colours, written atomically."""
    import cv2

    from synthcam_core.palette import class_colors

    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(class_colors(classes)[labels][..., ::-1]))
    if not ok:
        raise SynthcamError(f"cannot encode {path}; choose another --out directory")

    def write(file: BinaryIO) -> None:
        file.write(encoded.tobytes())

    write_atomic(path, write, "--out")
    return path


def accuracy(pred: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float | None:
    """Share of pixels in ``where`` with non-void ``truth`` at which ``pred`` equals it (None if there are none)."""
    scored = where & (truth > 0)
    count = int(scored.sum())
    return float((pred[scored] == truth[scored]).sum() / count) if count else None


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _evidence(frame: FusionFrame, source, labeler: CheckpointLabeler | None) -> tuple[np.ndarray, np.ndarray]:
    """(what is integrated: (H, W) uint8 ids or (C, H, W) float32 probabilities, (H, W) its argmax ids)."""
    if labeler is None:
        assert frame.truth is not None  # fuse_sequence checked that every frame has ground truth
        return frame.truth, frame.truth
    probs = labeler.probabilities(frame, source.intrinsics)
    return probs, probs.argmax(axis=0).astype(np.uint8)


def fuse_sequence(
    source: ShardSource | RealSource,
    out_dir: Path,
    settings,
    labeler: CheckpointLabeler | None = None,
    on_frame: Callable[[str], None] | None = None,
) -> dict:
    """Fuse ``source`` into ``out_dir`` (module docstring); returns the summary (also ``summary.json``).

    settings : a :class:`~segnet.fusion.volume.FusionSettings`; labeler : None fuses ground truth;
    on_frame : called with ``"integrate"`` after each frame integrated, ``"render"`` after each
    frame's labels are written (for a progress bar).
    """
    from segnet.fusion.ply import write_ply
    from segnet.fusion.topdown import topdown_picture
    from segnet.fusion.volume import LabelFusion
    from segnet.runfiles import make_directory
    from synthcam_core.palette import class_names

    check_fusion_options(settings.voxel_size, settings.trunc)
    if labeler is None and not source.has_truth:
        raise InputError(
            f"{source.path} has no ground-truth labels for every frame; pass --labels CHECKPOINT.pt to fuse predictions"
        )
    classes = source.classes
    make_directory(out_dir / LABELS_DIR, "--out")
    fusion = LabelFusion(classes + 1, settings)
    rows: list[dict] = []
    start = time.perf_counter()
    for frame in source.frames():
        evidence, ids = _evidence(frame, source, labeler)
        fusion.integrate(frame.depth, frame.pose, source.intrinsics, evidence)
        valid = frame.depth > 0
        row = {"index": frame.index, "name": frame.name}
        if frame.truth is not None:
            row["input_accuracy"] = accuracy(ids, frame.truth, valid)
        rows.append(row)
        if on_frame is not None:
            on_frame("integrate")
    seconds = time.perf_counter() - start
    if not rows:
        raise InputError(f"{source.path} holds no frames to fuse")
    points = fusion.extract()
    write_ply(out_dir / PLY_NAME, points, "--out")
    topdown_picture(points, out_dir / TOPDOWN_NAME, class_names(classes))
    for frame, row in zip(source.frames(), rows):
        view = fusion.render(frame.pose, source.intrinsics)
        write_label_png(out_dir / LABELS_DIR / label_name(frame.index), view.labels, classes)
        if frame.truth is not None:
            labelled = view.labels > 0
            row["fused_accuracy"] = accuracy(view.labels, frame.truth, labelled)
            known = (frame.depth > 0) & (frame.truth > 0)
            row["fused_coverage"] = float((labelled & known).sum() / known.sum()) if known.any() else None
        if on_frame is not None:
            on_frame("render")
    summary = {
        "source": str(source.path),
        "kind": "shard" if isinstance(source, ShardSource) else "real",
        "depth": source.depth if isinstance(source, ShardSource) else source.folder.kind,
        "labels": "truth" if labeler is None else str(labeler.path),
        "classes": classes,
        "voxel_size": settings.voxel_size,
        "trunc": settings.trunc,
        "frames": len(rows),
        "points": int(len(points.labels)),
        "integrate_seconds": seconds,
        "frames_per_second": len(rows) / seconds if seconds > 0 else None,
        "memory_bytes": int(fusion.memory_bytes()),
        "input_accuracy": _mean([r.get("input_accuracy") for r in rows]),
        "fused_accuracy": _mean([r.get("fused_accuracy") for r in rows]),
        "fused_coverage": _mean([r.get("fused_coverage") for r in rows]),
        "per_frame": rows,
    }
    write_json(out_dir / SUMMARY_NAME, summary, "--out", indent=1)
    return summary


def format_summary(summary: dict, out_dir: Path) -> str:
    """A few lines for the terminal: frames, speed, points, accuracies and where the files are."""
    pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    fps = summary["frames_per_second"]
    lines = [
        f"fused {summary['frames']} frames of {summary['source']} ({summary['depth']} depth, "
        f"labels: {summary['labels']}) at {1000 * summary['voxel_size']:g} mm voxels"
        + (f", {fps:.1f} frames/s (labelling and integration)" if fps else ""),
        f"{summary['points']} labelled points, {summary['memory_bytes'] / 2**20:.1f} MiB map",
    ]
    if summary["fused_accuracy"] is not None:
        lines.append(
            f"accuracy vs ground truth: input {pct(summary['input_accuracy'])}, fused {pct(summary['fused_accuracy'])}"
            f" (covering {pct(summary['fused_coverage'])} of labelled pixels)"
        )
    lines.append(f"wrote {out_dir / PLY_NAME}, {TOPDOWN_NAME}, {LABELS_DIR}/ and {SUMMARY_NAME}")
    return "\n".join(lines)
