import pickle
import sys

import h5py
import numpy as np
import pytest

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import ShardError
from synthcam_shards.format import default_label_tables, depth_to_mm, mm_to_depth
from synthcam_shards.layout import open_shard
from synthcam_shards.manifest import find_shards
from synthcam_shards.shard_file import READ_FIELDS, ShardFile, read_shard
from synthcam_shards.writer import ShardWriter

CAM = Intrinsics.nyuv2().scaled(40, 30)


def random_frames(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    depth = mm_to_depth(rng.integers(0, 8000, (n, 30, 40)).astype(np.uint16))  # whole millimetres
    depth[:, :3] = 0.0
    clean = mm_to_depth(rng.integers(1, 8000, (n, 30, 40)).astype(np.uint16))
    class40 = rng.integers(0, 41, (n, 30, 40), dtype=np.uint8)
    instance = rng.integers(0, 300, (n, 30, 40), dtype=np.uint16)
    pose = np.tile(np.eye(4), (n, 1, 1)) + rng.normal(size=(n, 4, 4))
    return depth, clean, class40, instance, pose, np.arange(n) / 30.0


def write(path, frames, attrs=None, trajectory_id=7):
    depth, clean, class40, instance, pose, ts = frames
    with ShardWriter(path, len(depth), CAM, attrs or {"seed": 3, "config": {"rooms": 1}}, {"objects": []}) as w:
        for i in range(len(depth)):
            w.write(i, depth[i], clean[i], class40[i], instance[i], pose[i], ts[i], trajectory_id=trajectory_id)
        return w.close()


def test_round_trip_is_exact(tmp_path):
    frames = random_frames(5)
    path = write(tmp_path / "a.h5", frames)
    shard = read_shard(path)
    for got, want in zip(
        (shard.depth, shard.depth_clean, shard.class40, shard.instance, shard.pose, shard.timestamp), frames
    ):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert shard.trajectory_id.tolist() == [7] * 5 and shard.trajectory_id.dtype == np.int64
    assert shard.intrinsics == Intrinsics.from_array(CAM.as_array())
    labels = default_label_tables()
    assert shard.class_names == labels.class40_names and len(shard.class_names) == 41
    assert shard.labels.class13_names == labels.class13_names and np.array_equal(
        shard.labels.class40_to_13, labels.class40_to_13
    )
    assert shard.labels.class37_names[1:3] == ("wall", "floor") and len(shard.labels.class37_names) == 38
    assert shard.attrs["seed"] == 3 and shard.attrs["config"] == {"rooms": 1} and shard.attrs["frame_count"] == 5
    assert shard.attrs["format_version"] == 2 and shard.attrs["checksum"] == "crc32"
    with h5py.File(path) as f:
        assert f["depth"].chunks == (1, 30, 40) and f["depth"].dtype == np.uint16
        assert f.attrs["compression"].decode() in ("zstd", "gzip")
        pixels = f["class40_pixels"][()]
    assert pixels.shape == (5, 41) and np.array_equal(pixels[2], np.bincount(frames[2][2].ravel(), minlength=41))
    assert not (tmp_path / "a.h5.synthcam-partial").exists()


def test_same_content_gives_same_bytes_at_another_time(tmp_path):
    import time

    frames = random_frames(2)
    a = write(tmp_path / "a.h5", frames)
    time.sleep(1.1)  # HDF5 object times have a 1 s resolution; none may be stored
    b = write(tmp_path / "b.h5", frames)
    assert a.read_bytes() == b.read_bytes()


def test_class37_table_keeps_the_first_37_classes():
    labels = default_label_tables()
    assert labels.class40_to_37.dtype == np.uint8 and labels.class40_to_37.shape == (41,)
    assert labels.class40_to_37[:38].tolist() == list(range(38)) and labels.class40_to_37[38:].tolist() == [0, 0, 0]
    for k in (1, 2, 5, 33):  # wall, floor, chair, toilet: same names in both spaces
        assert labels.class37_names[k] == labels.class40_names[k]


def test_shard_file_reads_frames_with_documented_types(tmp_path):
    frames = random_frames(4, seed=1)
    path = write(tmp_path / "a.h5", frames)
    with ShardFile(path) as sf:
        assert len(sf) == 4 and (sf.height, sf.width) == (30, 40) and sf.intrinsics.width == 40
        out = sf.read_frame(2, READ_FIELDS)
        assert out["depth"].dtype == np.float32 and out["depth"].shape == (30, 40)
        assert np.array_equal(out["depth"], frames[0][2]) and np.array_equal(out["depth_clean"], frames[1][2])
        assert out["depth_mm"].dtype == np.uint16 and np.array_equal(out["depth_mm"], depth_to_mm(frames[0][2]))
        assert np.array_equal(out["class40"], frames[2][2]) and np.array_equal(out["instance"], frames[3][2])
        assert np.array_equal(out["class13"], sf.class40_to_13[frames[2][2]]) and out["class13"].dtype == np.uint8
        assert np.array_equal(out["class37"], sf.class40_to_37[frames[2][2]])
        assert np.array_equal(out["pose"], frames[4][2]) and np.array_equal(sf.pose(2), frames[4][2])
        assert out["timestamp"] == frames[5][2] and out["trajectory_id"] == 7
        assert set(sf.read_frame(-1)) == {"depth", "class40"}
        with pytest.raises(IndexError, match="out of range"):
            sf.read_frame(4)
        with pytest.raises(ValueError, match="valid fields: depth"):
            sf.read_frame(0, ("rgb",))
        clone = pickle.loads(pickle.dumps(sf))  # what a DataLoader worker receives
        assert np.array_equal(clone.read_frame(1)["class40"], frames[2][1])
        clone.close()


def flip_byte_in_chunk(path, dataset: str, frame: int) -> None:
    """Flip one byte inside the stored (compressed) chunk of ``dataset`` frame ``frame``."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info_by_coord((frame, 0, 0))
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        b = fh.read(1)
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes([b[0] ^ 0x5A]))


def test_corrupt_frame_is_refused_naming_shard_and_frame(tmp_path):
    path = write(tmp_path / "room_00003.h5", random_frames(3))
    flip_byte_in_chunk(path, "class40", 1)
    with ShardFile(path) as sf:
        sf.read_frame(0)  # other frames are fine
        with pytest.raises(ShardError, match=r"room_00003.h5: frame 1 (fails its class40 checksum|cannot be read)"):
            sf.read_frame(1)
        assert sf.read_frame(1, ("depth",))["depth"].shape == (30, 40)
    with pytest.raises(ShardError, match="room_00003.h5: frame 1"):
        read_shard(path)
    # A wrong value that still decompresses is caught by the checksum alone.
    with h5py.File(path, "r+") as f:
        d = f["depth"][0]
        d[5, 5] += 1
        f["depth"][0] = d
    with pytest.raises(ShardError, match="frame 0 fails its depth checksum"):
        ShardFile(path).read_frame(0, ("depth",))
    assert ShardFile(path).read_frame(0, ("depth",), verify=False)["depth"].shape == (30, 40)


def test_truncated_shard_is_refused(tmp_path):
    path = write(tmp_path / "room_00000.h5", random_frames(3))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match="room_00000.h5"):
        read_shard(path)


def test_gzip_fallback_without_hdf5plugin(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "hdf5plugin", None)  # import hdf5plugin -> ImportError
    frames = random_frames(2)
    path = write(tmp_path / "g.h5", frames)
    with h5py.File(path) as f:
        assert f.attrs["compression"].decode() == "gzip" and f["depth"].compression == "gzip"
    assert np.array_equal(read_shard(path).class40, frames[2])
    monkeypatch.undo()
    zstd = write(tmp_path / "z.h5", frames)
    monkeypatch.setitem(sys.modules, "hdf5plugin", None)
    with pytest.raises(ShardError, match="install hdf5plugin"):
        ShardFile(zstd)


def test_depth_to_mm_rounds_and_invalidates_out_of_range():
    mm = depth_to_mm(np.array([0.0, 1.0004, 1.0006, 70.0], dtype=np.float32))
    assert mm.tolist() == [0, 1000, 1001, 0]
    every = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(depth_to_mm(mm_to_depth(every)), every)


def test_failed_write_leaves_nothing_that_looks_complete(tmp_path):
    frames = random_frames(3)
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path / "b.h5", 3, CAM, {}, {}) as w:
            w.write(0, *[x[0] for x in frames])
            raise RuntimeError("crash mid-shard")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="never written"):
        with ShardWriter(tmp_path / "c.h5", 3, CAM, {}, {}) as w:
            w.write(0, *[x[0] for x in frames])
            w.close()
    assert list(tmp_path.iterdir()) == []


def test_non_shards_are_refused_with_clear_errors(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(ShardError, match="not an HDF5 file"):
        open_shard(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(ShardError, match="not a synthcam shard"):
        open_shard(other)
    with pytest.raises(ShardError, match="does not exist"):
        find_shards(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ShardError, match="holds no shards"):
        find_shards(empty)
    path = write(tmp_path / "v.h5", random_frames(1))
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(ShardError, match="version 0 \\(written by an older synthcam\\).*regenerate"):
        ShardFile(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ShardError, match="version 99"):
        open_shard(path)


def test_checksum_is_zlib_crc32_whichever_implementation():
    """Shards store zlib's CRC32; the faster ISA-L implementation (when installed) gives the same values."""
    import zlib

    from synthcam_shards import format as shard_format

    rng = np.random.default_rng(5)
    for array in (
        rng.integers(0, 65535, (48, 64), dtype=np.uint16),
        rng.integers(0, 40, (7, 3), dtype=np.uint8),
        np.zeros((0,), np.uint8),
        rng.random((4, 4)),
    ):
        assert shard_format.frame_crc(array) == zlib.crc32(array.tobytes())
    assert shard_format.crc32(b"123456789") == 0xCBF43926  # the standard CRC-32 check value


def test_writer_refuses_up_front_a_shard_readers_would_refuse(tmp_path):
    """Frame count, image size, attribute count and label lists past the readers' limits are refused
    before any file exists (a shard that could never be opened would look complete)."""
    from synthcam_shards.format import MAX_ATTRIBUTES, LabelTables

    labels = default_label_tables()
    long_name = LabelTables(
        ("x" * 300,) + labels.class40_names[1:],
        labels.class13_names,
        labels.class37_names,
        labels.class40_to_13,
        labels.class40_to_37,
    )
    cases = [
        (100_001, CAM, {}, None, "0 to 100000 frames"),
        (1, Intrinsics.nyuv2().scaled(9000, 12), {}, None, "sides are 1 to 4096"),
        (1, CAM, {f"a{i}": i for i in range(MAX_ATTRIBUTES)}, None, "at most 64"),
        (1, CAM, {}, long_name, "at most 256 UTF-8 bytes"),
    ]
    for n, camera, attrs, tables, message in cases:
        with pytest.raises(ValueError, match=message):
            ShardWriter(tmp_path / "a.h5", n, camera, attrs, {"objects": []}, tables)
        assert list(tmp_path.iterdir()) == []


def test_writer_that_fails_while_creating_the_file_leaves_no_partial_file(tmp_path):
    with pytest.raises(TypeError):
        ShardWriter(tmp_path / "a.h5", 1, CAM, {"seed": 2**70}, {"objects": []})  # no HDF5 integer type holds it
    assert list(tmp_path.iterdir()) == []


def test_newer_format_version_says_to_upgrade(tmp_path):
    """A shard or manifest from a newer synthcam asks for an upgrade, not a regeneration."""
    import json

    from synthcam_shards.manifest import read_manifest

    path = write(tmp_path / "v.h5", random_frames(1))
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 4
    with pytest.raises(ShardError, match="version 4 \\(written by a newer synthcam\\).*upgrade synthcam") as caught:
        ShardFile(path)
    assert "regenerate" not in str(caught.value)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "synthcam-dataset", "format_version": 3}))
    with pytest.raises(ShardError, match="version 3 \\(written by a newer synthcam\\).*upgrade synthcam"):
        read_manifest(tmp_path)


def test_unreadable_shard_or_manifest_is_not_called_damaged(tmp_path, monkeypatch):
    """Permission denied (or too many open files) is named as such, never 'regenerate it'; a manifest
    that cannot be read is one error, not a traceback."""
    import pathlib

    from synthcam_shards.manifest import read_manifest

    path = write(tmp_path / "room_00000.h5", random_frames(1))
    (tmp_path / "manifest.json").write_text("{}")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(h5py, "File", refuse)
    with pytest.raises(ShardError, match="cannot be read \\(Permission denied\\); check its permissions") as caught:
        ShardFile(path)
    assert "regenerate" not in str(caught.value)
    monkeypatch.setattr(pathlib.Path, "open", refuse)
    with pytest.raises(ShardError, match="manifest.json cannot be read \\(Permission denied\\); make it readable"):
        read_manifest(tmp_path)


def test_reopen_refuses_a_digest_stored_as_a_variable_length_string(tmp_path):
    """A reopened shard's digest is read only as a fixed-length string (never from HDF5's global heap)."""
    path = write(tmp_path / "a.h5", random_frames(1))
    shard = ShardFile(path)
    shard.close()
    with h5py.File(path, "r+") as f:
        digest = f.attrs["header_sha256"].decode()
        del f.attrs["header_sha256"]
        f.attrs.create("header_sha256", data=digest, dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(ShardError, match="changed on disk"):
        shard.read_frame(0)
