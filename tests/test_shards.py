import h5py
import numpy as np
import pytest

from synthcam.camera import Intrinsics
from synthcam.errors import ShardError
from synthcam.shards import ShardWriter, depth_to_mm, find_shards, mm_to_depth, open_shard, read_shard

CAM = Intrinsics.nyuv2().scaled(40, 30)
NAMES = ("void", "wall", "floor")


def random_frames(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    depth = mm_to_depth(rng.integers(0, 8000, (n, 30, 40)).astype(np.uint16))  # whole millimetres
    depth[:, :3] = 0.0
    clean = mm_to_depth(rng.integers(1, 8000, (n, 30, 40)).astype(np.uint16))
    class40 = rng.integers(0, 41, (n, 30, 40), dtype=np.uint8)
    instance = rng.integers(0, 300, (n, 30, 40), dtype=np.uint16)
    pose = np.tile(np.eye(4), (n, 1, 1)) + rng.normal(size=(n, 4, 4))
    return depth, clean, class40, instance, pose, np.arange(n) / 30.0


def write(path, frames, attrs=None):
    depth, clean, class40, instance, pose, ts = frames
    with ShardWriter(path, len(depth), CAM, attrs or {"seed": 3, "config": {"rooms": 1}}, {"objects": []}, NAMES) as w:
        for i in range(len(depth)):
            w.write(i, depth[i], clean[i], class40[i], instance[i], pose[i], ts[i])
        return w.close()


def test_round_trip_is_exact(tmp_path):
    frames = random_frames(5)
    path = write(tmp_path / "a.h5", frames)
    shard = read_shard(path)
    for got, want in zip((shard.depth, shard.depth_clean, shard.class40, shard.instance, shard.pose, shard.timestamp), frames):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert shard.intrinsics == Intrinsics.from_array(CAM.as_array())
    assert shard.class_names == NAMES
    assert shard.attrs["seed"] == 3 and shard.attrs["config"] == {"rooms": 1} and shard.attrs["frame_count"] == 5
    with h5py.File(path) as f:
        assert f["depth"].chunks == (1, 30, 40) and f["depth"].dtype == np.uint16
        assert f.attrs["compression"] in ("zstd", "gzip")
    assert not (tmp_path / "a.h5.tmp").exists()


def test_depth_to_mm_rounds_and_invalidates_out_of_range():
    mm = depth_to_mm(np.array([0.0, 1.0004, 1.0006, 70.0], dtype=np.float32))
    assert mm.tolist() == [0, 1000, 1001, 0]
    every = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(depth_to_mm(mm_to_depth(every)), every)


def test_failed_write_leaves_nothing_that_looks_complete(tmp_path):
    frames = random_frames(3)
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path / "b.h5", 3, CAM, {}, {}, NAMES) as w:
            w.write(0, *[x[0] for x in frames])
            raise RuntimeError("crash mid-shard")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="never written"):
        with ShardWriter(tmp_path / "c.h5", 3, CAM, {}, {}, NAMES) as w:
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
        f.attrs["format_version"] = 99
    with pytest.raises(ShardError, match="version 99"):
        open_shard(path)
