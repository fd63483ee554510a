"""Middlebury .flo and KITTI PNG flow files: exact layout, round trips, and hostile files refused in one line."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from cli.choices import FLOW_FORMATS
from synthcam.flow_files import FLO_UNKNOWN, FORMATS, KITTI_MAX, flo_bytes, read_flo, read_kitti_png, write_flow_file
from synthcam_core.errors import InputError


def _field(h: int = 5, w: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    flow = rng.uniform(-40, 40, (h, w, 2)).astype(np.float32)
    valid = rng.random((h, w)) > 0.3
    return flow, valid


def test_choices_equal_the_formats():
    assert FLOW_FORMATS == FORMATS


def test_flo_layout_is_middlebury():
    flow, valid = _field()
    data = flo_bytes(flow, valid)
    assert data[:4] == b"PIEH"
    assert struct.unpack("<ii", data[4:12]) == (7, 5)
    body = np.frombuffer(data[12:], dtype="<f4").reshape(5, 7, 2)
    np.testing.assert_array_equal(body[valid], flow[valid])
    assert (body[~valid] == np.float32(FLO_UNKNOWN)).all()


@pytest.mark.parametrize("fmt", ["flo", "kitti"])
def test_round_trip(tmp_path, fmt):
    flow, valid = _field()
    path = write_flow_file(tmp_path / f"f.{fmt}", flow, valid, fmt)
    back, back_valid = (read_flo if fmt == "flo" else read_kitti_png)(path)
    np.testing.assert_array_equal(back_valid, valid)
    tol = 0.0 if fmt == "flo" else 0.5 / 64
    np.testing.assert_allclose(back[valid], flow[valid], atol=tol + 1e-6)
    assert (back[~valid] == 0).all()


def test_kitti_channels_and_range(tmp_path):
    import cv2

    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 0] = (1.5, -2.25)
    flow[0, 1] = (KITTI_MAX + 1, 0)  # beyond what 16 bits hold: written invalid
    valid = np.ones((2, 3), bool)
    path = write_flow_file(tmp_path / "k.png", flow, valid, "kitti")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # B, G, R
    assert image.dtype == np.uint16
    assert tuple(image[0, 0]) == (1, 2**15 - 144, 2**15 + 96)
    assert image[0, 1, 0] == 0
    _, back_valid = read_kitti_png(path)
    assert not back_valid[0, 1] and back_valid[0, 0]


def test_unknown_format_is_one_line(tmp_path):
    with pytest.raises(InputError, match="choose one of: flo, kitti"):
        write_flow_file(tmp_path / "x", *_field(), "pfm")


@pytest.mark.hostile
@pytest.mark.parametrize(
    "data, message",
    [
        (b"NOPE" + b"\0" * 20, "not a Middlebury"),
        (struct.pack("<fii", 202021.25, 100000, 100000), "out of range"),
        (struct.pack("<fii", 202021.25, 4, 4) + b"\0" * 10, "needs 128 bytes"),
        (b"", "not a Middlebury"),
    ],
)
def test_hostile_flo_is_refused(tmp_path, data, message):
    path = tmp_path / "bad.flo"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_flo(path)


@pytest.mark.hostile
def test_hostile_kitti_png_is_refused(tmp_path):
    import cv2

    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), np.zeros((4, 4), np.uint16))
    with pytest.raises(InputError, match="not a KITTI flow PNG"):
        read_kitti_png(gray)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"hello")
    with pytest.raises(InputError, match="not a PNG"):
        read_kitti_png(junk)
