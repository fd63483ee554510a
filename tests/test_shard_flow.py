"""Shard format version 3: optical flow stored with each frame (writer, reader, encoding, versions)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError, ShardError
from synthcam_shards.flow import decode_flow, encode_flow
from synthcam_shards.format import FLOW_CHECKSUM_FIELDS, FLOW_LIMIT, FLOW_SCALE
from synthcam_shards.shard_file import FLOW_FIELDS, READ_FIELDS, ShardFile, read_shard
from synthcam_shards.writer import ShardWriter

CAM = Intrinsics.nyuv2().scaled(40, 30)
H, W = CAM.height, CAM.width


def smooth_flow(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, H, W, 2) float32 pixels of an affine motion per frame and (n, H, W) uint8 masks with every code."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float32)
    flows, masks = [], []
    for _ in range(n):
        a = rng.normal(size=6).astype(np.float32)
        flow = np.stack(
            [a[0] * 3 + a[1] * 0.05 * u + a[2] * 0.02 * v, a[3] * 3 + a[4] * 0.02 * u + a[5] * 0.05 * v], -1
        )
        mask = np.ones((H, W), np.uint8)
        mask[:4] = 0
        mask[10:14, 10:20] = 2
        mask[:, -3:] = 3
        flows.append(np.where(mask[..., None] == 1, flow, 0).astype(np.float32))
        masks.append(mask)
    return np.stack(flows), np.stack(masks)


def write_v3(path, n: int = 3, flow_first: bool = False, seed: int = 0, skip_flow: int | None = None):
    """A flow shard of n frames of random images and :func:`smooth_flow`; returns (path, flow, mask)."""
    rng = np.random.default_rng(seed)
    flow, mask = smooth_flow(n, seed)
    with ShardWriter(path, n, CAM, {"seed": 3}, {"objects": []}, flow=True) as writer:
        for i in range(n):
            if flow_first and i != skip_flow:
                writer.write_flow(i, flow[i], mask[i])
            depth = rng.integers(1, 5000, (H, W)).astype(np.float32) / 1000
            class40 = rng.integers(0, 41, (H, W), dtype=np.uint8)
            writer.write(i, depth, depth, class40, np.zeros((H, W), np.uint16), np.eye(4), i / 25)
            if not flow_first and i != skip_flow:
                writer.write_flow(i, flow[i], mask[i])
        return writer.close(), flow, mask


def write_v2(path, n: int = 2):
    with ShardWriter(path, n, CAM, {"seed": 3}, {"objects": []}) as writer:
        for i in range(n):
            zeros = np.zeros((H, W), np.float32)
            writer.write(i, zeros, zeros, np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint16), np.eye(4), i)
        return writer.close()


@pytest.mark.parametrize("flow_first", [False, True])
def test_flow_round_trips_to_a_64th_of_a_pixel(tmp_path, flow_first):
    path, flow, mask = write_v3(tmp_path / "a.h5", flow_first=flow_first)
    with ShardFile(path) as sf:
        assert sf.has_flow and sf.attrs["format_version"] == 3
        frame = sf.read_frame(1, ("flow", "flow_mask", "flow_raw", "depth"))
        assert frame["flow"].shape == (H, W, 2) and frame["flow"].dtype == np.float32
        assert np.abs(frame["flow"] - flow[1]).max() <= 0.5 / FLOW_SCALE
        assert np.array_equal(frame["flow_mask"], mask[1]) and frame["flow_mask"].dtype == np.uint8
        assert np.array_equal(frame["flow_raw"], np.rint(flow[1] * FLOW_SCALE).astype(np.int16))
        assert np.array_equal(frame["flow_raw"] / np.float32(FLOW_SCALE), frame["flow"])
        runs = sf.read_frames(0, 3, ("flow", "flow_mask"))
        assert runs["flow"].shape == (3, H, W, 2) and np.array_equal(runs["flow_mask"], mask)
        raw = np.zeros((2, H, W, 2), np.int16)
        codes = np.zeros((2, H, W), np.uint8)
        got = sf.read_frames(1, 3, ("flow_raw", "flow_mask"), out={"flow_raw": raw, "flow_mask": codes})
        assert got["flow_raw"] is raw and got["flow_mask"] is codes
        assert np.array_equal(raw, runs["flow"][1:] * FLOW_SCALE) and np.array_equal(codes, mask[1:])
        with pytest.raises(ValueError, match="must be a writable C-contiguous int16 array of shape"):
            sf.read_frames(0, 1, ("flow_raw",), out={"flow_raw": np.zeros((1, 2, H, W), np.int16)})
        planes = np.zeros((2, 2, H, W), np.int16)
        got = sf.read_frames(1, 3, ("flow_planes", "flow"), out={"flow_planes": planes})
        assert got["flow_planes"] is planes and np.array_equal(planes, raw.transpose(0, 3, 1, 2))
        assert np.array_equal(got["flow"], runs["flow"][1:])
        assert sf.read_frame(2, ("flow_planes",))["flow_planes"].shape == (2, H, W)
        with pytest.raises(ValueError, match=r"must be a writable C-contiguous int16 array of shape \(1, 2, "):
            sf.read_frames(0, 1, ("flow_planes",), out={"flow_planes": np.zeros((1, H, W, 2), np.int16)})
    shard = read_shard(path)
    assert shard.flow is not None and np.array_equal(shard.flow, runs["flow"])
    assert shard.flow_mask is not None and np.array_equal(shard.flow_mask, mask)
    with h5py.File(path) as f:
        assert f["flow"].shape == (3, 2, H, W) and f["flow"].chunks == (1, 2, H, W) and f["flow"].dtype == "<i2"
        assert f["flow_mask"].chunks == (1, H, W)
        assert f["checksum"].shape == (3, len(FLOW_CHECKSUM_FIELDS)) and FLOW_CHECKSUM_FIELDS[-2:] == FLOW_FIELDS[:2]


def test_a_shard_without_flow_is_version_2_and_says_so_when_asked_for_flow(tmp_path):
    path = write_v2(tmp_path / "plain.h5")
    with ShardFile(path) as sf:
        assert not sf.has_flow and sf.attrs["format_version"] == 2
        for field in FLOW_FIELDS:
            with pytest.raises(InputError, match="^plain.h5 holds no optical flow; generate the dataset with --flow$"):
                sf.read_frame(0, ("depth", field))
        sf.read_frame(0, READ_FIELDS)
    shard = read_shard(path)
    assert shard.flow is None and shard.flow_mask is None
    with h5py.File(path) as f:
        assert "flow" not in f and f["checksum"].shape == (2, 7)


def test_writer_refuses_flow_it_cannot_store(tmp_path):
    with ShardWriter(tmp_path / "plain.h5", 1, CAM, {}, {"objects": []}) as writer:
        with pytest.raises(ValueError, match="created without flow=True"):
            writer.write_flow(0, np.zeros((H, W, 2), np.float32), np.zeros((H, W), np.uint8))
        writer.abort()
    with ShardWriter(tmp_path / "f.h5", 1, CAM, {}, {"objects": []}, flow=True) as writer:
        with pytest.raises(IndexError, match="out of range"):
            writer.write_flow(1, np.zeros((H, W, 2), np.float32), np.zeros((H, W), np.uint8))
        with pytest.raises(ValueError, match="this shard stores"):
            writer.write_flow(0, np.zeros((W, H, 2), np.float32), np.zeros((W, H), np.uint8))
        writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_close_refuses_a_frame_whose_flow_was_never_written(tmp_path):
    with pytest.raises(RuntimeError, match="the optical flow of 1 frames were never written"):
        write_v3(tmp_path / "a.h5", skip_flow=1)
    assert list(tmp_path.iterdir()) == []


def test_encoding_rounds_clears_invalid_pixels_and_marks_overflow_out_of_view():
    flow = np.full((2, 3, 2), 16.5 / FLOW_SCALE, np.float32)  # 16.5 units: rounds half to even, 16
    mask = np.array([[1, 1, 1], [0, 2, 3]], np.uint8)
    flow[0, 1] = [(FLOW_LIMIT + 1) / FLOW_SCALE, 0.0]  # beyond int16: out of view, stored 0
    flow[0, 2] = [-FLOW_LIMIT / FLOW_SCALE, 3.0]  # the limit itself fits
    flow[1, 0] = np.nan  # not valid: stored 0 whatever it holds
    flow[1, 1] = np.inf
    stored, codes = encode_flow(flow, mask, (2, 3))
    assert stored.shape == (2, 2, 3) and stored.dtype == np.int16
    assert codes.tolist() == [[1, 3, 1], [0, 2, 3]]
    assert stored[:, 0, 0].tolist() == [16, 16] and stored[:, 0, 1].tolist() == [0, 0]
    assert stored[:, 0, 2].tolist() == [-FLOW_LIMIT, 3 * FLOW_SCALE] and not stored[:, 1].any()
    assert mask.tolist() == [[1, 1, 1], [0, 2, 3]]  # the caller's mask is left alone
    assert np.array_equal(decode_flow(stored), np.moveaxis(stored, 0, -1) / np.float32(FLOW_SCALE))


def reference_encoding(flow: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The storage rule in plain numpy: x FLOW_SCALE in float32, rounded half to even; 0 where not valid; a valid
    pixel beyond the int16 limit becomes 0 with code 3."""
    scaled = np.rint(np.moveaxis(flow.astype(np.float32), -1, 0) * np.float32(FLOW_SCALE))
    codes = mask.astype(np.uint8)
    with np.errstate(invalid="ignore"):
        beyond = (codes == 1) & (np.abs(scaled) > FLOW_LIMIT).any(axis=0)
    codes[beyond] = 3
    return np.where(codes == 1, scaled, 0).astype(np.int16), codes


@pytest.mark.parametrize("layout", ["planar", "interleaved", "float64"])
def test_encoding_matches_the_rule_for_every_layout(layout):
    rng = np.random.default_rng(5)
    for trial in range(20):
        flow = rng.integers(-36000, 36000, (2, 9, 11)).astype(np.float32) / 128  # ties of x 64 at .5, beyond
        if trial % 2:
            flow = rng.normal(0, 8, (2, 9, 11)).astype(np.float32)
        flow[:, 0, 0] = [FLOW_LIMIT / FLOW_SCALE, -FLOW_LIMIT / FLOW_SCALE]  # right at the limit: fits
        mask = rng.integers(0, 4, (9, 11)).astype(np.uint8)
        mask[0, 0] = 1
        view = flow.transpose(1, 2, 0)  # planar: (H, W, 2) view of (2, H, W)
        given = {"planar": view, "interleaved": np.ascontiguousarray(view), "float64": view.astype(np.float64)}
        stored, codes = encode_flow(given[layout], mask, (9, 11))
        expected_stored, expected_codes = reference_encoding(view, mask)
        assert stored.flags.c_contiguous and codes.flags.c_contiguous and stored.dtype == np.int16
        assert np.array_equal(stored, expected_stored) and np.array_equal(codes, expected_codes)


def test_encoding_ignores_what_invalid_pixels_hold():
    flow = np.zeros((2, 3, 4), np.float32).transpose(1, 2, 0)
    flow[0] = np.nan
    flow[1, :2] = [1e30, -np.inf]
    flow[2] = 0.5
    mask = np.array([[0, 2, 3, 0], [3, 3, 0, 2], [1, 1, 1, 1]], np.uint8)
    stored, codes = encode_flow(flow, mask, (3, 4))
    assert np.array_equal(codes, mask) and not stored[:, :2].any() and (stored[:, 2] == FLOW_SCALE // 2).all()


@pytest.mark.parametrize(
    "flow, mask, message",
    [
        (np.full((2, 2, 2), np.nan, np.float32), np.ones((2, 2), np.uint8), "not finite at a pixel whose mask"),
        (np.zeros((2, 2, 2), np.float32), np.full((2, 2), 4, np.uint8), "codes are 0..3, found 4"),
        (np.zeros((2, 2, 2), np.int16), np.ones((2, 2), np.uint8), "must be float pixels"),
        (np.zeros((2, 2, 3), np.float32), np.ones((2, 2), np.uint8), "this shard stores"),
    ],
)
def test_encoding_refuses_what_it_cannot_store(flow, mask, message):
    with pytest.raises(ValueError, match=message):
        encode_flow(flow, mask, (2, 2))


def test_a_reader_of_version_2_only_refuses_a_flow_shard_in_one_line(tmp_path, monkeypatch):
    from synthcam_shards import layout

    path, _, _ = write_v3(tmp_path / "a.h5", n=1)
    monkeypatch.setattr(layout, "READ_VERSIONS", (2,))
    with pytest.raises(ShardError) as caught:
        ShardFile(path)
    message = str(caught.value)
    assert "\n" not in message and "shard format version 3" in message and "reads version 2," in message
    assert "upgrade synthcam" in message and "regenerate the dataset without --flow" in message
    monkeypatch.undo()
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 4
    with pytest.raises(
        ShardError, match="version 4 \\(written by a newer synthcam\\); this synthcam reads versions 2 "
    ):
        ShardFile(path)


def test_mask_codes_are_the_geometry_modules():
    flow_np = pytest.importorskip("synthcam_core.geometry.flow_np")
    from synthcam_shards import format as shard_format

    for name in ("FLOW_NONE", "FLOW_VALID", "FLOW_OCCLUDED", "FLOW_OUT_OF_VIEW"):
        assert getattr(shard_format, name) == getattr(flow_np, name)
