"""Hostile config files: ``--config`` never runs code from a YAML tag, and a ``config.yaml`` in an output or
run directory that synthcam did not write (a link, a user's file) is never followed, replaced or removed."""

from __future__ import annotations

import os

import pytest

from synthcam_core.config_file import CONFIG_NAME, is_written_config

GEN = ["--rooms", "1", "--frames-per-room", "2", "--resolution", "64x48", "--renderer", "raycast", "--workers", "1"]


@pytest.mark.parametrize("command", ["generate", "train"])
def test_a_python_tag_in_a_config_file_runs_nothing(cli, one_line_error, tmp_path, command):
    marker = tmp_path / "MARKER"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'rooms: !!python/object/apply:os.system ["touch {marker}"]\nframes_per_room: 1\n')
    one_line_error(cli(command, "--config", spec, "--out", tmp_path / "out"), str(spec), "python/object/apply")
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_config_yaml_link_is_neither_followed_nor_removed(cli, one_line_error, tmp_path, overwrite):
    first = tmp_path / "first"
    assert cli("generate", *GEN, "--out", first).exit_code == 0
    target = first / CONFIG_NAME  # a config synthcam wrote, elsewhere
    before = target.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(target, out / CONFIG_NAME)
    assert is_written_config(out / CONFIG_NAME) is False
    extra = ["--overwrite"] if overwrite else []
    one_line_error(cli("generate", *GEN, *extra, "--out", out), CONFIG_NAME)
    assert os.path.islink(out / CONFIG_NAME) and target.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [CONFIG_NAME]


def test_overwrite_replaces_only_the_config_synthcam_wrote(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("generate", *GEN, "--seed", "1", "--out", out).exit_code == 0
    (out / "notes.yaml").write_text("rooms: 9\n")  # a user's file beside it
    assert cli("generate", *GEN, "--seed", "2", "--overwrite", "--out", out).exit_code == 0
    assert "seed: 2\n" in (out / CONFIG_NAME).read_text() and (out / "notes.yaml").read_text() == "rooms: 9\n"
