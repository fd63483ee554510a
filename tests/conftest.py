"""Shared helpers: tiny scenes built in code, small cameras."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from scene_library import Room, Scene, SceneObject
from scene_library.objects.base import box
from synthcam_core.camera import Intrinsics


def make_scene(boxes: list[tuple[str, int, trimesh.Trimesh]], size=(4.0, 3.0, 2.5)) -> Scene:
    """A scene of the given labelled meshes with instance ids 1, 2, ... in order."""
    objects = tuple(SceneObject(mesh=m, class40=c, instance_id=i + 1, name=n) for i, (n, c, m) in enumerate(boxes))
    return Scene(room=Room("test", size, np.zeros((0, 4))), objects=objects)


def wall_scene(distance: float = 2.0, width: float = 20.0) -> Scene:
    """A single large wall (class 1) whose face is the plane y = distance."""
    return make_scene([("wall", 1, box((width, 0.2, 20.0), (0.0, distance + 0.1, 0.0)))])


@pytest.fixture
def small_camera() -> Intrinsics:
    return Intrinsics.nyuv2().scaled(160, 120)


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread: CI's cores are shared, and tiny convolutions gain nothing from more."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def flip_frame_byte():
    """``flip_frame_byte(shard, frame=0)``: flip one byte inside frame ``frame``'s stored (compressed)
    depth chunk of a shard file; the header stays readable, only that frame's data is damaged."""

    def flip(shard, frame: int = 0) -> None:
        import h5py

        with h5py.File(shard, "r") as f:
            info = f["depth"].id.get_chunk_info_by_coord((frame, 0, 0))
        data = bytearray(shard.read_bytes())
        data[info.byte_offset + info.size // 2] ^= 0x40
        shard.write_bytes(bytes(data))

    return flip


def assert_one_line_error(result, *fragments: str) -> str:
    """Bad input handled: exit 2, a single ``error:`` line containing every fragment, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def cli():
    """``cli(*args)``: run the ``synthcam`` command in this process (click's runner); the result."""
    from click.testing import CliRunner

    from cli.main import main

    def run(*args: str, **kwargs):
        return CliRunner().invoke(main, [str(a) for a in args], **kwargs)

    return run


@pytest.fixture
def one_line_error():
    """``one_line_error(result, *fragments)``: assert a CLI result is one ``error:`` line, exit 2."""
    return assert_one_line_error


REAL_DATA = Path(
    os.environ.get("SYNTHCAM_REAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
)
"""The real sensor frames the project measures against: ``../shared/data/real`` beside the checkout (read in
place, never copied into the repository; ``SYNTHCAM_REAL_DATA`` names another place)."""


@pytest.fixture(scope="session")
def real_data() -> Path:
    """:data:`REAL_DATA`, failing (never skipping) when the real frames are not there."""
    if not (REAL_DATA / "nyuv2_train").is_dir():
        pytest.fail(
            f"the real frames are missing: {REAL_DATA}/nyuv2_train does not exist (the checkout must sit beside "
            "shared/, or SYNTHCAM_REAL_DATA must name the folder)"
        )
    return REAL_DATA


@pytest.fixture(name="make_scene")
def make_scene_fixture():
    """``make_scene(boxes, size=...)``: :func:`make_scene` as a fixture (tests do not import conftest)."""
    return make_scene


@pytest.fixture(name="wall_scene")
def wall_scene_fixture():
    """``wall_scene(distance=2.0, width=20.0)``: :func:`wall_scene` as a fixture."""
    return wall_scene
