"""The Ray path runs the same per-room task as the process pool and writes the same bytes."""

import pytest

from synthcam.generate import GenerateConfig, generate_dataset
from synthcam_core.errors import SynthcamError

CONFIG = GenerateConfig(rooms=2, frames_per_room=2, seed=5, width=48, height=36)


@pytest.mark.slow
def test_local_ray_cluster_writes_the_same_shards_as_the_process_pool(tmp_path):
    import ray  # the [ray] extra, which scripts/setup.sh installs

    pool = generate_dataset(CONFIG, tmp_path / "pool", workers=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ticks = []
        remote = generate_dataset(CONFIG, tmp_path / "ray", ray_address="auto", on_frame=ticks.append)
        assert ray.is_initialized()  # a session that was already open stays open
    finally:
        ray.shutdown()
    assert sum(ticks) == CONFIG.rooms * CONFIG.frames_per_room
    assert [p.name for p in remote] == [p.name for p in pool]
    for a, b in zip(pool, remote):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert (tmp_path / "pool" / "manifest.json").read_bytes() == (tmp_path / "ray" / "manifest.json").read_bytes()


def test_unreachable_or_malformed_ray_address_is_one_clear_error(tmp_path):
    with pytest.raises(SynthcamError, match="cannot reach the Ray cluster at '127.0.0.1:9'.*ray start --head"):
        generate_dataset(CONFIG, tmp_path, ray_address="127.0.0.1:9")
    with pytest.raises(SynthcamError, match="not auto, local, HOST:PORT"):
        generate_dataset(CONFIG, tmp_path, ray_address="somewhere")
