"""``synthcam realism`` on a tiny generated dataset against tiny real folders written in a tmp dir."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import main
from synthcam.realism import MEASURES

W, H = 80, 60


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("realism") / "gen"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--rooms",
            "1",
            "--frames-per-room",
            "2",
            "--resolution",
            f"{W}x{H}",
            "--renderer",
            "raycast",
            "--seed",
            "3",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def write_real(folder, frames, yaml: str | None = None):
    """Write (raw mm, filled mm or None, label13 or None) frames as NAME_raw/_depth/_label13 PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, (raw, filled, labels) in enumerate(frames):
        assert cv2.imwrite(str(folder / f"f{k}_raw.png"), raw)
        if filled is not None:
            assert cv2.imwrite(str(folder / f"f{k}_depth.png"), filled)
        if labels is not None:
            assert cv2.imwrite(str(folder / f"f{k}_label13.png"), labels)
    if yaml is not None:
        (folder / "intrinsics.yaml").write_text(yaml)
    return folder


@pytest.fixture(scope="module")
def own_frames(generated, tmp_path_factory):
    """The generated frames written as a real folder: raw = noisy, filled = clean, labels = class13."""
    from synthcam_shards.shard_file import ShardFile, find_shards

    frames = []
    for path in find_shards(generated):
        with ShardFile(path) as shard:
            k = shard.intrinsics
            for i in range(len(shard)):
                f = shard.read_frame(i, ("depth_mm", "depth_clean_mm", "class13"))
                frames.append((f["depth_mm"], f["depth_clean_mm"], f["class13"]))
    yaml = f"fx: {k.fx!r}\nfy: {k.fy!r}\ncx: {k.cx!r}\ncy: {k.cy!r}\n"
    return write_real(tmp_path_factory.mktemp("own") / "real", frames, yaml)


@pytest.fixture
def far_wall(tmp_path):
    """A real folder of one frame: a flat wall at 4 m, a fifth of it missing in a block."""
    raw = np.full((H, W), 4000, np.uint16)
    filled = raw.copy()
    raw[:, :16] = 0
    return write_real(tmp_path / "wall", [(raw, filled, None)])


def test_generated_frames_against_themselves_are_within_every_tolerance(cli, generated, own_frames, tmp_path):
    report, plots = tmp_path / "report.json", tmp_path / "plots"
    result = cli("realism", generated, "--real", own_frames, "--labels", "--json", report, "--plots", plots, "--check")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("generated: 2 frames 80x60 (noisy depth)")
    assert lines[2].split() == ["measure", "generated", "real", "distance", "tolerance", "ok"]
    assert [line.split()[0] for line in lines[4 : 4 + len(MEASURES)]] == list(MEASURES)
    data = json.loads(report.read_text())
    assert [row["distance"] for row in data["report"]["rows"]] == [0.0] * len(MEASURES)
    assert data["report"]["ok"] is True and data["generated"]["frames"] == data["real"]["frames"] == 2
    assert sorted(p.name for p in plots.iterdir()) == sorted([f"{name}.png" for name in MEASURES] + ["overview.png"])
    assert all(cv2.imread(str(p)) is not None for p in plots.iterdir())
    assert "realism" in result.stderr  # the progress bar


def test_check_exits_1_when_a_measure_is_outside_its_tolerance(cli, generated, far_wall, tmp_path):
    result = cli(
        "realism", generated, "--real", far_wall, "--intrinsics", "nyuv2", "--check", "--json", tmp_path / "r.json"
    )
    assert result.exit_code == 1, result.output
    rows = {row["measure"]: row for row in json.loads((tmp_path / "r.json").read_text())["report"]["rows"]}
    assert rows["missing"]["real"] == pytest.approx(100 * 16 / W)
    assert not rows["depth_histogram"]["ok"]
    assert "class_shares" not in rows  # no --labels
    without_check = cli("realism", generated, "--real", far_wall, "--intrinsics", "nyuv2")
    assert without_check.exit_code == 0 and "NO" in without_check.stdout


def test_max_frames_and_the_clean_depth(cli, generated, own_frames, tmp_path):
    result = cli(
        "realism",
        generated,
        "--real",
        own_frames,
        "--depth",
        "clean",
        "--real-depth",
        "filled",
        "--max-frames",
        "1",
        "--json",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("generated: 1 frames 80x60 (clean depth)")
    data = json.loads((tmp_path / "r.json").read_text())
    rows = {row["measure"]: row for row in data["report"]["rows"]}
    assert data["generated"]["frames"] == 1 and data["real"]["frames"] == 2
    assert rows["missing"]["generated"] == rows["missing"]["real"] == 0.0  # clean against filled: no holes
    assert rows["hole_sizes"]["distance"] == 0.0


def test_against_real_nyuv2_frames_with_their_three_labelled_frames(cli, generated, tmp_path, real_data):
    result = cli(
        "realism",
        generated,
        "--real",
        real_data / "nyuv2_train",
        "--real-depth",
        "filled",
        "--intrinsics",
        "nyuv2",
        "--labels",
        "--json",
        tmp_path / "r.json",
    )
    assert result.exit_code == 0, result.output
    assert "real:      12 frames 640x480 (filled depth)" in result.stdout
    assert "class shares of the real side from its 3 labelled frames of 12" in result.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert [row["measure"] for row in data["report"]["rows"]] == list(MEASURES)
    assert data["real"]["measures"]["class_shares"]["frames"] == [3]
    assert data["real"]["measures"]["missing"]["summary"] == 0.0  # filled depth has no holes


def test_bad_input_is_one_error_line(cli, one_line_error, generated, own_frames, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(cli("realism", generated, "--real", empty, "--intrinsics", "nyuv2"), "holds no raw depth PNGs")
    mixed = write_real(
        tmp_path / "mixed",
        [(np.full((H, W), 2000, np.uint16), None, None), (np.full((H + 2, W), 2000, np.uint16), None, None)],
    )
    one_line_error(cli("realism", generated, "--real", mixed, "--intrinsics", "nyuv2"), "mixes image sizes")
    eight = write_real(tmp_path / "eight", [(np.full((H, W), 200, np.uint8), None, None)])
    one_line_error(cli("realism", generated, "--real", eight, "--intrinsics", "nyuv2"), "8-bit PNG", "16-bit")
    one_line_error(cli("realism", empty, "--real", own_frames), "holds no shards")
    fake = tmp_path / "fake.h5"
    fake.write_bytes(b"not a shard at all" * 10)
    one_line_error(cli("realism", fake, "--real", own_frames), "fake.h5")
    one_line_error(cli("realism", tmp_path / "nowhere", "--real", own_frames), "does not exist")
    one_line_error(cli("realism", generated, "--real", own_frames.parent / "missing"), "does not exist")
    unlabelled = write_real(tmp_path / "unlabelled", [(np.full((H, W), 2000, np.uint16), None, None)])
    one_line_error(
        cli("realism", generated, "--real", unlabelled, "--intrinsics", "nyuv2", "--labels"),
        "holds no 13-class labels",
        "drop --labels",
    )
    one_line_error(
        cli("realism", generated, "--real", own_frames, "--json", tmp_path / "no" / "r.json"),
        "--json",
        "does not exist",
    )
    one_line_error(cli("realism", generated, "--real", own_frames, "--json", empty), "--json", "is a directory")
    one_line_error(
        cli("realism", generated, "--real", own_frames, "--plots", fake / "plots"), "--plots", "cannot be created"
    )
    one_line_error(cli("realism", generated, "--real", own_frames, "--real-depth", "smooth"), "--real-depth")
    one_line_error(cli("realism", generated, "--real", own_frames, "--max-frames", "0"), "--max-frames")
    one_line_error(cli("realism", generated, "--real", unlabelled, "--intrinsics", "1,2"), "fx,fy,cx,cy")
    one_line_error(cli("realism", generated, "--real", unlabelled), "intrinsics.yaml")


def test_help_names_every_measure_and_its_summary(cli):
    from synthcam.realism.stats import SUMMARY_TEXT

    result = cli("realism", "--help")
    assert result.exit_code == 0
    text = "".join(result.output.split())  # wrapping may break a line at any space or hyphen
    for name, summary in SUMMARY_TEXT.items():
        assert (
            "".join(f"{name} ({summary})".split()) in text
            or "".join(f"{name} with --labels ({summary})".split()) in text
        ), name
