"""ShardDataset / ShardOrderSampler over a tiny generated dataset (2 rooms x 3 frames at 64x48)."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from segnet.datasets import DatasetError, make_dataset
from segnet.datasets import shard_reader as reader_module
from segnet.datasets.shard_reader import ShardDataset, ShardOrderSampler
from synthcam.generate import GenerateConfig, generate_dataset
from synthcam_core.errors import ShardError, SynthcamError
from synthcam_core.labels import class40_to_13
from synthcam_core.sample import SAMPLE_KEYS
from synthcam_shards.shard_file import read_shard


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    generate_dataset(GenerateConfig(rooms=2, frames_per_room=3, seed=5, width=64, height=48), out, workers=1)
    return out


@pytest.fixture
def copied(dataset_dir, tmp_path):
    """A private copy of the dataset that a test may damage."""
    out = tmp_path / "copy"
    shutil.copytree(dataset_dir, out)
    return out


def test_samples_match_the_shards(dataset_dir):
    ds = ShardDataset(dataset_dir)
    shards = [read_shard(p) for p in sorted(dataset_dir.glob("*.h5"))]
    assert len(ds) == 6 and ds.locate(4) == (1, 1)
    s = ds[4]
    assert tuple(s) == SAMPLE_KEYS
    assert s["depth"].shape == (1, 48, 64) and s["depth"].dtype == torch.float32
    assert s["label"].shape == (48, 64) and s["label"].dtype == torch.int64
    assert s["index"].item() == 4 and s["index"].dtype == torch.int64
    shard = shards[1]
    np.testing.assert_allclose(s["depth"][0].numpy(), shard.depth[1], atol=1e-6)
    np.testing.assert_array_equal(s["label"].numpy(), shard.class40[1])
    pose = shard.pose[1]
    np.testing.assert_allclose(s["pose"].numpy(), pose, atol=1e-6)
    np.testing.assert_allclose(s["gravity"].numpy(), pose[:3, :3].T @ [0, 0, -1], atol=1e-6)
    assert s["camera_height"].item() == pytest.approx(pose[2, 3], abs=1e-6)
    k = shard.intrinsics
    np.testing.assert_allclose(s["intrinsics"].numpy(), [k.fx, k.fy, k.cx, k.cy], rtol=1e-6)
    clean = ShardDataset(dataset_dir, depth="clean")[4]["depth"][0].numpy()
    np.testing.assert_allclose(clean, shard.depth_clean[1], atol=1e-6)
    assert not np.array_equal(clean, s["depth"][0].numpy())  # the noisy depth is the default


def test_class_spaces_use_the_shard_tables(dataset_dir):
    label40 = ShardDataset(dataset_dir)[0]["label"].numpy()
    label13 = ShardDataset(dataset_dir, classes=13)[0]["label"].numpy()
    label37 = ShardDataset(dataset_dir, classes=37)[0]["label"].numpy()
    np.testing.assert_array_equal(label13, class40_to_13()[label40])
    assert label13.max() <= 13 and label37.max() <= 37
    np.testing.assert_array_equal(label37[label40 <= 37], label40[label40 <= 37])
    assert (label37[label40 >= 38] == 0).all()
    wall = label40 == 1
    assert wall.any() and (label13[wall] == 12).all()  # wall is class 12 of the alphabetical 13


def test_crop_and_resize_adjust_intrinsics(dataset_dir):
    full = ShardDataset(dataset_dir)[2]
    s = ShardDataset(dataset_dir, crop=(8, 4, 32, 48), resize=(64, 96))[2]
    assert s["depth"].shape == (1, 64, 96) and s["label"].shape == (64, 96)
    fx, fy, cx, cy = full["intrinsics"].tolist()
    np.testing.assert_allclose(s["intrinsics"].numpy(), [2 * fx, 2 * fy, 2 * (cx - 4), 2 * (cy - 8)], rtol=1e-6)
    # doubling with nearest-exact repeats each cropped pixel twice
    np.testing.assert_array_equal(s["label"][::2, ::2].numpy(), full["label"][8:40, 4:52].numpy())
    with pytest.raises(SynthcamError, match="does not fit"):
        ShardDataset(dataset_dir, crop=(0, 0, 49, 64))


def test_dataloader_workers_give_the_same_batches(dataset_dir):
    ds = ShardDataset(dataset_dir, classes=13)
    ds[0]  # opens handles in this process; workers must open their own
    serial = next(iter(DataLoader(ds, batch_size=6)))
    parallel = list(DataLoader(ds, batch_size=2, num_workers=2))
    assert serial["depth"].shape == (6, 1, 48, 64)
    for key in SAMPLE_KEYS:
        torch.testing.assert_close(
            torch.cat([b[key].reshape(2, -1) for b in parallel]), serial[key].reshape(6, -1), equal_nan=True
        )


def test_sampler_walks_one_shard_at_a_time(dataset_dir):
    ds = ShardDataset(dataset_dir)
    sampler = ShardOrderSampler(ds, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(6)) and len(sampler) == 6
    shards = [ds.locate(i)[0] for i in order]
    assert shards[:3] == [shards[0]] * 3 and shards[3:] == [shards[3]] * 3 and shards[0] != shards[3]
    assert list(ShardOrderSampler(ds, seed=3)) == order
    orders = set()
    for epoch in range(8):
        sampler.set_epoch(epoch)
        orders.add(tuple(sampler))
    assert len(orders) > 1
    assert list(ShardOrderSampler(ds, shuffle=False)) == list(range(6))


def test_truncated_shard_is_refused(copied):
    victim = sorted(copied.glob("*.h5"))[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match=victim.name):
        ds = ShardDataset(copied)
        for i in range(len(ds)):
            ds[i]


def test_flipped_byte_in_a_chunk_is_refused(copied):
    victim = sorted(copied.glob("*.h5"))[0]
    with h5py.File(victim, "r") as f:
        info = f["depth"].id.get_chunk_info(1)  # frame 1's depth chunk
    with open(victim, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        byte = fh.read(1)
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes([byte[0] ^ 0x10]))
    ds = ShardDataset(copied)
    ds[0]  # other frames still read
    with pytest.raises(ShardError, match=rf"{victim.name}.*frame 1"):
        ds[1]


def test_make_dataset_and_bad_options(dataset_dir, tmp_path):
    ds = make_dataset("shards", dataset_dir, classes=37, depth="clean")
    assert isinstance(ds, ShardDataset) and ds.classes == 37
    with pytest.raises(DatasetError, match="valid names: nyuv2, sunrgbd, shards"):
        make_dataset("scannet", dataset_dir)
    with pytest.raises(DatasetError, match="no splits"):
        make_dataset("shards", dataset_dir, split="train")
    with pytest.raises(SynthcamError, match="valid choices: noisy, clean"):
        ShardDataset(dataset_dir, depth="raw")
    with pytest.raises(SynthcamError, match="13, 37, 40"):
        ShardDataset(dataset_dir, classes=20)
    with pytest.raises(ShardError, match="no shards"):
        ShardDataset(tmp_path)
    with pytest.raises(IndexError):
        ds[6]


def test_compact_samples_expand_to_the_standard_layout(dataset_dir):
    from synthcam_core.sample import DEPTH_MM, expand

    for kw in ({}, {"classes": 13}, {"crop": (4, 2, 40, 60), "resize": (20, 30)}):
        standard = ShardDataset(dataset_dir, **kw)
        compact = ShardDataset(dataset_dir, compact=True, **kw)
        c = compact[3]
        assert c[DEPTH_MM].dtype == torch.uint16 and c["label"].dtype == torch.uint8 and "depth" not in c
        batch = next(iter(DataLoader(compact, batch_size=3, num_workers=1)))
        reference = next(iter(DataLoader(standard, batch_size=3)))
        expanded = expand(batch)
        assert tuple(expanded) == SAMPLE_KEYS
        for key in SAMPLE_KEYS:
            assert expanded[key].dtype == reference[key].dtype
            torch.testing.assert_close(expanded[key], reference[key], rtol=0, atol=0, equal_nan=True)


def test_read_frames_matches_read_frame_and_fills_out(dataset_dir):
    from synthcam_shards.shard_file import READ_FIELDS, ShardFile

    with ShardFile(sorted(dataset_dir.glob("*.h5"))[0]) as sf:
        runs = sf.read_frames(0, 3, READ_FIELDS)
        for i in range(3):
            one = sf.read_frame(i, READ_FIELDS)
            for name in READ_FIELDS:
                np.testing.assert_array_equal(runs[name][i], one[name])
        out = {"depth_mm": np.zeros((2, 48, 64), np.uint16), "class40": np.zeros((2, 48, 64), np.uint8)}
        got = sf.read_frames(1, 3, ("depth_mm", "class40"), out=out)
        assert got["depth_mm"] is out["depth_mm"] and out["depth_mm"].any()
        np.testing.assert_array_equal(out["class40"], runs["class40"][1:])
        assert sf.read_frames(2, 2)["depth"].shape == (0, 48, 64)
        with pytest.raises(IndexError, match="out of range"):
            sf.read_frames(1, 4)
        with pytest.raises(ValueError, match="uint16 array of shape"):
            sf.read_frames(0, 2, ("depth_mm",), out={"depth_mm": np.zeros((2, 48, 64), np.float32)})
        with pytest.raises(ValueError, match="can be read into"):
            sf.read_frames(0, 2, ("depth",), out={"depth": np.zeros((2, 48, 64), np.float32)})


def test_batched_read_of_a_corrupt_frame_names_it(copied):
    from synthcam_shards.shard_file import ShardFile

    victim = sorted(copied.glob("*.h5"))[0]
    with h5py.File(victim, "r+") as f:
        d = f["depth"][1]
        d[5, 5] += 1
        f["depth"][1] = d  # still decompresses: only the checksum can tell
    with pytest.raises(ShardError, match=rf"{victim.name}: frame 1 fails its depth checksum"):
        ShardFile(victim).read_frames(0, 3, ("depth",))
    from segnet.datasets.shard_reader import collate_frames

    batch = ShardDataset(copied, compact=True).__getitems__([0, 1, 2])  # read when collated
    with pytest.raises(ShardError, match=rf"{victim.name}: frame 1"):
        collate_frames(batch)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"compact": True},
        {"compact": True, "classes": 13},
        {"classes": 37, "crop": (4, 2, 40, 60), "resize": (20, 30)},
    ],
)
def test_batched_reads_match_single_reads(dataset_dir, kw):
    from torch.utils.data import default_collate

    from segnet.datasets.shard_reader import collate_frames

    ds = ShardDataset(dataset_dir, **kw)
    order = [4, 5, 0, 1, 2, 3, 3, 1]  # runs within and across shards, a repeat, a jump back
    batch = collate_frames(ds.__getitems__(order))
    reference = default_collate([ds[i] for i in order])
    assert list(batch) == list(reference) and batch["index"].tolist() == order
    for key in batch:
        assert batch[key].dtype == reference[key].dtype
        torch.testing.assert_close(batch[key], reference[key], rtol=0, atol=0, equal_nan=True)
    # torch's default collate over the FrameBatch gives the same batch
    for key, value in default_collate(ds.__getitems__(order)).items():
        torch.testing.assert_close(value, batch[key], rtol=0, atol=0, equal_nan=True)
    with pytest.raises(IndexError):
        ds.__getitems__([0, 6])


def test_block_sampler_keeps_runs_of_consecutive_frames(dataset_dir):
    ds = ShardDataset(dataset_dir)
    old = np.random.default_rng([3, 0])  # the order of block=1: shards, then frames, shuffled
    expected = [int(ds.offsets[s]) + int(f) for s in old.permutation(2) for f in old.permutation(3)]
    assert list(ShardOrderSampler(ds, seed=3)) == expected
    for by_shard in (True, False):
        sampler = ShardOrderSampler(ds, seed=1, block=2, by_shard=by_shard)
        orders = set()
        for epoch in range(6):
            sampler.set_epoch(epoch)
            order = list(sampler)
            assert sorted(order) == list(range(6))
            blocks = [order[i : i + 2] for i in range(len(order))]
            # the 4 blocks are [0, 1], [2], [3, 4], [5]: every 2-frame block comes out whole
            for first in (0, 3):
                k = order.index(first)
                assert order[k + 1] == first + 1
            orders.add(tuple(order))
            assert len(blocks) == 6
        assert len(orders) > 1
    with pytest.raises(SynthcamError, match="block must be at least 1"):
        ShardOrderSampler(ds, block=0)


def test_worker_batches_reuse_shared_memory_safely(dataset_dir, monkeypatch):
    import segnet.datasets.batch_memory as batch_memory
    from segnet.datasets.shard_reader import collate_frames

    monkeypatch.setattr(batch_memory, "MAX_SEGMENTS", 2)  # forked workers inherit it: reuse comes fast
    monkeypatch.setattr(batch_memory, "received", 0)
    ds = ShardDataset(dataset_dir, compact=True)
    reference = [collate_frames(ds.__getitems__([i])) for i in range(6)]
    loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=collate_frames, persistent_workers=True)
    held, held_copy = None, None
    for epoch in range(4):
        for i, batch in enumerate(loader):
            for key in batch:
                assert torch.equal(batch[key], reference[i][key]), (epoch, i, key)
            if epoch == 0 and i == 0:
                held = batch["depth_mm"][0, 0, 2:10]  # a view outliving its batch
                held_copy = held.clone()
    assert torch.equal(held, held_copy)  # its segment was never handed out again while it lived
    # at most 2 segments per worker carried 8 or more batches: they were reused
    assert 1 <= batch_memory.mapped_segments() <= 4 and batch_memory.received >= 8
    kept = list(loader)  # every batch kept alive: the pool runs out and falls back to fresh memory
    for i, batch in enumerate(kept):
        assert torch.equal(batch["label"], reference[i]["label"])


def test_training_on_compact_shards_matches_standard_and_resumes(dataset_dir, tmp_path):
    from torch.utils.data import default_collate

    from segnet.config import TrainConfig
    from segnet.train import train
    from segnet.train_data import TrainView
    from synthcam_core.sample import expand

    views = [
        TrainView(
            ShardDataset(dataset_dir, classes=13, compact=c),
            np.arange(6),
            (24, 32),
            augment=True,
            seed=2,
            depth_jitter=0.1,
        )
        for c in (False, True)
    ]
    standard, compact = (default_collate(v.__getitems__([0, 1, 3])) for v in views)
    assert "depth_scale" in compact and compact["label"].dtype == torch.uint8
    for key, value in expand(compact).items():
        torch.testing.assert_close(value, standard[key], rtol=0, atol=0, equal_nan=True)
    assert views[1].offsets.tolist() == [0, 3, 6]

    config = TrainConfig(
        data=str(dataset_dir),
        dataset="shards",
        model="segnet-basic",
        model_width=0.25,
        height=24,
        width=32,
        batch_size=2,
        classes=13,
        epochs=2,
        val_fraction=0.0,
        balance_frames=4,
    )
    quiet = dict(progress=False, log=lambda line: None)
    whole = train(config, tmp_path / "whole", **quiet)
    train(config, tmp_path / "split", stop_after=1, **quiet)
    resumed = train(config, tmp_path / "split", resume=True, **quiet)
    for key in ("train_loss", "train_acc"):
        assert resumed[key] == whole[key]


def test_open_handles_are_bounded(dataset_dir, monkeypatch):
    monkeypatch.setattr(reader_module, "MAX_OPEN_SHARDS", 1)
    ds = ShardDataset(dataset_dir)
    first, last = ds[0], ds[len(ds) - 1]  # two shards: reading the second closes the first
    assert ds.open_shards == [1]
    if os.path.isdir("/proc/self/fd"):  # and the process really holds only the second file open
        held = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
        assert [str(shard.path.resolve()) in held for shard in ds.shards] == [False, True]
    assert torch.equal(ds[0]["depth"], first["depth"]) and torch.equal(ds[len(ds) - 1]["label"], last["label"])
