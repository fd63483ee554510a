"""The ``real`` dataset kind: labelled real depth PNGs (../shared/data/real and tiny folders built here)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from segnet.datasets import DatasetError, RealFolderDataset, make_dataset
from segnet.datasets.tables import gravity_from_rtilt, nyuv2_camera_rotations
from synthcam_core.camera import Intrinsics
from synthcam_core.labels import class40_to_13, class40_to_37
from synthcam_core.sample import SAMPLE_KEYS


@pytest.fixture
def nyu(real_data) -> str:
    """The real NYUv2 train frames (``../shared/data/real/nyuv2_train``)."""
    return str(real_data / "nyuv2_train")


def png(path, shape=(48, 64), value=1500, dtype=np.uint16):
    cv2.imwrite(str(path), np.full(shape, value, dtype=dtype))


def tiny_folder(folder, stems=("a", "b", "c"), labelled=("a", "c"), label="label40", value=4):
    folder.mkdir()
    for stem in stems:
        png(folder / f"{stem}_depth.png")
    for stem in labelled:
        png(folder / f"{stem}_{label}.png", value=value, dtype=np.uint8)
    (folder / "intrinsics.yaml").write_text("fx: 52\nfy: 52\ncx: 32\ncy: 24\n")
    return folder


def test_nyuv2_frames_with_labels_only(nyu):
    data = RealFolderDataset(nyu, classes=13, intrinsics="nyuv2", gravity="nyuv2")
    assert data.stems == ("0004", "0070", "0073")  # 12 filled frames, three of them labelled
    s = data[1]
    assert set(s) == set(SAMPLE_KEYS) and s["depth"].shape == (1, 480, 640) and s["label"].shape == (480, 640)
    label13 = cv2.imread(f"{nyu}/0070_label13.png", cv2.IMREAD_UNCHANGED)
    depth = cv2.imread(f"{nyu}/0070_depth.png", cv2.IMREAD_UNCHANGED)
    assert np.array_equal(s["label"].numpy(), label13)
    np.testing.assert_allclose(s["depth"][0].numpy(), depth / 1000.0, rtol=1e-6)
    np.testing.assert_allclose(s["gravity"].numpy(), gravity_from_rtilt(nyuv2_camera_rotations()[69]), atol=1e-6)
    k = Intrinsics.nyuv2()
    np.testing.assert_allclose(s["intrinsics"].numpy(), [k.fx, k.fy, k.cx, k.cy], rtol=1e-6)
    assert np.isnan(float(s["camera_height"])) and int(s["index"]) == 1


@pytest.mark.parametrize("classes,table", [(40, None), (37, class40_to_37), (13, class40_to_13)])
def test_label_spaces_from_label40(tmp_path, classes, table, nyu):
    """37 comes from NYU40; 13 from NYU40 where a frame has no 13-class PNG."""
    folder = tmp_path / "nyu"
    folder.mkdir()
    for name in ("0004_depth.png", "0004_label40.png"):
        shutil.copy(f"{nyu}/{name}", folder / name)
    label40 = cv2.imread(f"{nyu}/0004_label40.png", cv2.IMREAD_UNCHANGED)
    s = RealFolderDataset(folder, classes=classes, intrinsics="nyuv2")[0]
    expected = label40 if table is None else table()[label40]
    assert np.array_equal(s["label"].numpy(), expected)


def test_raw_depth_and_a_level_camera_by_default(nyu):
    data = RealFolderDataset(nyu, classes=40, depth="raw", intrinsics="nyuv2")
    assert data.stems == ("0004",)  # raw depth of frames 3 and 4; only 4 is labelled
    s = data[0]
    raw = cv2.imread(f"{nyu}/0004_raw.png", cv2.IMREAD_UNCHANGED)
    assert np.array_equal(s["depth"][0].numpy() == 0, raw == 0) and 0.2 < (raw == 0).mean() < 0.3
    assert s["gravity"].tolist() == [0.0, 1.0, 0.0] and data.gravity_mode == "level"


def test_make_dataset_real_has_no_split(tmp_path):
    folder = tiny_folder(tmp_path / "f")
    assert isinstance(make_dataset("real", folder, classes=40), RealFolderDataset)
    with pytest.raises(DatasetError, match="a real folder has no splits"):
        make_dataset("real", folder, "test", 40)


def test_gravity_file_keeps_numbered_frame_names(tmp_path):
    folder = tiny_folder(tmp_path / "f", stems=("0070", "0008"), labelled=("0070", "0008"))
    (folder / "gravity.yaml").write_text("0070: [0, 1, 0]\n0008: [0, 0.6, 0.8]\n")  # not octal 56, not a number at all
    data = RealFolderDataset(folder, classes=40)
    assert data.stems == ("0008", "0070")
    np.testing.assert_allclose(data[0]["gravity"].numpy(), [0.0, 0.6, 0.8], atol=1e-7)


def test_gravity_file(tmp_path):
    folder = tiny_folder(tmp_path / "f")
    (folder / "gravity.yaml").write_text("a: [0, 2, 0]\nc: [0.0, 0.8, 0.6]\n")
    data = RealFolderDataset(folder, classes=40)
    assert data.gravity_mode == "file" and data.stems == ("a", "c")
    np.testing.assert_allclose(data[0]["gravity"].numpy(), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(data[1]["gravity"].numpy(), [0.0, 0.8, 0.6], atol=1e-7)
    assert RealFolderDataset(folder, classes=40, gravity="level")[1]["gravity"].tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("- 1\n- 2\n", "must be a YAML mapping"),
        ("a: [0, 1]\nc: [0, 1, 0]\n", "three finite numbers"),
        ("a: [0, 0, 0]\nc: [0, 1, 0]\n", "not all zero"),
        ("a: [0, .nan, 1]\nc: [0, 1, 0]\n", "three finite numbers"),
        ("a: [0, true, 1]\nc: [0, 1, 0]\n", "three finite numbers"),
        ("a: [0, [1], 1]\nc: [0, 1, 0]\n", "three finite numbers"),
        ("a: [0, inf, 1]\nc: [0, 1, 0]\n", "three finite numbers"),
        ("a: [0, 1, 0]\n", "no gravity for frame 'c'"),
        ("a: [0, 1, 0\n", "must be a YAML mapping"),
    ],
)
def test_bad_gravity_file(tmp_path, text, fragment):
    folder = tiny_folder(tmp_path / "f")
    (folder / "gravity.yaml").write_text(text)
    with pytest.raises(DatasetError, match=fragment):
        RealFolderDataset(folder, classes=40)


def test_gravity_file_missing_or_too_large(tmp_path, monkeypatch):
    import segnet.datasets.real_folder as real_folder

    folder = tiny_folder(tmp_path / "f")
    with pytest.raises(DatasetError, match="gravity file needs"):
        RealFolderDataset(folder, classes=40, gravity="file")
    monkeypatch.setattr(real_folder, "MAX_GRAVITY_BYTES", 10)
    (folder / "gravity.yaml").write_text("a: [0, 1, 0]\nc: [0, 1, 0]\n")
    with pytest.raises(DatasetError, match="larger than 10 bytes"):
        RealFolderDataset(folder, classes=40)


def test_refusals(tmp_path, nyu):
    folder = tiny_folder(tmp_path / "f", labelled=())
    with pytest.raises(DatasetError, match="no filled depth frame with labels for 40 classes"):
        RealFolderDataset(folder, classes=40)
    only13 = tiny_folder(tmp_path / "g", label="label13")
    assert len(RealFolderDataset(only13, classes=13)) == 2
    with pytest.raises(DatasetError, match="label40"):
        RealFolderDataset(only13, classes=37)  # 37 classes need NYU40 labels
    with pytest.raises(DatasetError, match="unknown gravity 'up'"):
        RealFolderDataset(only13, classes=13, gravity="up")
    with pytest.raises(DatasetError, match="not named by a NYUv2 frame number"):
        RealFolderDataset(only13, classes=13, gravity="nyuv2")
    with pytest.raises(Exception, match="no camera"):
        RealFolderDataset(nyu, classes=13)  # the shared folder has no intrinsics.yaml
    bad = tiny_folder(tmp_path / "h", labelled=("a",), value=41)
    with pytest.raises(Exception, match="beyond the 40 classes"):
        RealFolderDataset(bad, classes=40)[0]
