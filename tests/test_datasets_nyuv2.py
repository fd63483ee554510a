"""NYUv2 reader on a format-faithful fake ``nyu_depth_v2_labeled.mat`` (HDF5, MATLAB axis order reversed)."""

from __future__ import annotations

import json
import math

import cv2
import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from segnet.datasets import DatasetError, NYUv2Dataset, make_dataset
from segnet.datasets.tables import gravity_from_rtilt, nyuv2_camera_rotations
from synthcam_core.camera import Intrinsics
from synthcam_core.sample import SAMPLE_KEYS

N, H, W = 1449, 480, 640
BOOK, BOOKS, WALL = 1, 85, 21  # 894-class ids: book -> 40 otherprop -> 13 objects; books -> 23 -> 2; wall -> 1 -> 12


def matlab_frame(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(480, 640) float32 depth and uint16 894-class labels as MATLAB indexes them (row, col)."""
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 9.0, (H, W)).astype(np.float32)
    depth[10, 20] = 2.5
    labels = np.full((H, W), WALL, dtype=np.uint16)
    labels[100:200, 300:400] = BOOKS
    labels[0, :5] = BOOK
    labels[479, 639] = 0
    return depth, labels


def write_fake_mat(path, frames=(0, 2), shape=(N, W, H), names=("depths", "rawDepths", "labels")) -> dict:
    """A v7.3-style .mat: 512-byte MATLAB user block, datasets stored (N, W, H), one chunk per frame;
    only ``frames`` are written (the rest read as the fill value 0). Returns {frame: (depth, labels)}."""
    written = {}
    with h5py.File(path, "w", userblock_size=512) as f:
        chunk = (1, *shape[1:])
        if "depths" in names:
            f.create_dataset("depths", shape, np.float32, chunks=chunk, compression="gzip")
        if "rawDepths" in names:
            f.create_dataset("rawDepths", shape, np.float32, chunks=chunk, compression="gzip")
        if "labels" in names:
            f.create_dataset("labels", shape, np.uint16, chunks=chunk, compression="gzip")
        f.create_dataset("images", (N, 3, W, H), np.uint8, chunks=(1, 3, W, H), compression="gzip")
        f.create_dataset("instances", shape, np.uint8, chunks=chunk, compression="gzip")
        refs = f.create_group("#refs#")
        name_refs = []
        for k, name in enumerate(("book", "bottle", "cabinet")):
            ds = refs.create_dataset(f"n{k}", data=np.array([[ord(c)] for c in name], dtype=np.uint16))
            name_refs.append(ds.ref)
        f.create_dataset("names", data=np.array([name_refs], dtype=h5py.ref_dtype))
        if shape == (N, W, H):
            for i in frames:
                depth, labels = matlab_frame(i)
                raw = depth.copy()
                raw[:, :40] = 0.0  # missing raw depth
                f["depths"][i] = depth.T
                if "rawDepths" in names:
                    f["rawDepths"][i] = raw.T
                f["labels"][i] = labels.T
                written[i] = (depth, raw, labels)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Nov 26 00:00:00 2026 HDF5 schema 1.00 .")
    return written


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    path = tmp_path_factory.mktemp("nyu") / "nyu_depth_v2_labeled.mat"
    return path, write_fake_mat(path)


def test_split_sizes_and_order(fake):
    path, _ = fake
    assert len(NYUv2Dataset(path, "train")) == 795
    assert len(NYUv2Dataset(path, "test")) == 654
    assert len(NYUv2Dataset(path, "all")) == 1449
    assert NYUv2Dataset(path, "train").frames[0] == 2  # trainNdxs starts at frame #3 (1-based)
    assert NYUv2Dataset(path, "test").frames[0] == 0


def test_depth_labels_and_camera(fake):
    path, written = fake
    depth, _, labels = written[2]
    s = NYUv2Dataset(path, "train", classes=40)[0]  # frame #3
    assert tuple(s) == SAMPLE_KEYS
    assert s["depth"].shape == (1, 480, 640) and s["depth"].dtype == torch.float32
    assert s["depth"][0, 10, 20].item() == pytest.approx(2.5)
    np.testing.assert_array_equal(s["depth"][0].numpy(), depth)
    lab = s["label"].numpy()
    assert s["label"].dtype == torch.int64
    assert lab[150, 350] == 23 and lab[0, 0] == 40 and lab[300, 10] == 1 and lab[479, 639] == 0
    lab13 = NYUv2Dataset(path, "train", classes=13)[0]["label"].numpy()
    assert lab13[150, 350] == 2 and lab13[0, 0] == 7 and lab13[300, 10] == 12 and lab13[479, 639] == 0
    lab37 = NYUv2Dataset(path, "train", classes=37)[0]["label"].numpy()
    assert lab37[150, 350] == 23 and lab37[0, 0] == 0 and lab37[300, 10] == 1
    cam = Intrinsics.nyuv2()
    np.testing.assert_allclose(s["intrinsics"].numpy(), [cam.fx, cam.fy, cam.cx, cam.cy], rtol=1e-6)
    np.testing.assert_allclose(s["gravity"].numpy(), gravity_from_rtilt(nyuv2_camera_rotations()[2]), atol=1e-6)
    assert math.isnan(s["camera_height"].item())
    assert torch.equal(s["pose"], torch.eye(4)) and s["index"].item() == 0


def test_raw_depths_crop_and_workers(fake):
    path, written = fake
    _, raw, _ = written[0]
    ds = NYUv2Dataset(path, "test", depth="rawDepths", crop=(44, 40, 427, 561))
    s = ds[0]
    assert s["depth"].shape == (1, 427, 561)
    np.testing.assert_array_equal(s["depth"][0].numpy(), raw[44:471, 40:601])
    assert (NYUv2Dataset(path, "test", depth="rawDepths")[0]["depth"][0, :, :40] == 0).all()  # missing raw depth
    cam = Intrinsics.nyuv2()
    np.testing.assert_allclose(s["intrinsics"].numpy(), [cam.fx, cam.fy, cam.cx - 40, cam.cy - 44], rtol=1e-6)
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=2)))
    assert batch["depth"].shape == (2, 1, 427, 561)
    torch.testing.assert_close(batch["depth"][0], s["depth"])


def test_gravity_convention():
    np.testing.assert_allclose(gravity_from_rtilt(np.eye(3)), [0, 1, 0], atol=1e-12)  # a level camera
    alpha = np.radians(20.0)
    # camera pitched down by alpha: in its (x, forward, up) frame, world up is (0, -sin a, cos a);
    # Rtilt is the rotation about x taking that vector to (0, 0, 1)
    c, s = np.cos(alpha), np.sin(alpha)
    rtilt = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    np.testing.assert_allclose(rtilt @ [0, -s, c], [0, 0, 1], atol=1e-12)
    # gravity then points down and forward in the OpenCV camera frame
    np.testing.assert_allclose(gravity_from_rtilt(rtilt), [0, c, s], atol=1e-12)
    rotations = nyuv2_camera_rotations()
    assert rotations.shape == (1449, 3, 3)
    downs = np.array([gravity_from_rtilt(r) for r in rotations])
    assert (downs[:, 1] > 0.7).all()  # every NYUv2 frame is roughly upright


def test_clear_errors(tmp_path, fake):
    with pytest.raises(DatasetError, match="does not exist"):
        NYUv2Dataset(tmp_path / "nope.mat")
    text = tmp_path / "text.mat"
    text.write_text("not hdf5")
    with pytest.raises(DatasetError, match="text.mat is not an HDF5"):
        NYUv2Dataset(text)
    missing = tmp_path / "missing.mat"
    write_fake_mat(missing, names=("depths", "labels"))
    NYUv2Dataset(missing)  # depths present
    with pytest.raises(DatasetError, match="missing.mat has no dataset 'rawDepths'"):
        NYUv2Dataset(missing, depth="rawDepths")
    matlab_order = tmp_path / "matlab_order.mat"
    write_fake_mat(matlab_order, shape=(N, H, W))
    with pytest.raises(DatasetError, match=r"matlab_order.mat: dataset 'depths' is \(1449, 480, 640\)"):
        NYUv2Dataset(matlab_order)
    with pytest.raises(DatasetError, match="valid splits: train, test, all"):
        NYUv2Dataset(fake[0], split="val")
    with pytest.raises(DatasetError, match="depths, rawDepths"):
        NYUv2Dataset(fake[0], depth="raw")
    assert isinstance(make_dataset("nyuv2", fake[0], "test", 13), NYUv2Dataset)


def test_open_dataset_reads_filled_or_raw_depth(fake):
    from segnet.train_data import open_dataset

    path, written = fake
    depth, raw, _ = written[0]
    np.testing.assert_array_equal(open_dataset("nyuv2", path, "test", 13)[0]["depth"][0].numpy(), depth)
    np.testing.assert_array_equal(open_dataset("nyuv2", path, "test", 13, real_depth="raw")[0]["depth"][0].numpy(), raw)


def test_evaluate_raw_depth_of_chosen_test_frames(fake, tmp_path, cli):
    """--real-depth raw --frames 0: one frame of the test split, its raw depth (holes drawn white)."""
    from segnet.config import TrainConfig
    from segnet.train import train

    path, _ = fake
    config = TrainConfig(
        dataset="synthetic",
        synthetic_frames=4,
        model="segnet-basic",
        model_width=0.25,
        height=24,
        width=32,
        batch_size=4,
        classes=13,
        epochs=1,
        val_fraction=0.0,
        balance=False,
    )
    train(config, tmp_path / "run", progress=False, log=lambda s: None)
    for kind, white in (("raw", True), ("filled", False)):
        out, preds = tmp_path / f"{kind}.json", tmp_path / kind
        result = cli(
            "evaluate",
            "--checkpoint",
            tmp_path / "run" / "last.pt",
            "--dataset",
            "nyuv2",
            "--data",
            path,
            "--classes",
            "13",
            "--real-depth",
            kind,
            "--frames",
            "0",
            "--json",
            out,
            "--predictions",
            preds,
        )
        assert result.exit_code == 0, result.output
        scores = json.loads(out.read_text())
        assert scores["frames"] == 1 and scores["real_depth"] == kind and scores["frame_indices"] == [0]
        assert scores["train"]["pixels"] == H * W - 1  # one void pixel in the fake labels
        image = cv2.imread(str(next(preds.glob("test_*.png"))))
        assert bool((image[:H, :40] == 255).all()) == white  # the depth panel (a legend strip below)
