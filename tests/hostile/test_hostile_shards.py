"""Hostile and careless shards, manifests and dataset directories (issue 12, cases 4, 6 and 9).

Shards are written here with :class:`ShardWriter` at 16x12 (no rendering), then edited in place
with h5py the way a damaged disk, a careless script or a forger would. Where a test forges a
consistent file it stores the header digest again (``reseal``), so only the value checks can catch it.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import ShardError
from synthcam_shards import shard_file as shards
from synthcam_shards.shard_file import FORMAT_VERSION, ShardFile, ShardWriter, default_label_tables, find_shards
from synthcam_shards.validate import validate_path

ROOT = Path(__file__).resolve().parents[2]
CAM = Intrinsics.nyuv2().scaled(16, 12)
SCENE = {
    "room_type": "bedroom",
    "objects": [
        {"instance_id": 1, "class40": 1, "class_name": "wall", "name": "wall"},
        {"instance_id": 2, "class40": 5, "class_name": "chair", "name": "chair_0"},
    ],
}
CONFIG = {"rooms": 2, "frames_per_room": 2, "seed": 5, "width": 16, "height": 12}


def rigid(angle: float, x: float) -> np.ndarray:
    """(4, 4) camera-to-world pose: a turn about z and a shift along x."""
    c, s = np.cos(angle), np.sin(angle)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    pose[0, 3] = x
    return pose


def write_shard(path: Path, seed: int = 0, n: int = 2, camera: Intrinsics = CAM, labels=None, edit=None) -> Path:
    """A valid n-frame shard (labels 0, 1, 5; instances 0, 1, 2); ``edit(i, frame)`` may change a
    frame's values (a dict of depth, depth_clean, class40, instance, pose, timestamp, trajectory_id)."""
    rng = np.random.default_rng(seed)
    h, w = camera.height, camera.width
    with ShardWriter(
        path, n, camera, {"config": CONFIG, "seed": CONFIG["seed"], "room_index": seed}, SCENE, labels
    ) as writer:
        for i in range(n):
            class40 = rng.choice(np.array([0, 1, 5], np.uint8), (h, w))
            frame = {
                "depth": rng.integers(1, 5000, (h, w)).astype(np.float32) / 1000,
                "class40": class40,
                "depth_clean": rng.integers(1, 5000, (h, w)).astype(np.float32) / 1000,
                "instance": np.choose(class40 // 5 + (class40 > 0), [0, 1, 2]).astype(np.uint16),
                "pose": rigid(0.1 * i, 0.5 * i),
                "timestamp": i / 30,
                "trajectory_id": seed,
            }
            if edit is not None:
                edit(i, frame)
            writer.write(
                i,
                frame["depth"],
                frame["depth_clean"],
                frame["class40"],
                frame["instance"],
                frame["pose"],
                frame["timestamp"],
                trajectory_id=frame["trajectory_id"],
            )
        return writer.close()


def write_manifest(directory: Path, names: list[str]) -> dict:
    """manifest.json as generation writes it, for the shards ``names`` of ``directory``."""
    entries, total = [], np.zeros(41, np.int64)
    for name in names:
        with h5py.File(directory / name, "r") as f:
            pixels = f["class40_pixels"][()].sum(axis=0)
            frames = int(f.attrs["frame_count"])
        total += pixels
        entries.append({"file": name, "frames": frames, "class40_pixels": pixels.tolist()})
    manifest = {
        "format": "synthcam-dataset",
        "format_version": FORMAT_VERSION,
        "package_version": "0",
        "config": CONFIG,
        "shards": entries,
        "frames": sum(e["frames"] for e in entries),
        "class40_names": list(default_label_tables().class40_names),
        "class40_pixels": total.tolist(),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile_shards") / "data"
    out.mkdir()
    for room in range(2):
        write_shard(out / f"room_{room:05d}.h5", seed=room)
    write_manifest(out, ["room_00000.h5", "room_00001.h5"])
    return out


@pytest.fixture
def dataset(clean_dataset, tmp_path) -> Path:
    out = tmp_path / "data"
    out.mkdir()
    for p in clean_dataset.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    assert validate_path(out).ok
    return out


def reseal(path: Path) -> None:
    """Store the header digest again after an edit, as a careful forger would (the base has none)."""
    digest = getattr(shards, "header_digest", None)
    if digest is not None:
        with h5py.File(path, "r+") as f:
            text = digest(f).encode()
            f.attrs.create(shards.HEADER_DIGEST, data=text, dtype=h5py.string_dtype("utf-8", len(text)))


def refused_everywhere(path: Path, *fragments: str) -> None:
    """validate names a problem with the shard (with ``fragments``) and the reader refuses to open it."""
    report = validate_path(path)
    assert not report.ok, f"validate passed {path.name}"
    for fragment in fragments:
        assert fragment in report.problems[0].problem, report.problems
    with pytest.raises(ShardError):
        ShardFile(path)


# --- case 4: silent corruption -----------------------------------------------------------------


def _set_item(name: str, index, value):
    def edit(f):
        data = f[name][()]
        data[index] = value(data[index])
        f[name][...] = data

    return edit


def _set_attr(name: str, value):
    """Rewrite a root attribute, keeping its kind: a fixed-length string stays one (so only a checksum can tell)."""

    def edit(f):
        old = f.attrs[name]
        if isinstance(old, bytes):
            text = value(old.decode()).encode()
            f.attrs.create(name, data=text, dtype=h5py.string_dtype("utf-8", len(text)))
        else:
            f.attrs[name] = value(old)

    return edit


def _swap_pixels(f):
    pixels = f["class40_pixels"][()]
    pixels[0, [1, 5]] = pixels[0, [5, 1]]  # the same pixel total, two classes swapped
    f["class40_pixels"][...] = pixels


HEADER_EDITS = {
    "class40_to_13[5]": _set_item("class40_to_13", 5, lambda v: (v + 1) % 14),
    "class40_to_37[3]": _set_item("class40_to_37", 3, lambda v: (v + 1) % 38),
    "intrinsics fx": _set_item("intrinsics", 2, lambda v: v * 1.5),
    "class40_names[5]": _set_item("class40_names", 5, lambda v: b"renamed"),
    "class13_names[2]": _set_item("class13_names", 2, lambda v: b"renamed"),
    "class37_names[7]": _set_item("class37_names", 7, lambda v: b"renamed"),
    "class40_pixels (same total)": _swap_pixels,
    "attr config": _set_attr("config", lambda v: json.dumps({**CONFIG, "seed": 6}, sort_keys=True)),
    "attr seed": _set_attr("seed", lambda v: v + 1),
    "attr scene_json": _set_attr("scene_json", lambda v: v.replace("chair_0", "chair_9")),
    "attr depth_unit_m": _set_attr("depth_unit_m", lambda v: 0.01),
    "attr format_version 1 (older)": _set_attr("format_version", lambda v: 1),
}


@pytest.mark.parametrize("edit", HEADER_EDITS, ids=list(HEADER_EDITS))
def test_every_header_field_is_covered_by_a_checksum(tmp_path, edit):
    """Label tables, names, intrinsics, class counts and root attributes: any change is caught by
    validate and by the reader (the base validated these shards as fine)."""
    path = write_shard(tmp_path / "room_00000.h5")
    with h5py.File(path, "r+") as f:
        HEADER_EDITS[edit](f)
    refused_everywhere(path)


def test_flipped_label_table_entry_fails_validate_on_the_command_line(dataset, cli):
    """The issue's example: flip class40_to_13[5] and validate must not say every checksum is verified."""
    shard = dataset / "room_00001.h5"
    with h5py.File(shard, "r+") as f:
        f["class40_to_13"][5] = f["class40_to_13"][5] ^ 1
    result = cli("validate", dataset)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0].startswith("room_00001.h5: "), result.output
    assert "every checksum verified" not in result.output


@pytest.mark.parametrize("field", ["pose", "timestamp", "trajectory_id"])
def test_torch_reader_verifies_pose_timestamp_and_trajectory_checksums(tmp_path, field):
    """The training reader took poses from the file without their CRC: a corrupt pose trained silently."""
    from segnet.datasets.shard_reader import ShardDataset

    path = write_shard(tmp_path / "room_00000.h5")
    with h5py.File(path, "r+") as f:
        data = f[field][()]
        data[1] = rigid(0.7, 2.0) if field == "pose" else data[1] + 3
        f[field][...] = data
    with pytest.raises(ShardError, match=f"frame 1 fails its {field} checksum|header checksum"):
        ShardDataset(path)[1]


def _class_200(path: Path) -> None:
    """Forge frame 0's labels to hold class id 200 with consistent CRC and class counts."""
    write_shard(path)
    with h5py.File(path, "r+") as f:
        labels = f["class40"][0]
        labels[3, 4:9] = 200
        f["class40"][0] = labels
        checksum = f["checksum"][()]
        checksum[0, 2] = zlib.crc32(labels.tobytes())
        f["checksum"][...] = checksum
        pixels = f["class40_pixels"][()]
        pixels[0] = np.bincount(labels.ravel(), minlength=256)[:41]
        f["class40_pixels"][...] = pixels
    reseal(path)


def _write_with(**kwargs):
    def make(path: Path) -> None:
        write_shard(path, **kwargs)

    return make


def _edit_frame(key: str, frame_index: int, change):
    def edit(i, frame):
        if i == frame_index:
            frame[key] = change(frame[key])

    return _write_with(edit=edit)


def _bad_table_labels():
    labels = default_label_tables()
    to13 = labels.class40_to_13.copy()
    to13[5] = 99
    return shards.LabelTables(
        labels.class40_names, labels.class13_names, labels.class37_names, to13, labels.class40_to_37
    )


RANGE_CASES = {
    "class id 200": (_class_200, "class40"),
    "instance id not in the scene table": (
        _edit_frame("instance", 1, lambda a: np.where(a == 2, 7, a).astype(np.uint16)),
        "instance id 7",
    ),
    "pose with NaN": (_edit_frame("pose", 1, lambda p: np.where(np.eye(4) == 1, np.nan, p)), "pose of frame 1"),
    "pose scaled, not rigid": (_edit_frame("pose", 0, lambda p: np.diag([2.0, 2.0, 2.0, 1.0]) @ p), "pose of frame 0"),
    "pose last row": (
        _edit_frame("pose", 1, lambda p: p + np.array([[0, 0, 0, 0]] * 3 + [[0.5, 0, 0, 0]])),
        "pose of frame 1",
    ),
    "timestamp inf": (_edit_frame("timestamp", 1, lambda t: np.inf), "timestamp of frame 1"),
    "trajectory id negative": (_edit_frame("trajectory_id", 0, lambda t: -3), "trajectory id"),
    "intrinsics fx negative": (_write_with(camera=Intrinsics(16, 12, -13.0, 13.0, 8.0, 6.0)), "intrinsics"),
    "principal point outside": (_write_with(camera=Intrinsics(16, 12, 13.0, 13.0, 800.0, 6.0)), "intrinsics"),
    "label table beyond 13 classes": (lambda path: write_shard(path, labels=_bad_table_labels()), "class40_to_13"),
}


@pytest.mark.parametrize("case", RANGE_CASES, ids=list(RANGE_CASES))
def test_validate_range_checks_values(tmp_path, case):
    """Values a careless writer or a forger can store with matching checksums: validate names each.
    (Class id 200 passed validate and training then died with IndexError.)"""
    make, fragment = RANGE_CASES[case]
    path = tmp_path / "room_00000.h5"
    make(path)
    report = validate_path(path)
    assert not report.ok, f"validate passed a shard with {case}"
    assert fragment in report.problems[0].problem, report.problems


def test_writer_refuses_class_ids_above_40(tmp_path):
    with pytest.raises(ValueError, match="class40 of frame 1 holds ids above 40"):
        write_shard(tmp_path / "a.h5", edit=lambda i, frame: frame["class40"].__setitem__((0, 0), 200 if i else 1))
    assert list(tmp_path.iterdir()) == []


MANIFEST_LIES = {
    "config": (lambda m: m["config"].update(seed=6), "room_00000.h5", "another config"),
    "format": (lambda m: m.update(format="other-dataset"), "manifest.json", "not a synthcam dataset manifest"),
    "format_version": (lambda m: m.update(format_version=1), "manifest.json", "version 1"),
    "class40_names": (lambda m: m["class40_names"].__setitem__(5, "sofa"), "room_00000.h5", "class40 names"),
    "class40_pixels total": (
        lambda m: m["class40_pixels"].__setitem__(1, m["class40_pixels"][1] + 1),
        "manifest.json",
        "class40_pixels totals",
    ),
}


@pytest.mark.parametrize("lie", MANIFEST_LIES, ids=list(MANIFEST_LIES))
def test_a_manifest_that_lies_does_not_pass(dataset, lie):
    change, name, fragment = MANIFEST_LIES[lie]
    manifest = json.loads((dataset / "manifest.json").read_text())
    change(manifest)
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    report = validate_path(dataset)
    assert not report.ok, f"validate passed a manifest whose {lie} lies"
    assert report.problems[0].name == name and fragment in report.problems[0].problem, report.problems


@pytest.mark.parametrize("listed", ["../outside.h5", "ABSOLUTE", "sub/room_00000.h5", "room_00000.h5/"])
def test_manifest_file_names_must_be_plain(dataset, listed, cli, one_line_error):
    """A manifest may list only plain file names of its own directory: never ../x.h5 or /etc/..."""
    outside = dataset.parent / "outside.h5"
    outside.write_bytes((dataset / "room_00000.h5").read_bytes())
    (dataset / "sub").mkdir()
    (dataset / "sub" / "room_00000.h5").write_bytes(outside.read_bytes())
    listed = str(outside) if listed == "ABSOLUTE" else listed
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["shards"][0]["file"] = listed
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="not a plain shard file name"):
        find_shards(dataset)
    report = validate_path(dataset)
    assert report.problems[0].name == "manifest.json" and "not a plain shard file name" in report.problems[0].problem
    one_line_error(cli("inspect", dataset), "not a plain shard file name")


# --- case 6: a small crafted shard must not make readers allocate gigabytes ----------------------
# (the crafted shards themselves, and frames of the largest images: test_hostile_shard_memory.py)


def redeclare(name: str, shape, dtype, **kwargs):
    def craft(f):
        del f[name]
        f.create_dataset(name, shape, dtype=dtype, **kwargs)

    return craft


# --- case 9: plain one-line answers ------------------------------------------------------------


@pytest.mark.parametrize("frame_count", [5, 1])
def test_inspect_refuses_a_shard_whose_frame_count_lies(tmp_path, cli, one_line_error, frame_count):
    path = write_shard(tmp_path / "room_00000.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["frame_count"] = frame_count
    reseal(path)
    one_line_error(cli("inspect", path), "room_00000.h5", f"frame_count says {frame_count} frames")


@pytest.mark.parametrize("content", ["empty", "unrelated files"])
def test_validate_says_plainly_a_directory_holds_no_dataset(tmp_path, cli, one_line_error, content):
    folder = tmp_path / "folder"
    folder.mkdir()
    if content == "unrelated files":
        (folder / "notes.txt").write_text("hello")
        (folder / "table.csv").write_text("a,b\n")
    line = one_line_error(cli("validate", folder), "holds no dataset")
    assert "did not finish" not in line


# --- memory: manifests and frames bounded by what the tool writes --------------------------------


def test_manifest_limit_bounds_parse_memory_and_holds_the_largest_generated_manifest():
    """manifest.json is at most 32 MiB (parsed, at most ~25x that), and the manifest of the largest run
    generate allows (MAX_ROOMS shards at MAX_FRAMES_PER_ROOM frames of the largest images) fits in it."""
    from synthcam.generate_config import MAX_FRAMES_PER_ROOM, MAX_ROOMS, shard_name
    from synthcam_core.camera import MAX_IMAGE_SIDE as LARGEST_GENERATED_SIDE
    from synthcam_shards.manifest import MAX_MANIFEST_BYTES

    assert MAX_MANIFEST_BYTES * 25 <= 1 << 30
    most_pixels = MAX_FRAMES_PER_ROOM * LARGEST_GENERATED_SIDE**2
    entry = {"class40_pixels": [most_pixels] * 41, "file": shard_name(MAX_ROOMS - 1), "frames": MAX_FRAMES_PER_ROOM}
    line = f"  {json.dumps(entry, sort_keys=True)},\n"  # as synthcam.output_dir.write_manifest writes a shard
    assert MAX_ROOMS * len(line) + (1 << 20) <= MAX_MANIFEST_BYTES  # 1 MiB for the head (config, names, totals)


def test_rooms_above_the_manifest_limit_are_refused(tmp_path, cli, one_line_error):
    from synthcam.generate_config import MAX_ROOMS

    assert MAX_ROOMS == 40_000
    one_line_error(
        cli("generate", "--rooms", 40_001, "--frames-per-room", 1, "--out", tmp_path / "out"),
        "rooms is 40001",
        "at most 40,000",
    )


def test_manifest_over_32_mib_is_refused_before_parsing(dataset, cli, one_line_error):
    (dataset / "manifest.json").write_text('"' + "x" * (32 << 20) + '"')
    line = one_line_error(cli("inspect", dataset), "larger than 32 MiB")
    assert "not a JSON object" not in line


def _out_of_memory(*args, **kwargs):
    raise MemoryError


def test_out_of_memory_reading_a_manifest_is_one_line(dataset, cli, one_line_error, monkeypatch):
    import types

    monkeypatch.setattr("synthcam_shards.manifest.json", types.SimpleNamespace(loads=_out_of_memory))
    for command in ("validate", "inspect"):
        line = one_line_error(cli(command, dataset), "not enough memory to read", "manifest.json")
        assert "damaged" not in line and "regenerate" not in line


def test_out_of_memory_reading_a_shard_header_is_one_line(dataset, cli, one_line_error, monkeypatch):
    monkeypatch.setattr("synthcam_shards.layout._read_header", _out_of_memory)
    shard = sorted(dataset.glob("*.h5"))[0]
    for command, path in (("validate", dataset), ("validate", shard), ("inspect", shard)):
        line = one_line_error(cli(command, path), "not enough memory to read", shard.name)
        assert "damaged" not in line and "regenerate" not in line


def test_shards_wider_than_generate_writes_are_refused(tmp_path, cli, one_line_error):
    """Sides above 4096 px (the most generate writes): the writer refuses them, readers refuse a shard
    declaring them."""
    with pytest.raises(ValueError, match="1 to 4096 pixels"):
        ShardWriter(tmp_path / "wide.h5", 1, Intrinsics.nyuv2().scaled(4097, 12), {"config": CONFIG}, SCENE)
    path = write_shard(tmp_path / "room_00000.h5")
    with h5py.File(path, "r+") as f:
        redeclare("depth", (2, 12, 4097), "<u2", chunks=(1, 12, 4097))(f)
    refused_everywhere(path, "1 to 4096 pixels")
    one_line_error(cli("inspect", path), "1 to 4096 pixels")
