"""``synthcam fuse``: a shard or a folder of real depth PNGs to a labelled PLY, a top-down picture and
per-frame fused labels; --json, --quiet; every bad input one ``error:`` line; an interrupted run leaves no PLY."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthcam_shards.shard_file import ShardFile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_RUN = "--model segnet-basic --model-width 0.25 --height 24 --width 32 --batch-size 2 --encoding DH --epochs 1"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One generated room of six 80x60 frames, and a 13-class checkpoint trained on it for one tiny epoch."""
    from click.testing import CliRunner

    from cli.main import main

    base = tmp_path_factory.mktemp("fuse")
    run = CliRunner().invoke(
        main,
        "generate --rooms 1 --frames-per-room 6 --resolution 80x60 --frame-rate 25 --renderer raycast "
        f"--workers 1 --quiet --out {base / 'data'}".split(),
    )
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(
        main,
        f"train --data {base / 'data'} {TINY_RUN} --val-fraction 0 --no-tensorboard --quiet "
        f"--out {base / 'run'}".split(),
    )
    assert run.exit_code == 0, run.output
    return base / "data", base / "run" / "last.pt"


def real_sequence(data, folder):
    """The shard's clean depth as uint16 PNGs with intrinsics.yaml, and a TUM file of its poses."""
    import cv2

    from segnet.fusion.tum import write_tum

    folder.mkdir()
    shard = ShardFile(data / "room_00000.h5")
    k = shard.intrinsics
    (folder / "intrinsics.yaml").write_text(f"fx: {k.fx!r}\nfy: {k.fy!r}\ncx: {k.cx!r}\ncy: {k.cy!r}\n")
    for i in range(len(shard)):
        cv2.imwrite(str(folder / f"{i:04d}.png"), shard.read_frame(i, ("depth_clean_mm",))["depth_clean_mm"])
    return write_tum(folder.parent / "poses.txt", shard.timestamps, shard.poses)


def test_ground_truth_and_clean_depth(data, cli, tmp_path):
    shards, _ = data
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = cli("fuse", shards, "--depth", "clean", "--out", out, "--quiet", "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert "fused 6 frames" in result.output and "accuracy vs ground truth" in result.output
    assert (out / "notes.txt").read_text() == "mine"  # nothing removed
    assert (out / "fused.ply").read_bytes().startswith(b"ply\n") and (out / "topdown.png").is_file()
    assert sorted(p.name for p in (out / "labels").iterdir()) == [f"{i:05d}.png" for i in range(6)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads((tmp_path / "s.json").read_text())
    assert summary["frames"] == 6 and summary["voxel_size"] == 0.02 and summary["labels"] == "truth"
    assert summary["input_accuracy"] == 1.0 and summary["fused_accuracy"] > 0.9
    assert [r["index"] for r in summary["per_frame"]] == list(range(6))
    assert all(r["fused_accuracy"] > 0.8 and r["fused_coverage"] > 0.5 for r in summary["per_frame"])
    assert not [p for p in out.rglob("*") if "partial" in p.name]
    import cv2

    picture = cv2.imread(str(out / "labels" / "00000.png"))
    assert picture.shape == (60, 80, 3)


def test_checkpoint_predictions_json_to_standard_output(data, cli, tmp_path):
    shards, checkpoint = data
    args = ("fuse", shards / "room_00000.h5", "--labels", checkpoint, "--frames", "2", "--voxel-size", "0.05")
    result = cli(*args, "--out", tmp_path / "out", "--quiet", "--json", "-")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON on standard output
    assert summary["frames"] == 2 and summary["labels"] == str(checkpoint) and summary["classes"] == 13
    assert summary["trunc"] == pytest.approx(0.2) and 0.0 <= summary["input_accuracy"] <= 1.0
    assert "fused 2 frames" in result.stderr


def test_progress_bar_unless_quiet(data, cli, tmp_path):
    shards, _ = data
    loud = cli("fuse", shards, "--frames", "2", "--voxel-size", "0.05", "--out", tmp_path / "a")
    assert loud.exit_code == 0, loud.output
    assert "fuse" in loud.stderr and "frames" in loud.stderr
    quiet = cli("fuse", shards, "--frames", "2", "--voxel-size", "0.05", "--out", tmp_path / "b", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_real_depth_pngs_with_a_tum_trajectory(data, cli, tmp_path):
    shards, checkpoint = data
    poses = real_sequence(shards, tmp_path / "seq")
    args = ("fuse", tmp_path / "seq", "--poses", poses, "--labels", checkpoint, "--voxel-size", "0.05")
    result = cli(*args, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["kind"] == "real" and summary["frames"] == 6 and summary["fused_accuracy"] is None
    assert len(list((tmp_path / "out" / "labels").iterdir())) == 6


def test_a_real_folder_bad_inputs(data, cli, one_line_error, tmp_path):
    from segnet.fusion.tum import read_tum, write_tum

    shards, checkpoint = data
    poses = real_sequence(shards, tmp_path / "seq")
    whole = read_tum(poses)
    short = write_tum(tmp_path / "short.txt", whole.timestamps[:5], whole.poses[:5])
    base = ("fuse", tmp_path / "seq", "--labels", checkpoint)
    one_line_error(cli(*base, "--poses", short, "--out", tmp_path / "o"), "holds 5 poses", "holds 6 depth frames")
    one_line_error(cli(*base, "--out", tmp_path / "o"), "pass its camera poses with --poses")
    one_line_error(cli(*base, "--poses", poses, "--out", tmp_path / "seq"), "is the input folder")
    one_line_error(cli(*base, "--poses", poses, "--depth", "clean", "--out", tmp_path / "o"), "--depth applies to")
    one_line_error(cli("fuse", tmp_path / "seq", "--poses", poses, "--out", tmp_path / "o"), "no ground-truth labels")
    assert not (tmp_path / "o" / "fused.ply").exists()


def write_shard(path, pose):
    """A two-frame 40x30 shard in which every frame has ``pose``."""
    from synthcam_core.camera import Intrinsics
    from synthcam_shards.writer import ShardWriter

    depth = np.ones((30, 40), np.float32)
    with ShardWriter(path, 2, Intrinsics.nyuv2().scaled(40, 30), {"seed": 0}, {"objects": []}) as w:
        for i in range(2):
            w.write(i, depth, depth, np.ones((30, 40), np.uint8), np.zeros((30, 40), np.uint16), pose, i / 25)
        w.close()
    return path


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--voxel-size", "0"), ("--voxel-size must be in (0, 0.5]", "got 0.0")),
        (("--voxel-size", "-0.01"), ("--voxel-size must be in",)),
        (("--voxel-size", "0.6"), ("--voxel-size must be in",)),
        (("--voxel-size", "nan"), ("--voxel-size must be in",)),
        (("--trunc", "0.03"), ("--trunc must be at least 2 voxels (0.04 m",)),
        (("--classes", "40", "--labels", "CHECKPOINT"), ("predicts 13 classes but --classes is 40",)),
        (("--labels", "missing.pt"), ("--labels missing.pt does not exist",)),
        (("--shard", "room_7.h5"), ("'room_7.h5' is not a shard of",)),
        (("--poses", "p.txt"), ("leave out --poses",)),
        (("--real-depth", "filled"), ("--real-depth applies to a folder of real depth PNGs",)),
        (("--frames", "0"), ("--frames",)),
    ],
)
def test_bad_options(data, cli, one_line_error, tmp_path, args, fragments):
    shards, checkpoint = data
    args = tuple(str(checkpoint) if a == "CHECKPOINT" else a for a in args)
    one_line_error(cli("fuse", shards, "--out", tmp_path / "out", *args), *fragments)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_bad_paths_and_shards(cli, one_line_error, tmp_path):
    one_line_error(cli("fuse", tmp_path / "missing", "--out", tmp_path / "o"), "does not exist")
    zero = write_shard(tmp_path / "zero.h5", np.zeros((4, 4)))
    one_line_error(cli("fuse", zero, "--out", tmp_path / "o"), "holds no camera poses")
    skew = np.eye(4)
    skew[0, 1] = 0.5
    sheared = write_shard(tmp_path / "sheared.h5", skew)
    one_line_error(cli("fuse", sheared, "--out", tmp_path / "o"), "pose of frame 0 is not rigid")
    nan = write_shard(tmp_path / "nan.h5", np.full((4, 4), np.nan))
    one_line_error(cli("fuse", nan, "--out", tmp_path / "o"), "holds NaN or infinite values")


def test_an_interrupted_fuse_leaves_no_ply(data, cli, tmp_path, monkeypatch):
    from segnet.fusion import volume

    shards, _ = data
    integrate = volume.LabelFusion.integrate
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return integrate(self, *args, **kwargs)

    monkeypatch.setattr(volume.LabelFusion, "integrate", interrupted)
    out = tmp_path / "out"
    result = cli("fuse", shards, "--out", out, "--quiet")
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not (out / "fused.ply").exists() and not [p for p in out.rglob("*") if p.is_file()]
