"""ClipDataset / ClipSampler over tiny shards written in the test (timestamps, trajectories and flow
chosen per frame) and one tiny generated dataset."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from segnet.datasets import ClipDataset, ClipSampler, ShardDataset, expand_clip
from segnet.datasets.clip_reader import clip_starts, gap_free_runs
from segnet.datasets.shard_reader import collate_frames
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import InputError, ShardError
from synthcam_core.sample import SAMPLE_KEYS
from synthcam_shards.format import FLOW_SCALE
from synthcam_shards.shard_file import ShardWriter

CAM = Intrinsics.nyuv2().scaled(16, 12)
STEP = 0.4  # seconds between frames at the default 2.5 frames/s


def flow_of(i: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame i's (12, 16, 2) float32 flow (whole stored units, 0 where the mask is not 1), (12, 16) uint8 mask."""
    rows, cols = np.mgrid[0:12, 0:16]
    mask = ((rows + cols + i) % 4).astype(np.uint8)
    flow = np.stack([(i + 1) / 4 + cols / FLOW_SCALE, -rows / FLOW_SCALE - i], axis=-1).astype(np.float32)
    return flow * (mask == 1)[..., None], mask


def write_shard(path, timestamps, trajectory_ids=None, config=None, seed=0, flow=False):
    """A shard of len(timestamps) random 16x12 frames; frame i's class40 is filled with i % 41 and its
    flow (``flow=True``) is :func:`flow_of` ``(i)``."""
    n = len(timestamps)
    ids = [0] * n if trajectory_ids is None else trajectory_ids
    rng = np.random.default_rng(seed)
    attrs = {"config": config if config is not None else {"rooms": 1}}
    with ShardWriter(path, n, CAM, attrs, {"objects": []}, flow=flow) as writer:
        for i in range(n):
            pose = np.eye(4)
            pose[:3, 3] = [i, seed, 1.5]
            depth = rng.integers(1, 8000, (12, 16)).astype(np.float32) / 1000
            class40 = np.full((12, 16), i % 41, dtype=np.uint8)
            writer.write(i, depth, depth, class40, np.zeros((12, 16), np.uint16), pose, timestamps[i], ids[i])
            if flow:
                writer.write_flow(i, *flow_of(i))
        return writer.close()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """a.h5: 7 frames, a gap after frame 3; b.h5: 5 frames, the trajectory changes after frame 1."""
    out = tmp_path_factory.mktemp("clips")
    write_shard(out / "a.h5", [0, STEP, 2 * STEP, 3 * STEP, 5 * STEP, 6 * STEP, 7 * STEP])
    write_shard(out / "b.h5", np.arange(5) * STEP, [4, 4, 5, 5, 5], seed=1)
    return out


@pytest.fixture(scope="module")
def flow_shards(tmp_path_factory):
    """f.h5: 6 frames with flow at 25 frames/s; g.h5: 3 more frames with flow, another trajectory."""
    out = tmp_path_factory.mktemp("flow")
    write_shard(out / "f.h5", np.arange(6) * 0.04, config={"frame_rate": 25}, flow=True)
    write_shard(out / "g.h5", np.arange(3) * 0.04, [1, 1, 1], config={"frame_rate": 25}, seed=1, flow=True)
    return out


def test_runs_break_at_gaps_and_trajectory_changes():
    t = np.array([0.0, 0.4, 0.8, 1.6, 2.0, 2.4])
    assert gap_free_runs(t, np.zeros(6), 2.5).tolist() == [[0, 3], [3, 6]]
    assert gap_free_runs(t, np.array([0, 0, 1, 1, 1, 1]), 2.5).tolist() == [[0, 2], [2, 3], [3, 6]]
    assert gap_free_runs(t + 4e-7 * np.arange(6), np.zeros(6), 2.5).tolist() == [[0, 3], [3, 6]]  # within 1e-6 s
    assert gap_free_runs(t, np.zeros(6), 5.0).tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]
    assert gap_free_runs(np.zeros(0), np.zeros(0), 2.5).shape == (0, 2)
    assert clip_starts(np.array([[0, 7], [9, 11]]), 3, 2).tolist() == [0, 2, 4]


def test_clips_stay_inside_one_gap_free_run(shards):
    # a.h5 runs [0, 4) and [4, 7); b.h5 (global 7..11) runs [7, 9) and [9, 12)
    assert ClipDataset(shards, clip_length=3).starts.tolist() == [0, 4, 9]
    assert ClipDataset(shards, clip_length=3, stride=1).starts.tolist() == [0, 1, 4, 9]
    assert ClipDataset(shards, clip_length=2).starts.tolist() == [0, 2, 4, 7, 9]
    ds = ClipDataset(shards, clip_length=1)
    assert ds.starts.tolist() == list(range(12)) and ds.offsets.tolist() == [0, 7, 12]


def test_items_are_frames_of_the_shard_reader_with_a_time_axis(shards):
    clips, frames = ClipDataset(shards, clip_length=3, classes=13), ShardDataset(shards, classes=13)
    assert len(clips) == 3 and not clips.flow
    item = clips[2]
    assert tuple(item) == SAMPLE_KEYS
    assert item["depth"].shape == (3, 1, 12, 16) and item["depth"].dtype == torch.float32
    assert item["label"].shape == (3, 12, 16) and item["label"].dtype == torch.int64
    assert (
        item["pose"].shape == (3, 4, 4) and item["intrinsics"].shape == (3, 4) and item["index"].tolist() == [9, 10, 11]
    )
    for t, frame in enumerate(range(9, 12)):
        for key, value in frames[frame].items():
            torch.testing.assert_close(item[key][t], value, equal_nan=True)
    batch = collate_frames(clips.__getitems__([2, 0]))
    assert batch["depth"].shape == (2, 3, 1, 12, 16) and batch["index"][1].tolist() == [0, 1, 2]
    torch.testing.assert_close(batch["label"][0], item["label"])
    with pytest.raises(IndexError, match="3 clips"):
        clips[3]


def test_compact_clips_expand_to_the_standard_layout(shards):
    standard = collate_frames(ClipDataset(shards, clip_length=2, classes=37).__getitems__([4, 1]))
    compact = collate_frames(ClipDataset(shards, clip_length=2, classes=37, compact=True).__getitems__([4, 1]))
    assert compact["depth_mm"].dtype == torch.uint16 and compact["label"].dtype == torch.uint8
    expanded = expand_clip(compact)
    assert set(expanded) == set(standard)
    for key in standard:
        torch.testing.assert_close(expanded[key], standard[key], equal_nan=True)
    assert expand_clip(standard) is standard


def test_frame_rate_comes_from_the_shard_config(tmp_path):
    write_shard(tmp_path / "a.h5", np.arange(6) * 0.04, config={"frame_rate": 25.0})
    assert ClipDataset(tmp_path, clip_length=6).starts.tolist() == [0]
    (tmp_path / "b").mkdir()
    write_shard(tmp_path / "b" / "b.h5", np.arange(6) * 0.04)
    with pytest.raises(InputError, match="the longest holds 1"):
        ClipDataset(tmp_path / "b", clip_length=2)  # at the default 2.5 frames/s, 0.04 s steps are gaps
    for bad in (0, -1.0, "fast", True):
        write_shard(tmp_path / "c.h5", np.arange(2) * 0.04, config={"frame_rate": bad})
        with pytest.raises(ShardError, match="c.h5: config frame_rate"):
            ClipDataset(tmp_path / "c.h5", clip_length=1)
        (tmp_path / "c.h5").unlink()


def test_bad_clip_options_are_one_line_input_errors(shards):
    for kw in ({"clip_length": 0}, {"clip_length": 2.5}, {"clip_length": 2, "stride": 0}):
        with pytest.raises(InputError, match="at least 1") as info:
            ClipDataset(shards, **kw)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"clip_length 5 .* longest holds 4\); use clip_length <= 4") as info:
        ClipDataset(shards, clip_length=5)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"a\.h5 holds no optical flow; generate the dataset with --flow"):
        ClipDataset(shards, clip_length=2, flow=True)
    assert not ClipDataset(shards, clip_length=2, flow=False).flow


def test_sampler_is_a_seeded_permutation_of_the_clips(shards):
    clips = ClipDataset(shards, clip_length=1)
    sampler = ClipSampler(clips, seed=4)
    order = list(sampler)
    assert sorted(order) == list(range(12)) and len(sampler) == 12
    assert list(ClipSampler(clips, seed=4)) == order and list(ClipSampler(clips, seed=5)) != order
    sampler.set_epoch(1)
    again = list(sampler)
    assert sorted(again) == list(range(12)) and again != order
    by_shard = list(ClipSampler(clips, seed=4, by_shard=True))
    first = by_shard[0] < 7  # one shard's clips (7 in a.h5, 5 in b.h5), then the other's
    assert [i < 7 for i in by_shard[: 7 if first else 5]] == [first] * (7 if first else 5)
    assert list(ClipSampler(clips, shuffle=False)) == list(range(12))


def test_worker_batches_match_and_reuse_shared_memory(flow_shards, monkeypatch):
    import segnet.datasets.batch_memory as batch_memory

    monkeypatch.setattr(batch_memory, "received", 0)
    clips = ClipDataset(flow_shards, clip_length=2, compact=True)
    sampler = ClipSampler(clips, seed=1)
    serial = list(DataLoader(clips, batch_size=2, sampler=sampler, collate_fn=collate_frames))
    loader = DataLoader(clips, batch_size=2, sampler=sampler, collate_fn=collate_frames, num_workers=2)
    parallel = list(loader)
    assert len(parallel) == len(serial) == 2 and parallel[0]["flow_stored"].shape == (2, 2, 2, 12, 16)
    for a, b in zip(serial, parallel):
        for key in a:
            assert torch.equal(a[key], b[key]), key
    assert batch_memory.received == 2  # every batch came through a pooled segment


def test_flow_of_each_frame_to_the_next(flow_shards):
    clips = ClipDataset(flow_shards, clip_length=3)
    assert clips.flow and clips.starts.tolist() == [0, 3, 6]
    item = clips[0]
    assert item["flow"].shape == (3, 2, 12, 16) and item["flow"].dtype == torch.float32
    assert item["flow_mask"].shape == (3, 12, 16) and item["flow_mask"].dtype == torch.uint8
    for k, frame in enumerate((3, 4, 5)):  # the last one too: its flow to the next stored frame
        flow, mask = flow_of(frame)
        np.testing.assert_array_equal(clips[1]["flow"][k].numpy(), flow.transpose(2, 0, 1))
        np.testing.assert_array_equal(clips[1]["flow_mask"][k].numpy(), mask)
    np.testing.assert_array_equal(clips[2]["flow"][0].numpy(), flow_of(0)[0].transpose(2, 0, 1))  # g.h5 frame 0
    assert "flow" not in ClipDataset(flow_shards, clip_length=3, flow=False)[0]


def test_compact_flow_and_crop_and_resize(flow_shards):
    standard = collate_frames(ClipDataset(flow_shards, clip_length=2, classes=13).__getitems__([1, 3]))
    compact = collate_frames(ClipDataset(flow_shards, clip_length=2, classes=13, compact=True).__getitems__([1, 3]))
    assert compact["flow_stored"].dtype == torch.int16 and compact["flow_stored"].shape == (2, 2, 2, 12, 16)
    assert "flow" not in compact
    expanded = expand_clip(compact)
    assert set(expanded) == set(standard)
    for key in standard:
        torch.testing.assert_close(expanded[key], standard[key], equal_nan=True)
    crop = ClipDataset(flow_shards, clip_length=2, crop=(2, 4, 8, 8), compact=True)[0]
    expected = FLOW_SCALE * flow_of(1)[0][2:10, 4:12].transpose(2, 0, 1)
    np.testing.assert_array_equal(crop["flow_stored"][1].numpy(), expected)
    np.testing.assert_array_equal(crop["flow_mask"][1].numpy(), flow_of(1)[1][2:10, 4:12])
    double = ClipDataset(flow_shards, clip_length=2, crop=(2, 4, 8, 8), resize=(16, 16))[0]
    doubled = 2 * crop["flow_stored"][1].numpy() / FLOW_SCALE
    np.testing.assert_array_equal(double["flow"][1, :, ::2, ::2].numpy(), doubled)
    np.testing.assert_array_equal(double["flow_mask"][1, 1::2, 1::2].numpy(), crop["flow_mask"][1].numpy())
    with pytest.raises(InputError, match="resize needs compact=False"):
        ClipDataset(flow_shards, clip_length=2, resize=(24, 32), compact=True)


def test_flow_is_used_only_when_every_shard_holds_it(flow_shards, tmp_path):
    for path in flow_shards.glob("*.h5"):
        shutil.copy(path, tmp_path / path.name)
    write_shard(tmp_path / "h.h5", np.arange(3) * 0.4)
    assert not ClipDataset(tmp_path, clip_length=3).flow
    with pytest.raises(InputError, match=r"h\.h5 holds no optical flow; generate the dataset with --flow"):
        ClipDataset(tmp_path, clip_length=3, flow=True)


def test_generated_frames_form_clips_at_the_default_rate(tmp_path):
    from synthcam.generate import GenerateConfig, generate_dataset

    generate_dataset(GenerateConfig(rooms=1, frames_per_room=4, seed=2, width=32, height=24), tmp_path, workers=1)
    frames = ShardDataset(tmp_path)
    clips = ClipDataset(tmp_path, clip_length=2, stride=1)
    assert len(clips) >= 1
    for k in range(len(clips)):
        index = clips[k]["index"]
        assert (index[1:] - index[:-1] == 1).all()
        stamps = frames.shards[0].timestamps[index.numpy()]
        np.testing.assert_allclose(np.diff(stamps), 0.4, atol=1e-6)
