import numpy as np
import pytest

from scene_library.objects.base import box
from synthcam.render import make_renderer
from synthcam.render_raycast import RaycastRenderer
from synthcam_core.camera import Intrinsics, look_at, project
from synthcam_core.errors import SynthcamError
from synthcam_core.geometry.rays import pixel_rays

FORWARD_Y = look_at(np.zeros(3), np.array([0.0, 1.0, 0.0]))  # camera at origin looking along +y


def test_wall_two_metres_ahead_reads_two_metres_at_centre(wall_scene):
    cam = Intrinsics(640, 480, 500.0, 500.0, 320.0, 240.0)  # image centre on a pixel corner
    frame = RaycastRenderer(wall_scene(2.0), cam, nthreads=1).render(FORWARD_Y)
    centre = frame.depth[239:241, 319:321]
    assert np.all(np.abs(centre - 2.0) <= 1e-3)
    # z-depth, not ray length: the whole fronto-parallel wall is at 2 m, corners included.
    assert np.allclose(frame.depth, 2.0, atol=1e-3)
    assert np.all(frame.class40 == 1) and np.all(frame.instance == 1)


def test_nyuv2_camera_wall_depth_and_normals(wall_scene):
    frame = RaycastRenderer(wall_scene(2.0), Intrinsics.nyuv2(), nthreads=2).render(FORWARD_Y)
    assert abs(frame.depth[240, 320] - 2.0) <= 1e-3
    # The wall faces the camera: camera-frame normal is -z everywhere.
    assert np.allclose(frame.normals[..., 2], -1.0, atol=1e-5)


def test_box_lands_on_its_projected_pixels_with_class_and_instance(small_camera, make_scene):
    # A 0.4 m cube centred 1.5 m ahead, offset left and up, in front of a wall at 3 m.
    cube_center = np.array([-0.3, 1.5, 0.2])
    scene = make_scene(
        [("wall", 1, box((20.0, 0.2, 20.0), (0.0, 3.1, 0.0))), ("cube", 29, box((0.4, 0.4, 0.4), tuple(cube_center)))]
    )
    frame = RaycastRenderer(scene, small_camera, nthreads=1).render(FORWARD_Y)
    world_to_cam = np.linalg.inv(FORWARD_Y)
    # Pixels whose centres project inside the cube's front face must be the cube.
    front = cube_center + np.array([0.0, -0.2, 0.0])
    corners = np.array([front + [dx, 0, dz] for dx in (-0.19, 0.19) for dz in (-0.19, 0.19)])
    cam_pts = (world_to_cam[:3, :3] @ corners.T).T + world_to_cam[:3, 3]
    uv = project(cam_pts, small_camera)
    u0, u1 = uv[:, 0].min() + 1, uv[:, 0].max() - 1
    v0, v1 = uv[:, 1].min() + 1, uv[:, 1].max() - 1
    assert u1 > u0 and v1 > v0
    patch = np.s_[v0 : v1 + 1, u0 : u1 + 1]
    assert np.all(frame.class40[patch] == 29)
    assert np.all(frame.instance[patch] == 2)
    assert np.allclose(frame.depth[patch], 1.3, atol=1e-3)
    # Everything else is wall.
    mask = np.zeros_like(frame.class40, dtype=bool)
    mask[patch] = True
    assert np.all(frame.class40[~mask & (frame.instance == 1)] == 1)
    # And no cube pixel falls outside the projection of the whole cube (all 8 corners).
    all_corners = np.array(
        [cube_center + [dx, dy, dz] for dx in (-0.2, 0.2) for dy in (-0.2, 0.2) for dz in (-0.2, 0.2)]
    )
    uv_all = project((world_to_cam[:3, :3] @ all_corners.T).T + world_to_cam[:3, 3], small_camera)
    rows, cols = np.nonzero(frame.instance == 2)
    assert cols.min() >= uv_all[:, 0].min() and cols.max() <= uv_all[:, 0].max()
    assert rows.min() >= uv_all[:, 1].min() and rows.max() <= uv_all[:, 1].max()


def test_pixel_rays_go_through_pixel_centres():
    cam = Intrinsics(4, 2, 2.0, 2.0, 2.0, 1.0)
    rays = pixel_rays(cam)
    assert rays.shape == (2, 4, 3)
    assert np.allclose(rays[0, 0], [(0.5 - 2.0) / 2.0, (0.5 - 1.0) / 2.0, 1.0])
    assert not rays.flags.writeable


def test_miss_is_invalid_and_void(small_camera, make_scene):
    scene = make_scene([("cube", 3, box((0.2, 0.2, 0.2), (0.0, 2.0, 0.0)))])
    frame = RaycastRenderer(scene, small_camera, nthreads=1).render(FORWARD_Y)
    miss = frame.instance == 0
    assert miss.any() and np.all(frame.depth[miss] == 0) and np.all(frame.class40[miss] == 0)


def test_distance_query(wall_scene):
    r = RaycastRenderer(wall_scene(2.0), Intrinsics.nyuv2().scaled(32, 24), nthreads=1)
    assert np.allclose(r.distance(np.array([[0.0, 0.0, 0.0], [0.0, 1.5, 0.0]])), [2.0, 0.5], atol=1e-5)


def test_unknown_renderer_lists_valid_names(small_camera, wall_scene):
    with pytest.raises(SynthcamError, match="valid renderers: auto, raycast"):
        make_renderer("vulkan", wall_scene(), small_camera)


@pytest.mark.parametrize("backend", ["raycast", "gl"])
def test_tilted_plane_matches_analytic_depth_at_pixel_centres(backend, make_scene):
    # A plane tilted 60 deg about the vertical axis; a half-pixel slip would shift depth by millimetres.
    cam = Intrinsics.nyuv2().scaled(160, 120)
    import trimesh

    from synthcam.render_gl import Z_FAR

    plane = box((40.0, 0.01, 40.0), (0.0, 0.0, 0.0))
    rot = trimesh.transformations.rotation_matrix(np.radians(60), (0, 0, 1))
    rot[:3, 3] = (0.0, 2.0, 0.0)
    plane.apply_transform(rot)
    frame = make_renderer(backend, make_scene([("wall", 1, plane)]), cam, nthreads=1).render(FORWARD_Y)
    normal_world = rot[:3, :3] @ np.array([0.0, 1.0, 0.0])
    point_world = np.array([0.0, 2.0, 0.0]) - normal_world * 0.005  # the face towards the camera
    r_cw = FORWARD_Y[:3, :3]
    n_cam, p_cam = r_cw.T @ normal_world, r_cw.T @ point_world
    expected = (n_cam @ p_cam) / (pixel_rays(cam).astype(np.float64) @ n_cam)
    valid = (frame.depth > 0) & (expected < Z_FAR)  # GL clips at its far plane
    assert valid.mean() > 0.5  # rays nearly parallel to the plane pass its far edge
    assert np.abs(frame.depth[valid] - expected[valid]).max() < 1e-4


def test_instances_only_equals_the_full_render(small_camera, make_scene):
    """The probe's instance-only cast gives the instance image of the full render."""
    scene = make_scene(
        [("wall", 1, box((2.0, 0.2, 1.0), (0.0, 3.1, 0.0))), ("cube", 29, box((0.4, 0.4, 0.4), (-0.3, 1.5, 0.2)))]
    )
    renderer = RaycastRenderer(scene, small_camera, nthreads=1)
    pose = look_at(np.zeros(3), np.array([0.0, 1.0, 0.0]))
    ids = renderer.instances(pose)
    assert ids.dtype == np.uint16 and np.array_equal(ids, renderer.render(pose, normals=False).instance)
    assert set(np.unique(ids)) == {0, 1, 2}


def test_pixel_slopes_are_the_rays_of_the_pixel_centres():
    from synthcam_core.geometry.rays import pixel_centres, pixel_slopes

    cam = Intrinsics(5, 3, 2.5, 3.0, 2.2, 1.4)
    (u, v), (a, b) = pixel_centres(cam), pixel_slopes(cam)
    assert u.dtype == a.dtype == np.float64
    assert u.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5] and v.tolist() == [0.5, 1.5, 2.5]
    assert np.allclose(a, (u - 2.2) / 2.5) and np.allclose(b, (v - 1.4) / 3.0)
    rays = pixel_rays(cam)
    assert np.array_equal(rays[..., 0], np.broadcast_to(a.astype(np.float32), (3, 5)))
    assert np.array_equal(rays[..., 1], np.broadcast_to(b.astype(np.float32)[:, None], (3, 5)))
