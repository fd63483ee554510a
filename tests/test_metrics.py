"""Metrics against a hand-built confusion matrix; void handling; SceneNet's nearest resize."""

from __future__ import annotations

import math

import numpy as np
import torch

from segnet.metrics import Confusion, confusion_matrix, format_scores, nearest_indices, resize_nearest, scores


def test_hand_built_confusion_matrix():
    # 3 classes; ground truth 0 (void) pixels are ignored whatever is predicted.
    gt = np.array([1, 1, 1, 1, 2, 2, 2, 3, 0, 0])
    pred = np.array([1, 1, 2, 3, 2, 2, 1, 3, 1, 2])
    m = confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(m, [[2, 1, 1], [1, 2, 0], [0, 0, 1]])
    r = scores(m, ("a", "b", "c"))
    assert math.isclose(r["global_acc"], 5 / 8)
    acc = [2 / 4, 2 / 3, 1 / 1]
    iou = [2 / (4 + 3 - 2), 2 / (3 + 3 - 2), 1 / (1 + 2 - 1)]  # row + column - diagonal
    assert [r["per_class"][n]["acc"] for n in "abc"] == acc
    assert [r["per_class"][n]["iou"] for n in "abc"] == iou
    assert math.isclose(r["class_avg_acc"], sum(acc) / 3)
    assert math.isclose(r["miou"], sum(iou) / 3)
    assert r["pixels"] == 8 and r["present"] == ["a", "b", "c"]


def test_absent_classes_are_left_out_of_the_means():
    m = np.array([[3, 1, 0], [0, 0, 0], [0, 0, 0]])  # class 2 only predicted, class 3 never seen nor predicted
    r = scores(m)
    assert r["per_class"]["2"]["acc"] is None and r["per_class"]["2"]["iou"] == 0.0
    assert r["per_class"]["3"]["acc"] is None and r["per_class"]["3"]["iou"] is None
    assert math.isclose(r["class_avg_acc"], 3 / 4)  # only class 1 is in the ground truth
    assert math.isclose(r["miou"], (3 / 4 + 0.0) / 2)
    assert r["present"] == ["1"]


def test_void_predictions_count_as_wrong():
    conf = Confusion(2)
    conf.update(torch.tensor([[1, 1], [2, 0]]), torch.tensor([[1, 0], [2, 2]]))
    conf.update(torch.tensor([2]), torch.tensor([1]))
    np.testing.assert_array_equal(conf.matrix, [[1, 0], [1, 1]])
    r = conf.scores(("x", "y"))
    assert math.isclose(r["global_acc"], 2 / 4)  # the void prediction is a miss for class 1
    assert math.isclose(r["per_class"]["x"]["acc"], 1 / 2)
    assert "global acc" in format_scores(r)


def test_resize_nearest_uses_pixel_centres():
    np.testing.assert_array_equal(nearest_indices(4, 2), [1, 3])
    np.testing.assert_array_equal(nearest_indices(2, 4), [0, 0, 1, 1])
    labels = torch.arange(480 * 640).reshape(480, 640)
    small = resize_nearest(labels[None])[0]
    assert small.shape == (224, 224)
    rows = np.floor((np.arange(224) + 0.5) * 480 / 224).astype(int)
    cols = np.floor((np.arange(224) + 0.5) * 640 / 224).astype(int)
    np.testing.assert_array_equal(small.numpy(), labels.numpy()[np.ix_(rows, cols)])
    # same sampling as torch's pixel-centre nearest mode used to resize the network input
    torch_small = torch.nn.functional.interpolate(labels[None, None].float(), size=(224, 224), mode="nearest-exact")[
        0, 0
    ]
    np.testing.assert_array_equal(small.numpy(), torch_small.long().numpy())
