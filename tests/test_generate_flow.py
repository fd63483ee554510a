"""``synthcam generate --flow``: each frame's optical flow to the next, from the clean rendered depth.

One tiny video dataset (2 rooms x 6 frames at 160x120, 25 Hz in clips of 3) is generated with flow by one
and by two workers and without flow; the flow warped back reproduces frame t's clean depth, and the
noisy depth is the same with and without it.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

try:
    import hdf5plugin  # noqa: F401  (registers zstd for h5py; without it shards are gzip)
except ImportError:
    pass

from test_bytes_pinned import dataset_hashes

from synthcam_core.config_file import CONFIG_NAME
from synthcam_core.geometry.flow_np import FLOW_NONE, FLOW_VALID, relative_transform
from synthcam_shards.shard_file import ShardFile

VIDEO = [
    "--rooms",
    "2",
    "--frames-per-room",
    "6",
    "--resolution",
    "160x120",
    "--renderer",
    "raycast",
    "--seed",
    "11",
    "--frame-rate",
    "25",
    "--clip-length",
    "3",
    "--quiet",
]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """{"flow": dir, "flow_2_workers": dir, "plain": dir} of the tiny video dataset."""
    from click.testing import CliRunner

    from cli.main import main

    root = tmp_path_factory.mktemp("flow")
    runs = {"flow": ["--flow", "--workers", "1"], "flow_2_workers": ["--flow", "--workers", "2"], "plain": []}
    for name, extra in runs.items():
        result = CliRunner().invoke(main, ["generate", *VIDEO, *extra, "--out", str(root / name)])
        assert result.exit_code == 0, result.output
    return {name: root / name for name in runs}


def warped_back_depth(depth_next: np.ndarray, flow: np.ndarray, intrinsics, pose, pose_next) -> np.ndarray:
    """(H, W) z-depth in frame t's camera of the point of frame t+1 that each pixel's flow lands on
    (frame t+1's depth read bilinearly at p + flow, lifted and moved into camera t); NaN off the image."""
    h, w = depth_next.shape
    u = np.arange(w)[None, :] + flow[..., 0]  # pixel index coordinates: centre of pixel i at i
    v = np.arange(h)[:, None] + flow[..., 1]
    u0, v0 = np.clip(np.floor(u).astype(int), 0, w - 2), np.clip(np.floor(v).astype(int), 0, h - 2)
    a, b = u - u0, v - v0
    z = (
        depth_next[v0, u0] * (1 - a) * (1 - b)
        + depth_next[v0, u0 + 1] * a * (1 - b)
        + depth_next[v0 + 1, u0] * (1 - a) * b
        + depth_next[v0 + 1, u0 + 1] * a * b
    )
    x = ((u + 0.5) - intrinsics.cx) / intrinsics.fx * z
    y = ((v + 0.5) - intrinsics.cy) / intrinsics.fy * z
    back = relative_transform(pose_next, pose)  # camera t+1 -> camera t
    z_t = back[2, 0] * x + back[2, 1] * y + back[2, 2] * z + back[2, 3]
    return np.where((u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1), z_t, np.nan)


def test_flow_warped_back_reproduces_the_clean_depth(datasets):
    assert "flow: true\n" in (datasets["flow"] / CONFIG_NAME).read_text()
    for shard in sorted(datasets["flow"].glob("room_*.h5")):
        with ShardFile(shard) as f:
            assert f.has_flow and f.attrs["format_version"] == 3
            frames = f.read_frames(0, len(f), ("depth_clean", "flow", "flow_mask", "pose"))
            intrinsics = f.intrinsics
        mask, flow = frames["flow_mask"], frames["flow"]
        assert np.all(mask[-1] == FLOW_NONE) and not flow[-1].any()  # the last frame has no next frame
        for t in range(len(mask) - 1):
            valid = mask[t] == FLOW_VALID
            assert valid.mean() > 0.5  # 25 Hz: most of the view is still there 40 ms later
            depth = frames["depth_clean"]
            z = warped_back_depth(depth[t + 1], flow[t], intrinsics, frames["pose"][t], frames["pose"][t + 1])
            error = np.abs(z[valid] - depth[t][valid])
            assert np.nanmedian(error) < 1e-3, (shard.name, t, np.nanmedian(error))


def test_flow_changes_no_other_frame_data_and_no_worker_count_changes_it(datasets):
    assert dataset_hashes(datasets["flow"]) == dataset_hashes(datasets["flow_2_workers"])
    for shard in sorted(datasets["plain"].glob("room_*.h5")):
        with h5py.File(shard) as plain, h5py.File(datasets["flow"] / shard.name) as with_flow:
            assert plain.attrs["format_version"] == 2 and "flow" not in plain
            assert set(with_flow) - set(plain) == {"flow", "flow_mask"}
            for name in plain:  # the noisy depth too: flow draws nothing from the noise stream
                if name != "checksum":
                    assert np.array_equal(plain[name][()], with_flow[name][()]), name
            columns = plain["checksum"].shape[1]
            assert np.array_equal(plain["checksum"][()], with_flow["checksum"][:, :columns])


def test_a_flow_dataset_resumes(datasets, tmp_path):
    import shutil

    from click.testing import CliRunner

    from cli.main import main

    out = tmp_path / "resumed"
    shutil.copytree(datasets["flow"], out)
    (out / "room_00001.h5").unlink()
    (out / "manifest.json").unlink()
    result = CliRunner().invoke(main, ["generate", *VIDEO, "--flow", "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "kept 1 complete shards" in result.output
    assert dataset_hashes(out) == dataset_hashes(datasets["flow"])
