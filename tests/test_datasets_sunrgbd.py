"""SUN RGB-D reader on a small fake toolbox folder tree written to a tmp dir."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from segnet.datasets import DatasetError, SUNRGBDDataset, make_dataset
from segnet.datasets.sunrgbd import decode_depth_png, gravity_from_extrinsics
from segnet.datasets.tables import sunrgbd_split_folders
from synthcam_core.sample import SAMPLE_KEYS

H, W = 530, 730  # a kv2 frame
K = np.array([[529.5, 0.0, 365.0], [0.0, 529.5, 265.0], [0.0, 0.0, 1.0]])
NAMES = ("wall", "chair", "night_stand", "blanket", "fridge")  # seg.mat names: 37 ids 1, 5, 32, void, 24


def encode_depth_png(mm: np.ndarray) -> np.ndarray:
    """Millimetres -> the toolbox's stored PNG values (16-bit rotate left by 3)."""
    v = mm.astype(np.uint16)
    return (v << 3) | (v >> 13)


def pitch_extrinsics(alpha: float) -> np.ndarray:
    """3x4 extrinsics of a camera pitched down by ``alpha``: levels OpenCV camera points (world +y down)."""
    c, s = math.cos(alpha), math.sin(alpha)
    rot = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])  # rot.T @ (0, 1, 0) = camera-frame down = (0, c, s)
    return np.hstack([rot, np.zeros((3, 1))])


def write_frame(root, folder: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    d = root / "SUNRGBD" / folder
    for sub in ("image", "depth", "depth_bfx", "extrinsics"):
        (d / sub).mkdir(parents=True)
    mm = rng.integers(500, 7000, (H, W)).astype(np.uint16)
    mm[10, 20] = 2500
    mm[11, 20] = 9000  # beyond the 8 m clip
    raw = mm.copy()
    raw[:, :30] = 0
    cv2.imwrite(str(d / "depth_bfx" / "0000121.png"), encode_depth_png(mm))
    cv2.imwrite(str(d / "depth" / "0000121.png"), encode_depth_png(raw))
    np.savetxt(d / "intrinsics.txt", K, fmt="%.6f")
    np.savetxt(d / "extrinsics" / "20140101000000.txt", np.hstack([np.eye(3), np.zeros((3, 1))]), fmt="%.6f")
    np.savetxt(d / "extrinsics" / "20150101000000.txt", pitch_extrinsics(math.radians(30)), fmt="%.6f")
    (d / "scene.txt").write_text("office")
    seglabel = np.zeros((H, W), dtype=np.uint16)
    seglabel[:100] = 1
    seglabel[200:300, 100:200] = 2
    seglabel[300:310, :] = 3
    seglabel[400:410, :] = 4
    seglabel[500:510, :] = 5
    scipy.io.savemat(d / "seg.mat", {"seglabel": seglabel, "names": np.array(NAMES, dtype=object)})
    return {"mm": mm, "raw": raw, "seglabel": seglabel}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("sun")
    splits = sunrgbd_split_folders()
    frames = {"train0": write_frame(root, splits["train"][0], 0), "test0": write_frame(root, splits["test"][0], 1)}
    labels = root / "labels37"
    labels.mkdir()
    handa = np.zeros((H, W), dtype=np.uint8)
    handa[:, :365] = 5  # chair
    handa[:, 365:] = 22  # ceiling
    cv2.imwrite(str(labels / "img-005051.png"), handa)  # train[0] is label number 5050 + 1
    cv2.imwrite(str(labels / "img-000001.png"), handa[::-1, ::-1].copy())  # test[0]
    return root, frames, labels


def test_splits():
    splits = sunrgbd_split_folders()
    assert len(splits["train"]) == 5285 and len(splits["test"]) == 5050
    assert len(splits["trainval_train"]) == 2666 and len(splits["trainval_val"]) == 2619
    assert set(splits["trainval_train"]) | set(splits["trainval_val"]) == set(splits["train"])


def test_sample_from_folder_tree(tree):
    root, frames, _ = tree
    ds = SUNRGBDDataset(root, "train")  # the parent of SUNRGBD/ works too
    assert len(ds) == 5285
    s = ds[0]
    assert tuple(s) == SAMPLE_KEYS
    assert s["depth"].shape == (1, H, W) and s["label"].shape == (H, W) and s["label"].dtype == torch.int64
    assert s["depth"][0, 10, 20].item() == pytest.approx(2.5)
    assert s["depth"][0, 11, 20].item() == pytest.approx(8.0)
    np.testing.assert_allclose(
        s["depth"][0, 50:60, 50:60].numpy(), frames["train0"]["mm"][50:60, 50:60] / 1000, rtol=1e-6
    )
    lab = s["label"].numpy()
    assert lab[0, 0] == 1 and lab[250, 150] == 5 and lab[305, 0] == 32 and lab[405, 0] == 0 and lab[505, 0] == 24
    assert lab[150, 0] == 0
    np.testing.assert_allclose(s["intrinsics"].numpy(), [529.5, 529.5, 365.0, 265.0], rtol=1e-6)
    a = math.radians(30)
    np.testing.assert_allclose(
        s["gravity"].numpy(), [0, math.cos(a), math.sin(a)], atol=1e-5
    )  # the last extrinsics file
    assert math.isnan(s["camera_height"].item()) and torch.equal(s["pose"], torch.eye(4))
    raw = SUNRGBDDataset(root / "SUNRGBD", "train", depth="depth")[0]["depth"][0]
    assert (raw[:, :30] == 0).all() and raw[10, 40].item() == pytest.approx(frames["train0"]["mm"][10, 40] / 1000)


def test_class_spaces_and_label_pngs(tree):
    root, _, labels = tree
    lab13 = SUNRGBDDataset(root, "train", classes=13)[0]["label"].numpy()
    assert lab13[0, 0] == 12 and lab13[250, 150] == 4 and lab13[505, 0] == 6  # wall, chair, fridge -> furniture
    lab40 = SUNRGBDDataset(root, "train", classes=40)[0]["label"].numpy()
    assert lab40[305, 0] == 32 and lab40[505, 0] == 24
    train = SUNRGBDDataset(root, "train", label_dir=labels)[0]["label"].numpy()
    assert train[0, 0] == 5 and train[0, W - 1] == 22
    test = SUNRGBDDataset(root, "test", label_dir=labels)[0]["label"].numpy()
    assert test[0, 0] == 22 and test[0, W - 1] == 5


def test_crop_resize(tree):
    root, _, _ = tree
    s = SUNRGBDDataset(root, "test", crop=(5, 5, 480, 640), resize=(240, 320))[0]
    assert s["depth"].shape == (1, 240, 320)
    np.testing.assert_allclose(s["intrinsics"].numpy(), [529.5 / 2, 529.5 / 2, 180.0, 130.0], rtol=1e-6)


def test_decoding_helpers():
    mm = np.array([[0, 1, 2500, 8191]], dtype=np.uint16)
    np.testing.assert_allclose(decode_depth_png(encode_depth_png(mm), max_depth=10.0), mm / 1000, rtol=1e-6)
    np.testing.assert_allclose(gravity_from_extrinsics(np.eye(3)), [0, 1, 0])


def test_clear_errors(tree, tmp_path):
    root, _, labels = tree
    with pytest.raises(DatasetError, match="not a folder"):
        SUNRGBDDataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="lacks the split's first frame folder"):
        SUNRGBDDataset(tmp_path)
    with pytest.raises(DatasetError, match="valid splits"):
        SUNRGBDDataset(root, "val")
    ds = SUNRGBDDataset(root, "train")
    with pytest.raises(DatasetError, match=sunrgbd_split_folders()["train"][1]):
        ds[1]
    (tmp_path / "labels").mkdir()
    with pytest.raises(DatasetError, match="img-005051.png is missing"):
        SUNRGBDDataset(root, "train", label_dir=tmp_path / "labels")[0]
    intrinsics = root / "SUNRGBD" / sunrgbd_split_folders()["test"][0] / "intrinsics.txt"
    good = intrinsics.read_text()
    intrinsics.write_text("1 2 3\n")
    try:
        with pytest.raises(DatasetError, match="intrinsics.txt holds 3 numbers"):
            SUNRGBDDataset(root, "test")[0]
    finally:
        intrinsics.write_text(good)
    assert isinstance(make_dataset("sunrgbd", root, "train", 37), SUNRGBDDataset)
