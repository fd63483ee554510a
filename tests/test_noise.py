import dataclasses
import re

import numpy as np
import pytest

import noise_models
from noise_models import (
    DisparityNoise,
    HoleFill,
    IncidenceDropout,
    InvalidBorder,
    LateralJitter,
    MaterialDropout,
    NoiseConfigError,
    PixelShift,
    ProjectorShadow,
    RangeGate,
    RedwoodDistortion,
)
from scene_library.objects.base import box
from synthcam.render_raycast import RaycastRenderer
from synthcam_core.camera import Intrinsics, look_at
from synthcam_core.geometry.surface import incidence_from_normals

CAM = Intrinsics.nyuv2().scaled(320, 240)
FORWARD = look_at(np.zeros(3), np.array([0.0, 1.0, 0.0]))


@pytest.fixture
def wall_frame(wall_scene):
    """``wall_frame(distance, tilt_deg=0.0)``: a wall ``distance`` m ahead, rotated by ``tilt_deg`` about the
    vertical axis, rendered at :data:`CAM`."""

    def render(distance: float, tilt_deg: float = 0.0):
        eye = np.zeros(3)
        yaw = np.radians(tilt_deg)
        target = np.array([np.sin(yaw), np.cos(yaw), 0.0])  # turning the camera is the same as tilting the wall
        pose = look_at(eye, target)
        scene = wall_scene(distance, width=400.0)
        return RaycastRenderer(scene, CAM, nthreads=1).render(pose)

    return render


def test_incidence_alone_serves_angle_stages_like_normals(wall_frame):
    """A frame carrying only ``incidence`` gives the same noisy depth as one carrying only normals, and
    the stage reads that field (a head-on cosine drops fewer pixels)."""
    model = noise_models.make("kinect_v1", {"incidence.theta0_deg": 60.0, "incidence.theta1_deg": 72.0})
    assert model.needs_incidence and not model.needs_normals
    frame = wall_frame(1.0, 72.0)  # grazing enough for this incidence dropout (60-72 deg) to act
    cos = incidence_from_normals(frame.normals, frame.intrinsics)
    with_normals = model(frame, np.random.default_rng(4))
    with_incidence = model(dataclasses.replace(frame, normals=None, incidence=cos), np.random.default_rng(4))
    assert np.array_equal(with_normals, with_incidence)
    head_on = model(dataclasses.replace(frame, normals=None, incidence=np.ones_like(cos)), np.random.default_rng(4))
    assert (with_incidence == 0).mean() > (head_on == 0).mean() + 0.05
    with pytest.raises(ValueError, match="incidence=True"):
        model(dataclasses.replace(frame, normals=None), np.random.default_rng(4))


def test_kinect_v1_never_negative_and_leaves_input_untouched(wall_frame):
    frame = wall_frame(1.5, 30.0)
    before = frame.depth.copy()
    noisy = noise_models.make("kinect_v1")(frame, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == frame.depth.shape
    assert np.all(noisy >= 0) and np.all(np.isfinite(noisy))
    assert np.array_equal(frame.depth, before)
    valid = noisy > 0
    assert valid.mean() > 0.75  # the invalid border measured on NYUv2 raw frames takes 21 %
    assert np.abs(noisy[valid] - frame.depth[valid]).max() < 0.2  # noise happened but stayed plausible
    assert np.abs(noisy[valid] - frame.depth[valid]).mean() > 1e-4


def test_disparity_values_lie_on_the_lattice(wall_frame):
    frame = wall_frame(2.5, 20.0)
    stage = DisparityNoise()
    noisy = stage(frame, np.random.default_rng(1))
    k = stage.lattice / noisy[noisy > 0].astype(np.float64)
    assert np.abs(k - np.round(k)).max() < 2e-3  # float32 round-off only
    # The quantisation step at z is z^2 / F: adjacent levels near 2.5 m are ~17.8 mm apart.
    levels = np.unique(noisy[noisy > 0])
    steps = np.diff(levels[(levels > 2.4) & (levels < 2.6)])
    assert np.allclose(steps, 2.5**2 / 351.3, rtol=0.1)


def test_disparity_noise_sigma_follows_khoshelham(wall_frame):
    for z in (1.0, 2.0, 3.0):
        frame = wall_frame(z)
        noisy = DisparityNoise()(frame, np.random.default_rng(2))
        err = noisy[noisy > 0] - frame.depth[noisy > 0]
        expected = 1.425e-3 * z**2
        assert abs(err.std() - expected) / expected < 0.15
        assert abs(err.mean()) < 0.25 * z**2 / 351.3  # unbiased rounding


def incidence_deg(frame) -> np.ndarray:
    """Per-pixel angle between the viewing ray and the wall normal (world -y), from the pose alone."""
    u = (np.arange(CAM.width) + 0.5 - CAM.cx) / CAM.fx
    v = (np.arange(CAM.height) + 0.5 - CAM.cy) / CAM.fy
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], 1.0), axis=-1) @ frame.pose[:3, :3].T
    cos = np.abs(rays[..., 1]) / np.linalg.norm(rays, axis=-1)
    return np.degrees(np.arccos(cos))


def test_grazing_pixels_are_dropped(wall_frame):
    drop = IncidenceDropout(theta0_deg=70.0, theta1_deg=82.0)
    rng = np.random.default_rng(3)
    assert (drop(wall_frame(2.0, 0.0), rng) > 0).mean() == 1.0
    grazing = wall_frame(2.0, 75.0)
    theta = incidence_deg(grazing)
    hit = grazing.depth > 0
    assert (hit & (theta > 82)).sum() > 1000 and (hit & (theta < 70)).sum() > 1000
    out = drop(grazing, rng)
    assert np.all(out[hit & (theta > 82.2)] == 0)
    assert np.all(out[hit & (theta < 69.8)] > 0)
    ramp = hit & (theta > 74) & (theta < 78)  # p_drop 1/3 .. 2/3 on the ramp
    assert 0.3 < (out[ramp] == 0).mean() < 0.7
    assert np.all(noise_models.make("kinect_v1")(grazing, rng)[hit & (theta > 82.2)] == 0)


def test_range_gate_and_jitter(wall_frame):
    frame = wall_frame(5.0)
    assert np.all(RangeGate(0.5, 4.5)(frame, np.random.default_rng(0)) == 0)
    near = wall_frame(2.0, 10.0)
    jittered = LateralJitter(0.5)(near, np.random.default_rng(0))
    assert (
        np.all(jittered > 0) and np.abs(jittered - near.depth).max() < 0.02 and not np.array_equal(jittered, near.depth)
    )


def test_same_seed_same_noise_and_none_is_identity(wall_frame):
    frame = wall_frame(2.0, 40.0)
    model = noise_models.make("kinect_v1")
    a, b = model(frame, np.random.default_rng(7)), model(frame, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, model(frame, np.random.default_rng(8)))
    clean = noise_models.make("none")(frame, np.random.default_rng(0))
    assert np.array_equal(clean, frame.depth) and clean is not frame.depth


def test_presets_and_parameters_are_checked():
    with pytest.raises(NoiseConfigError, match="valid presets: none, kinect_v1"):
        noise_models.make("kinect_v9")
    with pytest.raises(NoiseConfigError, match="disparity.sigma_units"):
        noise_models.make("kinect_v1", {"disparity.sigma": 1.0})
    model = noise_models.make("kinect_v1", {"range.z_max": 3.0})
    assert model.stages["range"].z_max == 3.0
    assert model.describe()["stages"]["disparity"]["type"] == "DisparityNoise"
    assert dataclasses.is_dataclass(model.stages["jitter"])


# --- sensor artefacts ------------------------------------------------------------------------------


@pytest.fixture
def step_edge_frame(make_scene):
    """``step_edge_frame(z_front=1.0, z_back=2.0, cam=CAM)``: a 0.6 m wide box face at z_front in front of a
    wall at z_back, seen head-on."""

    def render(z_front: float = 1.0, z_back: float = 2.0, cam=CAM):
        scene = make_scene(
            [
                ("wall", 1, box((40.0, 0.2, 40.0), (0.0, z_back + 0.1, 0.0))),
                ("box", 29, box((0.6, 0.2, 0.6), (0.0, z_front + 0.1, 0.0))),
                ("window", 9, box((0.5, 0.02, 0.4), (-0.8, z_back - 0.01, 0.5))),
            ]
        )
        return RaycastRenderer(scene, cam, nthreads=1).render(FORWARD)

    return render


def test_projector_shadow_falls_left_of_the_foreground_with_the_predicted_width(step_edge_frame):
    frame = step_edge_frame(1.0, 2.0)
    out = ProjectorShadow(baseline_m=0.075)(frame, np.random.default_rng(0))
    row = CAM.height // 2
    box_cols = np.nonzero(frame.instance[row] == 2)[0]
    left, right = box_cols.min(), box_cols.max()
    shadow = np.nonzero((out[row] == 0) & (frame.depth[row] > 0))[0]
    expected = CAM.fx * 0.075 * (1 / 1.0 - 1 / 2.0)
    assert shadow.size and shadow.max() < left  # all on the left of the box
    assert abs(shadow.size - expected) <= 2 and abs((left - shadow.min()) - expected) <= 2
    assert np.all(out[row, right + 1 :] > 0)  # nothing right of it
    mirrored = ProjectorShadow(baseline_m=0.075, side=-1.0)(frame, np.random.default_rng(0))
    assert np.all(mirrored[row, :left] > 0) and np.any(mirrored[row, right + 1 :] == 0)


def test_material_dropout_and_border(step_edge_frame):
    frame = step_edge_frame()
    window = frame.class40 == 9
    out = MaterialDropout()(frame, np.random.default_rng(0))
    assert window.sum() > 100 and 0.8 < (out[window] == 0).mean() < 0.97
    assert np.all(out[~window] == frame.depth[~window])
    border = InvalidBorder()(frame, np.random.default_rng(0))
    assert (
        np.all(border[:, :4] == 0)
        and np.all(border[:, -8:] == 0)
        and np.all(border[:6] == 0)
        and np.all(border[-6:] == 0)
    )
    assert np.all(border[6:-6, 4:-8] > 0)


def test_redwood_distortion_shift_and_preset(wall_frame):
    frame = wall_frame(3.0)
    out = RedwoodDistortion()(frame, np.random.default_rng(0))
    centre = out[CAM.height // 2 - 20 : CAM.height // 2 + 20, CAM.width // 2 - 20 : CAM.width // 2 + 20]
    assert np.all(np.abs(centre / 3.0 - 1.0) < 0.05)  # at most a few per cent at 3 m
    assert np.all(out[:, :2] == 0)  # the table's invalid left band
    shifted = PixelShift()(frame, np.random.default_rng(0))
    assert set(np.unique(shifted)) <= set(np.unique(frame.depth))
    model = noise_models.make("redwood")
    assert abs(model.stages["disparity"].lattice - 281.04) < 0.01
    noisy = model(frame, np.random.default_rng(0))
    valid = noisy > 0
    assert valid.mean() > 0.8 and abs(np.median(noisy[valid]) - 3.0) < 0.05


def test_hole_fill_leaves_no_holes_inside_the_view(step_edge_frame):
    frame = step_edge_frame()
    raw = noise_models.make("kinect_v1")(frame, np.random.default_rng(1))
    assert (raw == 0).mean() > 0.02
    filled = noise_models.make("kinect_v1_filled")(frame, np.random.default_rng(1))
    assert np.all(filled > 0)
    assert np.all((filled >= frame.depth.min() - 0.1) & (filled <= frame.depth.max() + 0.1))
    assert np.all(HoleFill()(dataclasses.replace(frame, depth=np.zeros_like(frame.depth)), None) == 0)


def test_hole_fill_takes_values_from_the_neighbourhood(step_edge_frame):
    frame = step_edge_frame(1.0, 2.0)
    depth = frame.depth.copy()
    depth[20:30, 10:20] = 0.0  # a hole in the wall, far from the box
    depth[110:120, 150:160] = 0.0  # a hole inside the box face
    filled = HoleFill()(dataclasses.replace(frame, depth=depth), None)
    assert np.allclose(filled[20:30, 10:20], frame.depth[20:30, 10:20], atol=0.02)
    assert np.allclose(filled[110:120, 150:160], frame.depth[110:120, 150:160], atol=0.02)
    assert np.array_equal(filled[depth > 0], depth[depth > 0])


def test_out_of_range_parameters_are_refused():
    for key, value, fragment in (
        ("border.left", -0.1, "[0, 0.5)"),
        ("incidence.theta1_deg", 10.0, "theta0_deg < theta1_deg"),
        ("range.z_max", 0.1, "z_min < z_max"),
        ("jitter.sigma_px", -1.0, "sigma_px >= 0"),
    ):
        with pytest.raises(NoiseConfigError, match=re.escape(fragment)):
            noise_models.make("kinect_v1", {key: value})


def test_shadow_matches_its_definition_by_brute_force(wall_frame):
    """u is shadowed iff some u' > u on its row has D(u') - D(u) > u' - u (D = fx * b / z, invalid never blocks)."""
    rng = np.random.default_rng(7)
    depth = rng.uniform(0.6, 4.0, (6, 70)).astype(np.float32)
    depth[:, 20:30] = 0.7  # a near block
    depth[rng.random(depth.shape) < 0.1] = 0.0
    cam = Intrinsics.nyuv2().scaled(70, 6)
    frame = dataclasses.replace(wall_frame(2.0), depth=depth, normals=None, intrinsics=cam)
    for side in (1.0, -1.0):
        out = ProjectorShadow(baseline_m=0.075, side=side)(frame, None)
        d = np.where(depth > 0, cam.fx * 0.075 / np.where(depth > 0, depth, 1), 0.0)
        expect = depth.copy()
        for r in range(depth.shape[0]):
            row = d[r] if side > 0 else d[r, ::-1]
            for u in range(row.size):
                if any(row[v] - row[u] > v - u + 1e-4 for v in range(u + 1, row.size) if row[v] > 0):
                    expect[r, u if side > 0 else row.size - 1 - u] = 0.0
        assert np.array_equal(out, expect)


def test_window_max_helper_and_range_gate_bounds(wall_frame):
    from noise_models.disparity import window_max_right

    g = np.random.default_rng(8).normal(size=(3, 50)).astype(np.float32)
    for span in (1, 5, 17, 80):
        got = window_max_right(g, span)
        length = 1 << int(np.ceil(np.log2(span + 1)))
        expect = np.stack([[row[u : u + length].max() for u in range(50)] for row in g])
        assert np.array_equal(got, expect)
    z = np.array([[0.0, 0.4999, 0.5, 4.5, 4.5001, -1.0]], np.float32)
    frame = dataclasses.replace(wall_frame(2.0), depth=z)
    assert RangeGate(0.5, 4.5)(frame, None).tolist() == [[0.0, 0.0, 0.5, 4.5, 0.0, 0.0]]


def test_dot_window_paints_blobs_from_nearby_passing_seeds(wall_frame):
    frame = wall_frame(2.0, 30.0)
    stage = noise_models.DotPatternWindow()
    out = stage(frame, np.random.default_rng(9))
    valid = out > 0
    assert 0.8 < valid.mean() < 1.0  # slope and sparse-dot holes, but mostly valid on a plain wall
    # every painted value is the true depth of a pixel within fill_radius_px (3 px) on the same row band
    depth = frame.depth
    ys, xs = np.nonzero(valid)
    pick = np.random.default_rng(0).choice(ys.size, 300, replace=False)
    for y, x in zip(ys[pick], xs[pick]):
        patch = depth[max(y - 3, 0) : y + 4, max(x - 3, 0) : x + 4]
        assert np.isclose(patch, out[y, x], rtol=0, atol=1e-6).any()
    again = stage(frame, np.random.default_rng(9))
    assert np.array_equal(out, again)  # deterministic from the rng


def test_inverse_depth_smooth_averages_noise_but_keeps_edges_and_holes(wall_frame):
    """Kinect lattice noise on two planes (2 m and 3 m) is averaged within each plane, the step between
    them survives, holes stay holes; a wider range sigma smooths more (the test can fail both ways)."""
    rng = np.random.default_rng(0)
    z = np.full((120, 160), 2.0, np.float32)
    z[:, 80:] = 3.0
    z[30:35, 30:35] = 0.0
    with np.errstate(divide="ignore"):
        noisy = (351.3 / np.rint(351.3 / z + rng.normal(0, 0.41, z.shape))).astype(np.float32)
    noisy[z == 0] = 0.0
    frame = dataclasses.replace(wall_frame(2.0, 0.0), depth=noisy)
    out = noise_models.InverseDepthSmooth(sigma_px=1.5, sigma_inv=0.003)(frame, rng)
    assert np.array_equal(out == 0, noisy == 0)
    inner = np.s_[40:100, 40:70]
    assert out[inner].std() < 0.6 * noisy[inner].std()
    assert abs(out[inner].mean() - noisy[inner].mean()) < 2e-3
    assert np.all(np.abs(out[:, 76:79] - 2.0) < 0.05) and np.all(np.abs(out[:, 81:84] - 3.0) < 0.08)
    weak = noise_models.InverseDepthSmooth(sigma_px=1.5, sigma_inv=0.0005)(frame, rng)
    assert out[inner].std() < weak[inner].std()
    widest = noise_models.InverseDepthSmooth(sigma_px=1.5, sigma_inv=0.02)(frame, rng)  # the bound: holes stay out
    assert np.all(np.abs(widest[29:36, 36:38] - 2.0) < 0.05)  # right beside the hole, no pull towards 0 (infinity)
    for bad in ({"sigma_px": 0.0}, {"sigma_inv": 0.5}):
        with pytest.raises(ValueError, match="smooth needs"):
            noise_models.InverseDepthSmooth(**bad)
