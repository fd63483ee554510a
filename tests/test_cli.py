import json

import pytest
from click.testing import CliRunner

from cli.main import main

SMALL = ["--rooms", "2", "--frames-per-room", "3", "--resolution", "64x48", "--seed", "4"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    result = CliRunner().invoke(main, ["generate", *SMALL, "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out, result


def test_help_and_version():
    runner = CliRunner()
    for args in ([], ["generate"], ["inspect"], ["preview"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and "synthcam, version" in result.output


def test_generate_writes_shards_and_reports_rate(dataset):
    out, result = dataset
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "manifest.json", "room_00000.h5", "room_00001.h5"]
    assert "wrote 2 shards (6 frames, 64x48)" in result.output and "frames/s" in result.output


def test_inspect_directory_and_json(dataset):
    out, _ = dataset
    result = CliRunner().invoke(main, ["inspect", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    for fragment in (
        "room_00000.h5: 3 frames",
        "depth ",
        "(3, 48, 64)",
        "uint16",
        "zstd",
        "class40 ",
        "uint8",
        "invalid",
        "seed 4",
        "wall",
        '"rooms": 2',
        "class pixels over 2 shard(s), 6 frames",
    ):
        assert fragment in text, fragment
    result = CliRunner().invoke(main, ["inspect", str(out / "room_00001.h5"), "--json", "-"])
    data = json.loads(result.output)
    assert data[0]["frames"] == 3 and data[0]["attrs"]["seed"] == 4 and data[0]["class_pixels"]["wall"] > 0
    assert 0 <= data[0]["depth"]["depth"]["invalid_fraction"] < 1


def test_preview_writes_pngs(dataset, tmp_path):
    out, _ = dataset
    result = CliRunner().invoke(main, ["preview", str(out), "--out", str(tmp_path / "png"), "--frames", "2"])
    assert result.exit_code == 0, result.output
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert len(pngs) == 4 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_inspect_json_to_a_file(dataset, tmp_path):
    out, _ = dataset
    target = tmp_path / "summary.json"
    result = CliRunner().invoke(main, ["inspect", str(out), "--json", str(target)])
    assert result.exit_code == 0 and result.output == f"wrote {target}\n", result.output
    assert [s["frames"] for s in json.loads(target.read_text())] == [3, 3]


def test_bad_inputs(tmp_path, dataset, one_line_error):
    runner = CliRunner()
    out = str(tmp_path / "o")
    one_line_error(
        runner.invoke(main, ["generate", *SMALL, "--out", out, "--noise", "kinect_v9"]),
        "unknown noise preset 'kinect_v9'",
        "none, kinect_v1",
        "--noise",
    )
    one_line_error(
        runner.invoke(main, ["generate", "--rooms", "0", "--frames-per-room", "3", "--out", out]),
        "rooms must be at least 1",
    )
    one_line_error(
        runner.invoke(main, ["generate", "--rooms", "1", "--frames-per-room", "-2", "--out", out]),
        "frames-per-room must be at least 1",
    )
    one_line_error(
        runner.invoke(main, ["generate", *SMALL, "--out", out, "--workers", "0"]), "workers must be at least 1"
    )
    one_line_error(
        runner.invoke(main, ["generate", *SMALL, "--out", out, "--noise-param", "disparity.sigma=2"]),
        "disparity.sigma_units",
    )
    one_line_error(runner.invoke(main, ["generate", *SMALL[:4], "--resolution", "big", "--out", out]), "WIDTHxHEIGHT")
    one_line_error(
        runner.invoke(main, ["generate", "--rooms", "x", "--frames-per-room", "3", "--out", out]),
        "'x' is not a valid integer",
        "--help",
    )
    assert not (tmp_path / "o").exists()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    one_line_error(
        runner.invoke(main, ["generate", *SMALL, "--out", str(blocker / "sub")]),
        "cannot write to output directory",
        "--out",
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    one_line_error(runner.invoke(main, ["inspect", str(notes)]), "not an HDF5 file")
    one_line_error(runner.invoke(main, ["inspect", str(tmp_path / "nothing")]), "does not exist")
    one_line_error(runner.invoke(main, ["preview", str(notes), "--out", str(tmp_path / "p")]), "not an HDF5 file")
    one_line_error(runner.invoke(main, ["frobnicate"]), "No such command")


def test_the_command_loads_no_heavy_library_before_a_command_runs():
    """``synthcam --help`` stays quick: importing the command module loads none of trimesh, SciPy, Open3D,
    torch or matplotlib (the commands import what they need when they run)."""
    import subprocess
    import sys

    code = (
        "import sys, cli.main; heavy = ('trimesh', 'scipy', 'open3d', 'torch', 'matplotlib', 'h5py', 'numpy'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_generate_quiet_prints_no_progress_bar(cli, tmp_path):
    args = ("generate", "--rooms", "1", "--frames-per-room", "2", "--resolution", "64x48", "--renderer", "raycast")
    loud = cli(*args, "--out", tmp_path / "a")
    quiet = cli(*args, "--quiet", "--out", tmp_path / "b")
    assert loud.exit_code == quiet.exit_code == 0, (loud.output, quiet.output)
    assert "frames/s]" in loud.stderr and "frames/s]" not in quiet.stderr  # tqdm's rate field
    assert quiet.stdout.startswith("wrote 1 shards (2 frames, 64x48)")
