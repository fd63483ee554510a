"""segnet.metrics against torchmetrics under the rule of its docstring (absent classes left out of a
mean exactly where their score is undefined), on random batches and on the edge cases of the rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex  # noqa: E402

from segnet.metrics import Confusion


def reference(batches: list[tuple[torch.Tensor, torch.Tensor]], classes: int) -> dict:
    """The same numbers from torchmetrics, accumulated over ``batches`` of (gt, pred), ids 0..classes."""
    n = classes + 1  # id 0 (void) is a class of its own to torchmetrics, ignored in the ground truth
    miou = MulticlassJaccardIndex(num_classes=n, average="macro", ignore_index=0)
    iou = MulticlassJaccardIndex(num_classes=n, average=None, ignore_index=0)
    recall = MulticlassAccuracy(num_classes=n, average=None, ignore_index=0)
    global_acc = MulticlassAccuracy(num_classes=n, average="micro", ignore_index=0)
    present = torch.zeros(n, dtype=torch.bool)
    for gt, pred in batches:
        for metric in (miou, iou, recall, global_acc):
            metric.update(pred.reshape(-1), gt.reshape(-1))
        present |= torch.bincount(gt.reshape(-1), minlength=n).bool()
    per_class = recall.compute()[1:]
    kept = present[1:]
    return {
        "miou": float(miou.compute()),
        "iou": iou.compute()[1:].tolist(),
        "present": kept.tolist(),
        "class_avg_acc": float(per_class[kept].mean()) if kept.any() else math.nan,
        "acc": per_class.tolist(),
        "global_acc": float(global_acc.compute()),
    }


def ours(batches: list[tuple[torch.Tensor, torch.Tensor]], classes: int) -> dict:
    confusion = Confusion(classes)
    for gt, pred in batches:
        confusion.update(gt, pred)
    return confusion.scores()


def check(batches, classes: int) -> None:
    want, got = reference(batches, classes), ours(batches, classes)
    if not any(want["present"]):  # no labelled pixel: every mean is undefined here
        assert math.isnan(got["miou"]) and math.isnan(got["class_avg_acc"]) and math.isnan(got["global_acc"])
        return
    for key in ("miou", "class_avg_acc", "global_acc"):
        assert got[key] == pytest.approx(want[key], abs=1e-6), key
    for k, name in enumerate(got["per_class"]):
        mine = got["per_class"][name]
        if want["present"][k]:
            assert mine["acc"] == pytest.approx(want["acc"][k], abs=1e-6), name
        else:
            assert mine["acc"] is None, name  # absent from the ground truth: undefined, left out
        if mine["iou"] is None:  # never in the ground truth nor predicted
            assert not want["present"][k]
        else:
            assert mine["iou"] == pytest.approx(want["iou"][k], abs=1e-6), name


@pytest.mark.parametrize("seed", range(6))
def test_random_batches(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.choice([13, 37, 40]))
    batches = []
    for _ in range(3):
        gt = rng.integers(0, classes + 1, size=(2, 17, 23))
        pred = np.where(rng.random(gt.shape) < 0.4, gt, rng.integers(0, classes + 1, size=gt.shape))  # some right
        gt[:, :, :3] = 0  # a void border
        batches.append((torch.as_tensor(gt), torch.as_tensor(pred)))
    check(batches, classes)


def test_few_classes_present_many_predicted():
    rng = np.random.default_rng(9)
    gt = rng.choice([0, 3, 7], size=(40, 40))
    pred = rng.integers(1, 14, size=(40, 40))  # predicts classes that are not there
    check([(torch.as_tensor(gt), torch.as_tensor(pred))], 13)


@pytest.mark.parametrize(
    "gt,pred",
    [
        ([1, 1, 2, 2], [1, 1, 2, 2]),  # perfect
        ([1, 1, 1, 1], [1, 2, 3, 1]),  # classes 2 and 3 only predicted: IoU 0, counted in mIoU, no accuracy
        ([1, 2, 0, 0], [0, 0, 1, 2]),  # void predictions are misses; predictions on void pixels are ignored
        ([3, 3, 3, 3], [0, 0, 0, 0]),  # every prediction void
        ([0, 0, 0, 0], [1, 2, 3, 4]),  # no labelled pixel
        ([13, 13, 1, 1], [13, 1, 13, 1]),  # the last class id
    ],
)
def test_edge_cases(gt, pred):
    check([(torch.tensor(gt), torch.tensor(pred))], 13)


def test_predicting_an_absent_class_lowers_miou_but_not_class_average_accuracy():
    gt = torch.tensor([1, 1, 2, 2])
    clean = ours([(gt, torch.tensor([1, 1, 2, 2]))], 13)
    extra = ours([(gt, torch.tensor([1, 5, 2, 2]))], 13)  # class 5 is not in the ground truth
    assert extra["per_class"]["5"] == {"acc": None, "iou": 0.0, "pixels": 0}
    assert extra["miou"] == pytest.approx((1 / 2 + 1 + 0) / 3) and clean["miou"] == 1.0
    assert extra["class_avg_acc"] == pytest.approx((1 / 2 + 1) / 2)
