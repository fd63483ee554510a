"""A missing optional package (the ``gl``, ``pyrender``, ``ray`` and ``train`` extras) is one error line that names the
extra which installs it, from the library and from ``synthcam generate``."""

from __future__ import annotations

import importlib
import sys

import pytest

from synthcam_core.extras import MissingExtraError, require

TINY = ["--rooms", "1", "--frames-per-room", "2", "--resolution", "64x48", "--workers", "1"]


def _uninstall(monkeypatch, top: str) -> None:
    """As if package ``top`` were not installed: it and its loaded submodules are None in ``sys.modules``,
    so importing any of them raises ModuleNotFoundError."""
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")] + [top]:
        monkeypatch.setitem(sys.modules, name, None)


def test_a_none_module_is_a_missing_module_that_require_names(monkeypatch):
    _uninstall(monkeypatch, "ray")
    with pytest.raises(ModuleNotFoundError) as raised:
        importlib.import_module("ray")
    assert raised.value.name == "ray"
    with pytest.raises(MissingExtraError, match=r"pip install 'synthcam3d\[ray\]'"):
        require("ray", "ray", "--ray-address")


def test_missing_pyopengl_names_the_gl_extra(monkeypatch, cli, one_line_error, tmp_path):
    from synthcam.egl import import_gl

    _uninstall(monkeypatch, "OpenGL")
    with pytest.raises(MissingExtraError, match=r"gl renderer needs the optional package 'OpenGL'.*synthcam3d\[gl\]"):
        import_gl()
    one_line_error(cli("generate", *TINY, "--renderer", "gl", "--out", tmp_path / "out"), "synthcam3d[gl]")


def test_missing_pyrender_names_the_pyrender_extra(monkeypatch, cli, one_line_error, tmp_path):
    _uninstall(monkeypatch, "pyrender")
    one_line_error(
        cli("generate", *TINY, "--renderer", "pyrender", "--out", tmp_path / "out"),
        "the pyrender renderer",
        "synthcam3d[pyrender]",
    )


def test_missing_pyopengl_for_pyrender_names_the_pyrender_extra(monkeypatch, cli, one_line_error, tmp_path):
    _uninstall(monkeypatch, "OpenGL")
    one_line_error(cli("generate", *TINY, "--renderer", "pyrender", "--out", tmp_path / "out"), "synthcam3d[pyrender]")


def test_missing_ray_names_the_ray_extra(monkeypatch, cli, one_line_error, tmp_path):
    _uninstall(monkeypatch, "ray")
    one_line_error(
        cli("generate", *TINY, "--ray-address", "local", "--out", tmp_path / "out"), "--ray-address", "synthcam3d[ray]"
    )


def test_missing_tensorboard_names_the_train_extra_and_no_tensorboard_trains(
    monkeypatch, cli, one_line_error, tmp_path
):
    _uninstall(monkeypatch, "tensorboard")
    for name in [n for n in sys.modules if n.startswith("torch.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, it meets the missing package
    args = [
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-frames",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--height",
        "32",
        "--width",
        "32",
        "--model",
        "segnet-basic",
        "--model-width",
        "0.125",
        "--no-balance",
        "--val-fraction",
        "0",
        "--quiet",
    ]
    one_line_error(cli(*args, "--out", tmp_path / "with"), "synthcam3d[train]")
    assert not (tmp_path / "with" / "last.pt").exists()
    result = cli(*args, "--no-tensorboard", "--out", tmp_path / "without")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "without" / "last.pt").exists() and not (tmp_path / "without" / "tb").exists()
