import json
import os

import h5py
import numpy as np
import pytest

from synthcam.generate import GenerateConfig, generate_dataset
from synthcam_core.errors import SynthcamError
from synthcam_shards.shard_file import read_shard

ARRAYS = ("depth", "depth_clean", "class40", "instance", "pose", "timestamp")


def test_same_seed_gives_identical_arrays_whatever_the_worker_count(tmp_path):
    config = GenerateConfig(rooms=3, frames_per_room=4, seed=11, width=80, height=60)
    one = generate_dataset(config, tmp_path / "w1", workers=1)
    two = generate_dataset(config, tmp_path / "w2", workers=2)
    assert [p.name for p in one] == [p.name for p in two] == ["room_00000.h5", "room_00001.h5", "room_00002.h5"]
    for a, b in zip(one, two):
        sa, sb = read_shard(a), read_shard(b)
        for key in ARRAYS:
            assert np.array_equal(getattr(sa, key), getattr(sb, key)), key
        assert a.read_bytes() == b.read_bytes()
    other = read_shard(
        generate_dataset(
            GenerateConfig(rooms=1, frames_per_room=4, seed=12, width=80, height=60), tmp_path / "s12", workers=1
        )[0]
    )
    assert not np.array_equal(other.depth_clean, read_shard(one[0]).depth_clean)


def test_dataset_content(tmp_path):
    config = GenerateConfig(rooms=1, frames_per_room=3, seed=2, width=64, height=48, noise_params={"range.z_max": 4.0})
    (path,) = generate_dataset(config, tmp_path, workers=1)
    shard = read_shard(path)
    assert shard.depth.shape == (3, 48, 64) and shard.class40.dtype == np.uint8 and shard.instance.dtype == np.uint16
    assert shard.depth.max() <= 4.0 + 0.05
    assert np.all(shard.depth_clean > 0)  # a closed room: every ray hits something
    assert shard.attrs["config"]["noise_params"] == {"range.z_max": 4.0}
    assert shard.attrs["noise"]["stages"]["range"]["z_max"] == 4.0
    assert shard.attrs["room_seed"] == {"entropy": 2, "spawn_key": [0]}
    # Labels agree with the scene table: every instance id maps to its class.
    table = {row["instance_id"]: row["class40"] for row in shard.scene["objects"]}
    for inst in np.unique(shard.instance):
        assert np.all(shard.class40[shard.instance == inst] == table[int(inst)])
    assert shard.trajectory_id.tolist() == [0, 0, 0]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    pixels = np.bincount(shard.class40.ravel(), minlength=41).tolist()
    assert manifest["frames"] == 3 and manifest["format_version"] == 2 and manifest["config"] == config.to_dict()
    assert manifest["shards"] == [{"file": "room_00000.h5", "frames": 3, "class40_pixels": pixels}]
    assert manifest["class40_pixels"] == pixels and manifest["class40_names"][1] == "wall"
    with h5py.File(path) as f:
        assert f.attrs["package_version"]


def test_bad_config_is_refused(tmp_path):
    with pytest.raises(SynthcamError, match="rooms must be at least 1"):
        generate_dataset(GenerateConfig(rooms=0, frames_per_room=1), tmp_path)
    with pytest.raises(SynthcamError, match="valid types"):
        generate_dataset(GenerateConfig(rooms=1, frames_per_room=1, room_types=("garage",)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_rerun_with_another_config_is_refused_unless_overwrite(tmp_path):
    from synthcam_shards.shard_file import find_shards

    generate_dataset(GenerateConfig(rooms=3, frames_per_room=1, seed=1, width=32, height=24), tmp_path)
    smaller = GenerateConfig(rooms=1, frames_per_room=1, seed=2, width=32, height=24)
    with pytest.raises(SynthcamError, match="different config .*rooms 3 vs 1, seed 1 vs 2.*--overwrite"):
        generate_dataset(smaller, tmp_path)
    (tmp_path / "manifest.json").unlink()  # an interrupted run: the shards alone tell
    with pytest.raises(SynthcamError, match="different config \\(room_00000.h5: rooms 3 vs 1"):
        generate_dataset(smaller, tmp_path)
    generate_dataset(smaller, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["room_00000.h5"]
    assert [p.name for p in find_shards(tmp_path)] == ["room_00000.h5"]
    (tmp_path / "room_00000.h5").unlink()
    with pytest.raises(SynthcamError, match="lacks shards"):
        find_shards(tmp_path)


def test_gl_backend_gives_identical_shards_whatever_the_worker_count(tmp_path):
    # With 2 workers this process renders rooms too (GL in-process) while the started worker renders the others.
    config = GenerateConfig(rooms=3, frames_per_room=3, seed=5, width=160, height=120, renderer="gl")
    one = generate_dataset(config, tmp_path / "w1", workers=1)
    two = generate_dataset(config, tmp_path / "w2", workers=2)
    for a, b in zip(one, two):
        assert a.read_bytes() == b.read_bytes()
    assert json.loads((tmp_path / "w2" / "manifest.json").read_text())["frames"] == 9


def test_shard_writer_refuses_wrong_shapes_and_indices_and_counts_classes(tmp_path):
    from synthcam_core.camera import Intrinsics
    from synthcam_shards.shard_file import ShardWriter, class_histogram

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 41, size=(48, 64), dtype=np.uint8)
    assert np.array_equal(class_histogram(labels), np.bincount(labels.ravel(), minlength=256))
    assert np.array_equal(class_histogram(labels[:, ::2]), np.bincount(labels[:, ::2].ravel(), minlength=256))
    cam = Intrinsics.nyuv2().scaled(64, 48)
    depth, instance = np.full((48, 64), 2.0, np.float32), np.ones((48, 64), np.uint16)
    with ShardWriter(tmp_path / "a.h5", 2, cam, {}, {}) as writer:
        with pytest.raises(ValueError, match="shape"):
            writer.write(0, depth[:, :10], depth, labels, instance, np.eye(4), 0.0)
        with pytest.raises(IndexError, match="out of range"):
            writer.write(2, depth, depth, labels, instance, np.eye(4), 0.0)
        for i in range(2):
            writer.write(i, depth, depth, labels, instance, np.eye(4), float(i))
        path = writer.close()
    shard = read_shard(path)
    assert np.array_equal(shard.class40[1], labels) and np.allclose(shard.depth, 2.0)
    with h5py.File(path) as f:
        assert np.array_equal(f["class40_pixels"][0], np.bincount(labels.ravel(), minlength=41))


_FRESH_PROCESS_SCRIPT = """
import os, sys
from pathlib import Path
import cv2, open3d  # their imports set LD_LIBRARY_PATH and TCM_ENABLE themselves
from synthcam.generate import GenerateConfig, generate_dataset
before = dict(os.environ), cv2.getNumThreads(), os.sched_getaffinity(0)
config = GenerateConfig(rooms=3, frames_per_room=3, seed=5, width=160, height=120, renderer="gl")
two = generate_dataset(config, Path(sys.argv[1]) / "w2", workers=2)
one = generate_dataset(config, Path(sys.argv[1]) / "w1", workers=1)  # GL in this process: PyOpenGL and EGL set up here
assert [a.read_bytes() for a in one] == [b.read_bytes() for b in two]
after = dict(os.environ), cv2.getNumThreads(), os.sched_getaffinity(0)
assert after == before, (before, after)
print("same")
"""


def test_a_fresh_process_gets_the_same_bytes_from_workers_and_keeps_its_settings(tmp_path):
    """In a fresh interpreter (where PyOpenGL is first imported and the EGL context first made, so that the
    environment variables they read are set, and removed again): 2 workers (forked from the fork server)
    and 1 give the same bytes; the environment, OpenCV's threads and the CPU affinity are as before."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PYOPENGL_PLATFORM", "LP_NUM_THREADS", "TCM_ENABLE")}
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["same"]


@pytest.mark.parametrize("workers", [1, 2])
def test_generation_changes_no_setting_of_the_calling_process(tmp_path, monkeypatch, workers):
    """A library call leaves the caller's environment, OpenCV threads, CPU affinity and glibc malloc settings
    alone: only the worker processes it starts tune theirs."""
    import cv2

    from synthcam import room_shard, runners

    calls = []
    monkeypatch.setattr(room_shard, "keep_large_buffers_in_heap", lambda *a: calls.append(a))
    monkeypatch.setattr(runners, "keep_large_buffers_in_heap", lambda *a: calls.append(a))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(3)  # not what a worker uses (1), nor necessarily the default
    try:
        before = dict(os.environ), cv2.getNumThreads(), os.sched_getaffinity(0)
        config = GenerateConfig(rooms=2, frames_per_room=2, seed=4, width=48, height=36)
        generate_dataset(config, tmp_path, workers=workers)
        assert (dict(os.environ), cv2.getNumThreads(), os.sched_getaffinity(0)) == before
    finally:
        cv2.setNumThreads(threads)
    assert calls == []  # mallopt is set in started workers only


def test_workers_start_from_a_fork_server_that_preloads_generation():
    import multiprocessing as mp

    from synthcam.worker_processes import GL_PRELOAD, WORKER_PRELOAD, needs_gl, worker_context

    assert not needs_gl("raycast") and needs_gl("gl") and needs_gl("pyrender") and needs_gl("auto")
    assert "synthcam.worker_preload_gl" in GL_PRELOAD  # PyOpenGL only where a GL backend may run
    ctx = worker_context()
    if "forkserver" in mp.get_all_start_methods():
        assert ctx.get_start_method() == "forkserver"
        assert "synthcam.worker_preload" in WORKER_PRELOAD
    else:
        assert ctx.get_start_method() == "spawn"


def test_a_room_planned_in_one_process_and_written_in_another_gives_the_same_shard(tmp_path):
    """What benchmarks/gpu_render_fps.py relies on: scene and trajectory pickled after planning (with
    Open3D) and written elsewhere (without it) make the shard that generation makes."""
    import pickle

    from synthcam.generate import RoomPlan, generate_room_shard, plan_room, write_room_shard
    from synthcam.render import make_renderer

    config = GenerateConfig(rooms=2, frames_per_room=3, seed=5, width=64, height=48)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    reference = generate_room_shard(config, 1, tmp_path / "a")
    plan = plan_room(config, 1)
    scene, trajectory = pickle.loads(pickle.dumps((plan.scene, plan.trajectory)))
    renderer = make_renderer(config.renderer, scene, config.intrinsics)
    written = write_room_shard(config, RoomPlan(1, scene, renderer, trajectory), tmp_path / "b")
    assert written.name == reference.name == "room_00001.h5"
    assert written.read_bytes() == reference.read_bytes()


def test_a_worker_whose_caller_is_gone_exits_at_once():
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    script = (
        "import sys; from synthcam.worker_processes import die_with_parent; "
        "die_with_parent(int(sys.argv[1])); print('on')"
    )
    # the caller gone; the caller its parent (a spawned worker); the caller alive further up (a fork server's worker)
    for pid, code, out in ((gone.pid, 1, ""), (os.getpid(), 0, "on"), (os.getppid(), 0, "on")):
        result = subprocess.run([sys.executable, "-c", script, str(pid)], capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout.strip()) == (code, out), result.stderr[-2000:]
