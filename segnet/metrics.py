"""Segmentation metrics from an accumulated confusion matrix (void = 0 ignored).

Accumulate with :func:`confusion_matrix` (or :class:`Confusion`) over a whole test set, then reduce
once with :func:`scores`, as SceneNet's ``getAccuracyNYU.m`` does:

- global accuracy: correct non-void pixels / all non-void pixels;
- per-class accuracy (recall): diagonal / row sum (ground-truth pixels of the class);
- class-average accuracy: mean of the per-class accuracies;
- per-class IoU: diagonal / (row sum + column sum - diagonal); mIoU: their mean.

The rule for absent classes: a class is left out of a mean exactly where its score is undefined
(0 / 0), and kept, with score 0, where it is defined:

- a class absent from the ground truth has no accuracy (NaN in the per-class lists, ``null`` in
  JSON) and is left out of the class-average accuracy, predicted or not;
- its IoU is undefined (left out of mIoU) only when it is also never predicted; a class that is
  predicted but absent from the ground truth has IoU 0 (all its predicted pixels are false
  positives) and counts in mIoU, so predicting a class that is not there lowers mIoU.

This is torchmetrics' rule for ``MulticlassJaccardIndex(average="macro", ignore_index=0)`` (classes
with an empty union get weight 0) and for per-class recall averaged over the classes present
(``MulticlassAccuracy(average=None, ignore_index=0)``, then the mean over ground-truth classes;
torchmetrics' own ``average="macro"`` accuracy would count a predicted-but-absent class as 0):
tests/test_metrics_torchmetrics.py checks both. ``present`` lists which classes occur in the
ground truth.

Pixels whose prediction is void (0) count as wrong for their ground-truth class but add no column.
:func:`resize_nearest` (pixel-centre nearest neighbour) brings ground truth to SceneNet's 224 x 224
and a prediction made at the training resolution back to the label's size (the protocols of
``segnet.evaluate``).
"""

from __future__ import annotations

import numpy as np
import torch

SCENENET_SIZE = (224, 224)
"""(height, width) of SceneNet's evaluation protocol: ground truth resized with nearest neighbour."""


def confusion_matrix(gt: torch.Tensor | np.ndarray, pred: torch.Tensor | np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts, rows = ground truth class 1..C, columns = predicted class 1..C.

    gt, pred : integer arrays of the same shape with ids 0..C; ground-truth void (0) pixels are
    ignored; a void prediction is wrong but has no column.
    """
    gt_t = torch.as_tensor(gt).reshape(-1).long()
    pred_t = torch.as_tensor(pred).reshape(-1).long().to(gt_t.device)
    if gt_t.shape != pred_t.shape:
        raise ValueError(f"ground truth ({gt_t.numel()} pixels) and prediction ({pred_t.numel()}) differ in size")
    keep = (gt_t > 0) & (gt_t <= num_classes)
    g, p = gt_t[keep] - 1, pred_t[keep]
    p = torch.where((p >= 1) & (p <= num_classes), p, torch.zeros_like(p))  # void or out of range: wrong, extra column
    counts = torch.bincount(g * (num_classes + 1) + p, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)[:, 1:].cpu().numpy().astype(np.int64)


class Confusion:
    """Accumulates a confusion matrix over batches; ``rows`` counts every non-void GT pixel."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.gt_pixels = np.zeros(num_classes, dtype=np.int64)

    def update(self, gt: torch.Tensor | np.ndarray, pred: torch.Tensor | np.ndarray) -> None:
        """Add a batch of ground truth and predictions (any matching shapes, ids 0..C)."""
        self.matrix += confusion_matrix(gt, pred, self.num_classes)
        g = torch.as_tensor(gt).reshape(-1).long()
        g = g[(g > 0) & (g <= self.num_classes)]
        self.gt_pixels += torch.bincount(g - 1, minlength=self.num_classes).cpu().numpy()

    def scores(self, names: tuple[str, ...] | None = None) -> dict:
        """:func:`scores` of the accumulated counts."""
        return scores(self.matrix, names, gt_pixels=self.gt_pixels)


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def scores(matrix: np.ndarray, names: tuple[str, ...] | None = None, gt_pixels: np.ndarray | None = None) -> dict:
    """Reduce a (C, C) confusion matrix (rows GT, columns prediction) to the metrics above.

    gt_pixels : (C,) GT pixels per class including those predicted as void (defaults to the row
    sums). names : C class names (default "1".."C"). Returns a JSON-ready dict: ``global_acc``,
    ``class_avg_acc``, ``miou`` (fractions in [0, 1]), ``per_class`` {name: {"acc", "iou",
    "pixels"}}, ``present`` (names of classes in the ground truth), ``pixels`` (non-void GT total).
    """
    m = np.asarray(matrix, dtype=np.float64)
    c = m.shape[0]
    diag = np.diag(m)
    rows = m.sum(axis=1) if gt_pixels is None else np.asarray(gt_pixels, dtype=np.float64)
    cols = m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(rows > 0, diag / rows, np.nan)
        union = rows + cols - diag
        iou = np.where(union > 0, diag / union, np.nan)
    total = rows.sum()
    names = tuple(names) if names is not None else tuple(str(i) for i in range(1, c + 1))
    if len(names) != c:
        raise ValueError(f"{len(names)} class names for a {c}-class confusion matrix")
    clean = lambda x: None if np.isnan(x) else float(x)  # noqa: E731 - JSON has no NaN
    return {
        "global_acc": float(diag.sum() / total) if total > 0 else float("nan"),
        "class_avg_acc": _nanmean(acc),
        "miou": _nanmean(iou),
        "per_class": {
            n: {"acc": clean(a), "iou": clean(i), "pixels": int(r)} for n, a, i, r in zip(names, acc, iou, rows)
        },
        "present": [n for n, r in zip(names, rows) if r > 0],
        "pixels": int(total),
    }


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """(n_out,) source index of each output pixel for nearest resizing with pixel-centre alignment."""
    return np.minimum(np.floor((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.int64), n_in - 1)


def resize_nearest(labels: torch.Tensor, size: tuple[int, int] = SCENENET_SIZE) -> torch.Tensor:
    """(..., H, W) -> (..., h, w) by nearest neighbour at pixel centres (MATLAB ``imresize`` 'nearest')."""
    h, w = size
    rows = torch.as_tensor(nearest_indices(labels.shape[-2], h), device=labels.device)
    cols = torch.as_tensor(nearest_indices(labels.shape[-1], w), device=labels.device)
    return labels.index_select(-2, rows).index_select(-1, cols)


def format_scores(result: dict, title: str = "") -> str:
    """A text table: per-class accuracy and IoU, then global, class-average accuracy and mIoU (%)."""
    pct = lambda v: "   -" if v is None or v != v else f"{100 * v:5.1f}"  # noqa: E731
    width = max([len(n) for n in result["per_class"]] + [5])
    lines = [title] if title else []
    lines.append(f"{'class':<{width}}   acc %   IoU %   pixels")
    for name, r in result["per_class"].items():
        lines.append(f"{name:<{width}}   {pct(r['acc'])}   {pct(r['iou'])}   {r['pixels']}")
    lines.append(
        f"global acc {pct(result['global_acc'])} %   class-avg acc {pct(result['class_avg_acc'])} %   "
        f"mIoU {pct(result['miou'])} %   ({result['pixels']} non-void pixels)"
    )
    return "\n".join(lines)
