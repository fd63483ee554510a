"""The GL backends (``gl``, ``pyrender``) against ray casting and exact expectations; ``auto``; errors.

They run on Mesa's llvmpipe through EGL here, the same code path as NVIDIA EGL on a GPU.
"""

import sys

import numpy as np
import pytest

from scene_library import generate_room
from scene_library.objects.base import box
from synthcam import egl, render_gl
from synthcam.render import choose_renderer, make_renderer
from synthcam.render_gl import GLRenderer, opencv_projection
from synthcam.render_pyrender import PyrenderRenderer
from synthcam.render_raycast import RaycastRenderer
from synthcam_core.camera import Intrinsics, look_at
from synthcam_core.errors import SynthcamError
from synthcam_core.geometry.rays import pixel_rays
from synthcam_core.geometry.surface import incidence_from_normals, normals_from_depth

FORWARD_Y = look_at(np.zeros(3), np.array([0.0, 1.0, 0.0]))
GL_BACKENDS = [GLRenderer, PyrenderRenderer]


def agreement(a, b) -> tuple[float, float, float]:
    """Median |depth difference| in metres over pixels valid in both, and class / instance agreement."""
    both = (a.depth > 0) & (b.depth > 0)
    assert both.mean() > 0.5
    return (
        float(np.median(np.abs(a.depth - b.depth)[both])),
        float((a.class40 == b.class40).mean()),
        float((a.instance == b.instance).mean()),
    )


def normal_angles(a, b, mask) -> np.ndarray:
    """Degrees between the two frames' normals at the ``mask`` pixels (normalised first)."""
    na = a.normals[mask] / np.linalg.norm(a.normals[mask], axis=1, keepdims=True)
    nb = b.normals[mask] / np.linalg.norm(b.normals[mask], axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(na * nb, axis=1), -1.0, 1.0)))


@pytest.fixture(scope="module")
def room_views():
    """A generated room and three views into it from inside, at 160x120."""
    scene = generate_room(np.random.default_rng(3))
    sx, sy, _ = scene.room.size
    eye = np.array([0.5 * sx, 0.5 * sy, 1.4])
    poses = [look_at(eye, np.array([tx * sx, ty * sy, 0.9])) for tx, ty in ((0.05, 0.1), (0.95, 0.5), (0.4, 0.98))]
    return scene, Intrinsics.nyuv2().scaled(160, 120), poses


@pytest.mark.parametrize("backend", GL_BACKENDS)
def test_wall_two_metres_ahead_reads_two_metres(backend, wall_scene):
    cam = Intrinsics(640, 480, 500.0, 500.0, 320.0, 240.0)
    frame = backend(wall_scene(2.0), cam, nthreads=1).render(FORWARD_Y)
    assert np.allclose(frame.depth, 2.0, atol=1e-4)  # z-depth, corners included
    assert np.all(frame.class40 == 1) and np.all(frame.instance == 1)
    assert np.allclose(frame.normals[..., 2], -1.0, atol=1e-4)  # the wall faces the camera


@pytest.mark.parametrize("backend", GL_BACKENDS)
def test_tiny_scene_agrees_with_ray_casting(backend, small_camera, make_scene):
    scene = make_scene(
        [
            ("wall", 1, box((20.0, 0.2, 20.0), (0.0, 3.1, 0.0))),
            ("cube", 29, box((0.4, 0.4, 0.4), (-0.3, 1.5, 0.2))),
            ("floor", 2, box((20.0, 20.0, 0.1), (0.0, 0.0, -0.6))),
        ]
    )
    ref = RaycastRenderer(scene, small_camera, nthreads=1).render(FORWARD_Y)
    frame = backend(scene, small_camera, nthreads=1).render(FORWARD_Y)
    d, c, i = agreement(ref, frame)
    assert d <= 1e-4 and c >= 0.999 and i >= 0.999
    assert np.array_equal(ref.depth == 0, frame.depth == 0) or np.mean((ref.depth == 0) != (frame.depth == 0)) < 1e-3


def near_edges(frame, radius: int) -> np.ndarray:
    """(H, W) bool: pixels within ``radius`` px of another instance or of a depth jump over 5 cm."""
    edges = np.zeros(frame.depth.shape, dtype=bool)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            inst = np.roll(frame.instance, (dy, dx), axis=(0, 1))
            depth = np.roll(frame.depth, (dy, dx), axis=(0, 1))
            edges |= (inst != frame.instance) | (np.abs(depth - frame.depth) > 0.05 * max(abs(dy), abs(dx), 1))
    return edges


@pytest.mark.parametrize("backend", GL_BACKENDS)
def test_generated_room_agrees_with_ray_casting(backend, room_views):
    scene, cam, poses = room_views
    raycast, other = RaycastRenderer(scene, cam, nthreads=1), backend(scene, cam, nthreads=1)
    for pose in poses:
        ref, frame = raycast.render(pose), other.render(pose)
        d, c, i = agreement(ref, frame)
        assert d <= 1e-4, f"median depth difference {d * 1e3:.3f} mm"
        assert c >= 0.999 and i >= 0.999, (c, i)
        same = (ref.instance == frame.instance) & (ref.depth > 0)
        angles = normal_angles(ref, frame, same & (np.linalg.norm(frame.normals, axis=-1) > 0))
        if backend is GLRenderer:  # per-face normals, exact
            assert np.percentile(angles, 99.9) < 0.5
        else:  # derived from depth: off only within a few pixels of an object or depth edge
            interior = same & (np.linalg.norm(frame.normals, axis=-1) > 0) & ~near_edges(ref, radius=2)
            assert np.median(angles) < 0.5 and np.mean(normal_angles(ref, frame, interior) > 10) < 0.05


def test_z_colour_fallback_agrees_with_reversed_z(room_views, monkeypatch):
    """Contexts without glClipControl write z as a colour; both paths give the same frames (to float
    precision) and agree with ray casting."""
    scene, cam, poses = room_views
    reversed_z = GLRenderer(scene, cam, nthreads=1)
    monkeypatch.setenv("SYNTHCAM_GL_Z_COLOUR", "1")
    colour = GLRenderer(scene, cam, nthreads=1)
    assert reversed_z.reversed_z and not colour.reversed_z  # Mesa llvmpipe offers OpenGL 4.5
    raycast = RaycastRenderer(scene, cam, nthreads=1)
    for pose in poses:
        a, b = reversed_z.render(pose, incidence=True), colour.render(pose, incidence=True)
        ref = raycast.render(pose)
        assert np.array_equal(a.depth == 0, b.depth == 0) and np.mean(a.instance == b.instance) > 0.9999
        same = (a.instance == b.instance) & (a.depth > 0)
        assert np.mean(np.abs(a.incidence - b.incidence)[same] < 1e-4) > 0.999  # edges between faces may differ
        assert np.max(np.abs(a.depth - b.depth)[same] / b.depth[same]) < 1e-3
        for frame in (a, b):
            d, c, i = agreement(ref, frame)
            assert d <= 1e-5 and c >= 0.999 and i >= 0.999


def test_reversed_z_projection_puts_near_over_z_in_the_depth_buffer():
    cam = Intrinsics(8, 6, 5.0, 4.0, 3.7, 2.2)
    for z in (render_gl.Z_NEAR, 0.5, 4.0, 1e4):
        clip = render_gl.reversed_z_projection(cam) @ np.array([0.3 * z, -0.2 * z, z, 1.0])
        assert np.isclose(clip[2] / clip[3], render_gl.Z_NEAR / z)  # window depth with a [0, 1] clip range
        window = (clip[:2] / clip[3] + 1) / 2 * [cam.width, cam.height]
        assert np.allclose(window, [cam.fx * 0.3 + cam.cx, cam.fy * -0.2 + cam.cy])


@pytest.mark.parametrize("objects", [5, 300])
def test_label_lookup_by_object_matches_the_triangle_tables(objects, make_scene):
    """Up to 255 objects the labels come from a 1-byte object index and two small tables; beyond, from
    the per-triangle tables; both give what the per-triangle tables say."""
    scene = make_scene(
        [(f"box{i}", 1 + i % 40, box((0.1, 0.1, 0.1), (0.2 * (i % 20), 2.0, 0.2 * (i // 20)))) for i in range(objects)]
    )
    tris = render_gl.SceneTriangles.of(scene)
    assert (tris.labels_by_object is not None) == (objects <= 255)
    ids = np.random.default_rng(1).integers(0, len(tris.class40), (30, 40)).astype(np.uint32)
    ids[0, :5] = 0  # missed pixels
    class40, instance = tris.labels(ids)
    assert class40.dtype == np.uint8 and instance.dtype == np.uint16
    assert np.array_equal(class40, tris.class40[ids]) and np.array_equal(instance, tris.instance[ids])
    assert np.all(class40[0, :5] == 0) and np.all(instance[0, :5] == 0)


def test_projection_maps_pixel_centres_like_opencv():
    cam = Intrinsics(8, 6, 5.0, 4.0, 3.7, 2.2)
    point = np.array([0.3, -0.2, 2.0, 1.0])
    clip = opencv_projection(cam) @ point
    ndc = clip[:3] / clip[3]
    window = (ndc[:2] + 1) / 2 * [cam.width, cam.height]
    assert np.allclose(window, [cam.fx * 0.3 / 2 + cam.cx, cam.fy * -0.2 / 2 + cam.cy])
    assert np.isclose(
        ndc[2], -1.0 + 2 * (1 / render_gl.Z_NEAR - 1 / 2.0) / (1 / render_gl.Z_NEAR - 1 / render_gl.Z_FAR)
    )


def test_miss_is_invalid_and_void_and_no_normals_on_request(small_camera, make_scene):
    scene = make_scene([("cube", 3, box((0.2, 0.2, 0.2), (0.0, 2.0, 0.0)))])
    frame = GLRenderer(scene, small_camera, nthreads=1).render(FORWARD_Y, normals=False)
    miss = frame.instance == 0
    assert miss.any() and (~miss).any()
    assert np.all(frame.depth[miss] == 0) and np.all(frame.class40[miss] == 0) and np.all(frame.class40[~miss] == 3)
    assert frame.normals is None


def test_frames_of_one_gl_renderer_do_not_share_memory(room_views):
    # The triangle ids are read back into one buffer per renderer; what a frame holds must not change later.
    scene, cam, poses = room_views
    renderer = GLRenderer(scene, cam, nthreads=1)
    first = renderer.render(poses[0])
    kept = [first.depth.copy(), first.class40.copy(), first.instance.copy(), first.normals.copy()]
    second = renderer.render(poses[1])
    assert not np.array_equal(second.instance, first.instance)
    for array, copy in zip((first.depth, first.class40, first.instance, first.normals), kept):
        assert np.array_equal(array, copy)
    again = GLRenderer(scene, cam, nthreads=1).render(poses[0])
    assert np.array_equal(again.instance, first.instance) and np.array_equal(again.normals, first.normals)


def test_gl_renderers_share_the_context_and_survive_pyrender_in_between(small_camera, wall_scene):
    first = GLRenderer(wall_scene(2.0), small_camera, nthreads=1)
    before = first.render(FORWARD_Y)
    PyrenderRenderer(wall_scene(3.0), small_camera, nthreads=1).render(FORWARD_Y)  # switches the current context
    second = GLRenderer(wall_scene(1.0), small_camera.scaled(64, 48), nthreads=1)
    assert np.allclose(second.render(FORWARD_Y).depth, 1.0, atol=1e-4)
    assert np.array_equal(first.render(FORWARD_Y).depth, before.depth)


def test_distance_query_on_gl_backends(wall_scene):
    for backend in GL_BACKENDS:
        r = backend(wall_scene(2.0), Intrinsics.nyuv2().scaled(32, 24), nthreads=1)
        assert np.allclose(r.distance(np.array([[0.0, 0.0, 0.0], [0.0, 1.5, 0.0]])), [2.0, 0.5], atol=1e-5)


@pytest.mark.parametrize("backend", [RaycastRenderer, GLRenderer, PyrenderRenderer])
def test_incidence_on_request_matches_the_normals(backend, room_views):
    """``incidence=True`` gives |cos| between normal and viewing ray (gl from plane distances, others from
    normals), equal to the cosine computed from the same renderer's normals; no normals unless asked."""
    scene, cam, poses = room_views
    renderer = backend(scene, cam, nthreads=1)
    for pose in poses:
        both = renderer.render(pose, normals=True, incidence=True)
        only = renderer.render(pose, normals=False, incidence=True)
        assert only.normals is None and renderer.render(pose, normals=False).incidence is None
        assert only.incidence.dtype == np.float32 and only.incidence.shape == only.depth.shape
        expect = incidence_from_normals(both.normals, cam)
        assert np.allclose(only.incidence, expect, atol=1e-4)
        assert np.all((only.incidence >= 0) & (only.incidence <= 1)) and np.all(only.incidence[only.depth == 0] == 0)
        grazing = only.incidence[only.depth > 0]
        assert grazing.min() < 0.5 < grazing.max()  # walls seen obliquely and head-on: the test can tell


def test_normals_from_depth_are_exact_on_a_plane():
    cam = Intrinsics.nyuv2().scaled(80, 60)
    n_cam = np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])
    depth = (-2.0 / (pixel_rays(cam).astype(np.float64) @ n_cam)).astype(np.float32)  # plane n.p = -2 (faces camera)
    depth[:, :10] = 0.0  # invalid block: its neighbours use the other side
    normals = normals_from_depth(depth, cam)
    assert np.all(normals[:, :10] == 0)
    assert np.allclose(normals[:, 10:], n_cam, atol=1e-3)


def test_auto_picks_gl_for_rooms_and_raycast_for_probes(room_views):
    scene, cam, _ = room_views
    assert choose_renderer(scene, cam) == "gl"
    assert choose_renderer(scene, cam.scaled(64, 48)) == "raycast"  # trajectory probes
    assert make_renderer("auto", scene, cam.scaled(64, 48), 1).name == "raycast"
    assert make_renderer("auto", scene, cam, 1).name == "gl"


def test_auto_falls_back_to_raycast(room_views, monkeypatch):
    scene, cam, _ = room_views
    monkeypatch.setattr("synthcam.render.AUTO_MAX_SOFTWARE_GL_TRIANGLES", scene.triangle_count - 1)
    assert choose_renderer(scene, cam) == "raycast"  # too many triangles for llvmpipe
    monkeypatch.undo()

    def no_egl(nthreads=0):
        raise SynthcamError("no EGL")

    monkeypatch.setattr("synthcam.render.egl_context", no_egl)
    assert choose_renderer(scene, cam) == "raycast"


def test_unknown_renderer_lists_every_backend(small_camera, wall_scene):
    with pytest.raises(SynthcamError, match="valid renderers: auto, raycast, gl, pyrender"):
        make_renderer("vulkan", wall_scene(), small_camera)


class _Broken:
    """A meta-path finder under which importing ``name`` fails as a missing system library does."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise ImportError(f"libEGL.so.1: cannot open shared object file ({fullname})")
        return None


def _broken(monkeypatch, name: str) -> None:
    """Importing ``name`` (installed) fails with an ImportError that is not a missing module."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_Broken(name), *sys.meta_path])


def test_missing_gl_libraries_name_the_debian_packages(monkeypatch):
    _broken(monkeypatch, "OpenGL.EGL")
    with pytest.raises(SynthcamError, match="install the Debian packages libegl1 libgl1 libglu1-mesa"):
        egl.import_gl()


def test_broken_pyrender_says_what_to_install(monkeypatch, small_camera, wall_scene):
    _broken(monkeypatch, "pyrender")
    with pytest.raises(SynthcamError, match="pyrender==0.1.45"):
        PyrenderRenderer(wall_scene(), small_camera, nthreads=1)


def test_other_pyopengl_platform_is_refused(monkeypatch):
    monkeypatch.setenv("PYOPENGL_PLATFORM", "osmesa")
    with pytest.raises(SynthcamError, match="PYOPENGL_PLATFORM=egl"):
        egl.import_gl()


def test_cli_renderer_choices_are_the_registry():
    from cli.generate import generate
    from synthcam.render import RENDERERS

    option = next(p for p in generate.params if p.name == "renderer")
    assert list(option.type.choices) == list(RENDERERS) and option.default == "auto"


def test_cli_generate_with_gl_backend(tmp_path):
    import h5py
    from click.testing import CliRunner

    from cli.main import main

    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "--rooms",
            "1",
            "--frames-per-room",
            "2",
            "--resolution",
            "80x60",
            "--out",
            str(out),
            "--workers",
            "1",
            "--renderer",
            "gl",
        ],
    )
    assert result.exit_code == 0, result.output
    (shard,) = out.glob("room_*.h5")
    with h5py.File(shard) as f:
        assert f["depth_clean"].shape == (2, 60, 80) and (f["depth_clean"][()] > 0).mean() > 0.99
    bad = CliRunner().invoke(
        main, ["generate", "--rooms", "1", "--frames-per-room", "2", "--out", str(out), "--renderer", "vulkan"]
    )
    assert bad.exit_code == 2 and "'vulkan' is not one of" in bad.output


def test_egl_environment_sets_only_what_is_unset_and_only_for_the_block(monkeypatch):
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.setenv("LP_NUM_THREADS", "3")  # the user's choice is kept
    with egl.egl_environment(nthreads=2):
        assert egl.os.environ["PYOPENGL_PLATFORM"] == "egl" and egl.os.environ["LP_NUM_THREADS"] == "3"
    assert "PYOPENGL_PLATFORM" not in egl.os.environ and egl.os.environ["LP_NUM_THREADS"] == "3"
    monkeypatch.delenv("LP_NUM_THREADS")
    with egl.egl_environment(nthreads=2):
        assert egl.os.environ["LP_NUM_THREADS"] == "2"
    assert "LP_NUM_THREADS" not in egl.os.environ
