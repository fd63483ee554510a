import json
import shutil

import h5py
import pytest
from click.testing import CliRunner

from cli.main import main
from synthcam.generate import GenerateConfig, generate_dataset
from synthcam_core.errors import ShardError
from synthcam_shards.shard_file import ShardFile, read_shard
from synthcam_shards.validate import validate_path


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("validate") / "clean"
    generate_dataset(GenerateConfig(rooms=3, frames_per_room=2, seed=9, width=32, height=24), out)
    return out


@pytest.fixture
def dataset(clean_dataset, tmp_path):
    out = tmp_path / "data"
    shutil.copytree(clean_dataset, out)
    return out


def run_validate(path):
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def flip_byte_in_chunk(path, dataset: str, frame: int) -> None:
    """Flip one byte in the middle of the stored (zstd-compressed) chunk of ``dataset`` frame ``frame``."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info_by_coord((frame, 0, 0))
    offset = info.byte_offset + info.size // 2
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([b ^ 0x01]))


def test_a_good_dataset_passes(dataset):
    code, lines = run_validate(dataset)
    assert code == 0 and lines == [f"ok: 3 shards, 6 frames, every checksum verified ({dataset})"]
    assert run_validate(dataset / "room_00001.h5")[0] == 0


def test_truncated_shard_is_named_and_refused_by_the_reader(dataset):
    shard = dataset / "room_00001.h5"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 3000])
    code, lines = run_validate(dataset)
    assert code == 1 and lines[0].startswith("room_00001.h5: ") and len(lines) == 2, lines
    with pytest.raises(ShardError, match="room_00001.h5"):
        read_shard(shard)


def test_flipped_byte_in_a_compressed_chunk_is_named_and_refused(dataset):
    flip_byte_in_chunk(dataset / "room_00002.h5", "depth", 1)
    code, lines = run_validate(dataset)
    assert code == 1 and len(lines) == 2, lines
    assert lines[0].startswith("room_00002.h5: frame 1 "), lines  # checksum mismatch or zstd error, at frame 1
    with ShardFile(dataset / "room_00002.h5") as shard:
        shard.read_frame(0, ("depth",))
        with pytest.raises(ShardError, match="room_00002.h5: frame 1 "):
            shard.read_frame(1, ("depth",))


def test_missing_extra_and_partial_shards_are_named(dataset):
    (dataset / "room_00000.h5").unlink()
    shutil.copy(dataset / "room_00001.h5", dataset / "room_00007.h5")
    (dataset / "room_00003.h5.synthcam-partial").write_bytes(b"half")
    code, lines = run_validate(dataset)
    assert code == 1
    assert lines[:3] == [
        "room_00003.h5.synthcam-partial: partial shard left by an interrupted run; "
        "rerun 'synthcam generate' to finish it",
        "room_00007.h5: not listed in manifest.json",
        "room_00000.h5: missing (listed in manifest.json)",
    ], lines


def test_manifest_disagreements_are_named(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["shards"][1]["frames"] = 5
    manifest["shards"][2]["class40_pixels"][1] += 1
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    report = validate_path(dataset)
    assert [str(p) for p in report.problems] == [
        "room_00001.h5: has 2 frames but manifest.json lists 5",
        "room_00002.h5: class40 pixel totals differ from manifest.json",
    ]
    (dataset / "manifest.json").unlink()
    report = validate_path(dataset)
    assert [p.name for p in report.problems] == ["manifest.json"] and report.shards == 3


def test_old_format_and_usage_errors(dataset, tmp_path):
    with h5py.File(dataset / "room_00000.h5", "r+") as f:
        f.attrs["format_version"] = 0
    code, lines = run_validate(dataset)
    assert code == 1 and lines[0].startswith("room_00000.h5: has shard format version 0"), lines
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "does not exist" in result.output
