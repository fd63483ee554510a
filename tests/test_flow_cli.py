"""``synthcam export flow`` and ``synthcam bench flow`` on tiny generated datasets, and their bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthcam.flow_files import read_flo, read_kitti_png
from synthcam_core.geometry.flow_np import FLOW_VALID
from synthcam_shards.shard_file import ShardFile


@pytest.fixture(scope="module")
def flow_data(tmp_path_factory):
    """2 rooms x 12 frames at 160x120, 25 Hz, with flow; and the same without flow."""
    from click.testing import CliRunner

    from cli.main import main

    out = {}
    for name, extra in (("flow", ["--flow"]), ("plain", [])):
        path = tmp_path_factory.mktemp(name)
        args = ["generate", "--rooms", "2", "--frames-per-room", "12", "--resolution", "160x120", "--seed", "5"]
        args += ["--frame-rate", "25", "--workers", "1", "--quiet", "--out", str(path)] + extra
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        out[name] = path
    return out


@pytest.mark.parametrize("fmt, reader", [("flo", read_flo), ("kitti", read_kitti_png)])
def test_export_writes_one_file_per_frame_with_a_next_frame(cli, flow_data, tmp_path, fmt, reader):
    result = cli("export", "flow", flow_data["flow"], "--out", tmp_path / "x", "--format", fmt, "--quiet")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "x").iterdir())
    assert len(files) == 2 * 11  # every frame but each trajectory's last
    assert files[0].name == f"room_00000_00000.{'flo' if fmt == 'flo' else 'png'}"
    flow, valid = reader(files[3])
    with ShardFile(flow_data["flow"] / "room_00000.h5") as shard:
        frame = shard.read_frame(3, ("flow", "flow_mask"))
    np.testing.assert_array_equal(valid, frame["flow_mask"] == FLOW_VALID)
    np.testing.assert_allclose(flow[valid], frame["flow"][valid], atol=1 / 128 + 1e-6)


def test_export_refuses_existing_files_without_overwrite(cli, flow_data, tmp_path, one_line_error):
    out = tmp_path / "x"
    out.mkdir()
    (out / "room_00000_00004.flo").write_text("mine")
    one_line_error(cli("export", "flow", flow_data["flow"], "--out", out), "--overwrite")
    assert (out / "room_00000_00004.flo").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["room_00000_00004.flo"]
    assert cli("export", "flow", flow_data["flow"], "--out", out, "--overwrite", "--quiet").exit_code == 0
    assert read_flo(out / "room_00000_00004.flo")[0].shape == (120, 160, 2)


def test_export_of_a_dataset_without_flow_is_one_line(cli, flow_data, tmp_path, one_line_error):
    one_line_error(
        cli("export", "flow", flow_data["plain"], "--out", tmp_path / "x"), "holds no optical flow", "--flow"
    )
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_export_unknown_format_is_one_line(cli, flow_data, tmp_path, one_line_error):
    one_line_error(cli("export", "flow", flow_data["flow"], "--out", tmp_path, "--format", "pfm"), "flo, kitti")


def test_bench_flow_reports_propagation_and_depth_warp(cli, flow_data, tmp_path):
    result = cli("bench", "flow", flow_data["flow"], "--quiet", "--json", tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    assert "label propagation" in result.output
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["frames"] == 24
    rows = {row["k"]: row for row in report["propagation"]}
    assert sorted(rows) == [1, 5, 10]
    assert rows[1]["pairs"] == 22 and rows[10]["pairs"] == 4
    assert rows[1]["accuracy"] >= 0.99
    assert report["depth_warp"]["median_mm"] < 1.0


def test_bench_flow_without_flow_is_one_line(cli, flow_data, one_line_error):
    one_line_error(cli("bench", "flow", flow_data["plain"]), "holds no optical flow")


@pytest.mark.parametrize("command", ["inspect", "preview", "export", "bench"])
def test_a_reader_of_the_old_version_refuses_a_flow_dataset_in_one_line(
    cli, flow_data, tmp_path, monkeypatch, one_line_error, command
):
    """A synthcam that reads only format version 2 (as every release before flow did) meets a --flow dataset."""
    from synthcam_shards import layout

    monkeypatch.setattr(layout, "READ_VERSIONS", (2,))
    args = {
        "inspect": ["inspect", flow_data["flow"]],
        "preview": ["preview", flow_data["flow"], "--out", tmp_path / "p"],
        "export": ["export", "flow", flow_data["flow"], "--out", tmp_path / "e"],
        "bench": ["bench", "flow", flow_data["flow"]],
    }[command]
    one_line_error(cli(*args), "version 3", "upgrade synthcam")
    assert cli("inspect", flow_data["plain"]).exit_code == 0  # version 2 datasets still read


def test_validate_of_the_old_version_names_each_flow_shard(cli, flow_data, monkeypatch):
    from synthcam_shards import layout

    monkeypatch.setattr(layout, "READ_VERSIONS", (2,))
    result = cli("validate", flow_data["flow"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("shard format version 3") == 2 and "upgrade synthcam" in result.output
