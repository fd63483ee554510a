"""The torch stages give the numpy stages' statistics (CPU here; the same code runs on a GPU)."""

import dataclasses

import numpy as np
import pytest
import torch

import noise_models
from noise_models.errors import NoiseConfigError
from noise_models.torch_batch import TorchBatch
from noise_models.torch_stages import make_torch, torch_presets
from synthcam.noise_bench import REFERENCES, centre_roi, incidence_deg, plane_fit_sigma, plane_frame, step_frame
from synthcam_core.camera import Intrinsics

CAM = Intrinsics.nyuv2().scaled(320, 240)
torch.set_num_threads(1)


def batch_of(frames) -> TorchBatch:
    return TorchBatch(
        depth=torch.from_numpy(np.stack([f.depth for f in frames])),
        normals=torch.from_numpy(np.stack([f.normals for f in frames])),
        class40=torch.from_numpy(np.stack([f.class40 for f in frames])),
        intrinsics=CAM,
    )


def test_sigma_versus_distance_matches_numpy():
    gen = torch.Generator().manual_seed(0)
    roi = centre_roi(CAM)
    for name in ("kinect_v1", "kinect_v2", "d435", "redwood"):
        np_model, t_model = noise_models.make(name), make_torch(name)
        for z in (1.0, 3.5):
            frame = plane_frame(CAM, z)
            out = t_model(batch_of([frame] * 4), gen).numpy()
            s_torch = np.mean([plane_fit_sigma(o, roi) for o in out])
            rng = np.random.default_rng(0)
            s_np = np.mean([plane_fit_sigma(np_model(frame, rng), roi) for _ in range(4)])
            assert abs(s_torch / s_np - 1) < 0.12, (name, z, s_torch, s_np)
            if name != "redwood":
                assert abs(s_torch / REFERENCES[name].sigma(z) - 1) < 0.25


def test_lattice_and_valid_fraction_match_numpy():
    gen = torch.Generator().manual_seed(1)
    for name in ("kinect_v1", "d435"):
        lattice = REFERENCES[name].lattice
        out = make_torch(name)(batch_of([plane_frame(CAM, 2.0, 30.0)]), gen)[0].numpy()
        k = noise_models.make(name).stages["disparity"].lattice / out[out > 0].astype(np.float64)
        assert np.abs(k - np.round(k)).max() < 2e-3  # every value on F / n
        levels = np.unique(1.0 / out[centre_roi(CAM)][out[centre_roi(CAM)] > 0].astype(np.float64))
        assert abs(np.median(np.diff(levels)) * lattice - 1) < 0.02
        for theta in (40, 78, 85):
            frame = plane_frame(CAM, 2.0, theta)
            near = (np.abs(incidence_deg(CAM, theta) - theta) < 1.0) & (frame.depth > 0.7)
            near[:, : CAM.width // 10] = near[:, -CAM.width // 10 :] = False
            v_t = (make_torch(name)(batch_of([frame] * 4), gen).numpy()[:, near] > 0).mean()
            rng = np.random.default_rng(1)
            v_n = np.mean([(noise_models.make(name)(frame, rng)[near] > 0).mean() for _ in range(4)])
            assert abs(v_t - v_n) < 0.05, (name, theta, v_t, v_n)


def test_shadow_is_identical_and_input_untouched():
    frame, _ = step_frame(CAM, 1.0, 2.0)
    batch = batch_of([frame, frame])
    before = batch.depth.clone()
    for name in ("kinect_v1", "d435"):
        stage = noise_models.make(name).stages["shadow"]
        expect = stage(frame, None)
        got = make_torch(name, {"disparity.sigma_units": 0.0})  # built with the same parameters
        shadow_only = type(got)(name, {"shadow": got.stages["shadow"]})(batch)
        assert np.array_equal(shadow_only[1].numpy(), expect)
    assert torch.equal(batch.depth, before)


def test_kinect_v2_edges_and_presets():
    frame, _ = step_frame(CAM, 1.5, 2.0)
    out = make_torch("kinect_v2")(batch_of([frame]), torch.Generator().manual_seed(2))[0].numpy()
    flying = (out > 1.52) & (out < 1.98)
    assert 0.001 < flying.mean() < 0.05
    assert set(torch_presets()) == set(noise_models.PRESETS)
    with pytest.raises(NoiseConfigError, match="valid presets"):
        make_torch("nope")


def test_a_stage_without_torch_version_is_refused(monkeypatch):
    from noise_models import torch_stages

    monkeypatch.delitem(torch_stages.TORCH_STAGES, noise_models.DotPatternWindow)
    with pytest.raises(NoiseConfigError, match="DotPatternWindow.*torch presets: none, kinect_v1"):
        make_torch("kinect_v1_dots")


def test_hole_fill_matches_numpy():
    """Valid pixels untouched, every hole filled from its nearest valid pixel and smoothed as OpenCV does."""
    frame, _ = step_frame(CAM, 1.0, 2.0)
    holes = noise_models.make("kinect_v1")(frame, np.random.default_rng(3))
    stage = noise_models.HoleFill()
    expect = stage(dataclasses.replace(frame, depth=holes), None)
    model = make_torch("kinect_v1_filled")
    got = type(model)("fill", {"fill": model.stages["fill"]})(batch_of([dataclasses.replace(frame, depth=holes)]))[
        0
    ].numpy()
    invalid = holes <= 0
    assert invalid.mean() > 0.05 and np.array_equal(got[~invalid], holes[~invalid])
    assert np.all(got > 0)
    diff = np.abs(got - expect)[invalid]
    assert np.median(diff) < 1e-3 and diff.mean() < 5e-3  # ties between equally near pixels may differ
    empty = type(model)("fill", {"fill": stage})(batch_of([dataclasses.replace(frame, depth=np.zeros_like(holes))]))
    assert torch.all(empty == 0)


def test_nearest_valid_pixel_is_exact():
    import cv2

    from noise_models.torch_fill import nearest_valid

    valid = np.random.default_rng(4).random((2, 60, 80)) < 0.01
    idx = nearest_valid(torch.from_numpy(valid)).numpy()
    yy, xx = np.mgrid[:60, :80]
    for k in range(2):
        exact = cv2.distanceTransform((~valid[k]).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        assert valid[k].ravel()[idx[k].ravel()].all()
        assert np.allclose(np.hypot(idx[k] // 80 - yy, idx[k] % 80 - xx), exact, atol=1e-3)


def test_kinect_v1_filled_on_torch_has_the_numpy_statistics():
    gen = torch.Generator().manual_seed(5)
    frame = plane_frame(CAM, 2.0, 40.0)
    out = make_torch("kinect_v1_filled")(batch_of([frame] * 2), gen).numpy()
    ref = noise_models.make("kinect_v1_filled")(frame, np.random.default_rng(5))
    assert (out > 0).mean() == (ref > 0).mean() == 1.0
    roi = centre_roi(CAM)
    s_t = np.mean([plane_fit_sigma(o, roi) for o in out])
    assert abs(s_t / plane_fit_sigma(ref, roi) - 1) < 0.15


def _edge_distance(depth: np.ndarray) -> np.ndarray:
    """Per-pixel distance (px) to the nearest depth edge (a jump > 5 cm in a 3x3 neighbourhood)."""
    import cv2

    kernel = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)) > 0.05
    return cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 5)


def test_dot_window_reproduces_numpy_with_the_same_dots():
    """Given numpy's dot mask for a seed, the torch window test keeps exactly the same pixels; a painted
    value differs only where two passing seeds are equally near (both within the 3 px fill radius)."""
    from noise_models.torch_fill import dot_window

    stage = noise_models.DotPatternWindow()
    for frame in (plane_frame(CAM, 2.0, 30.0), step_frame(CAM, 1.5, 2.0)[0]):
        z = frame.depth
        expect = np.stack([stage(frame, np.random.default_rng(s)) for s in (0, 1)])
        dots = np.stack(
            [np.random.default_rng(s).random(z.shape, dtype=np.float32) < np.float32(stage.dot_density) for s in (0, 1)]
        )  # the numpy stage's draw for the same seed
        got = dot_window(stage, torch.from_numpy(np.stack([z, z])), torch.from_numpy(dots), CAM.fx).numpy()
        assert np.array_equal(got > 0, expect > 0)
        assert (got == expect).mean() > 0.95
        zp = np.pad(z, 3)
        h, w = z.shape
        from_seed = np.zeros(got.shape, bool)  # every painted value is the depth of a pixel within 3 px
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                if dx * dx + dy * dy <= 9:
                    from_seed |= zp[3 + dy : 3 + dy + h, 3 + dx : 3 + dx + w][None] == got
        assert from_seed[got > 0].all()


def test_dot_window_test_makes_holes_at_depth_edges():
    """The window's inlier test rejects seeds whose window straddles a depth edge: pixels within 1 px of
    the edge are mostly holes, pixels 8+ px away only the sparse-dot holes. Without the test (every seed
    with valid dots passing) the edge would be as dense as the rest."""
    from noise_models.torch_fill import dot_window

    stage = noise_models.DotPatternWindow()
    frame, _ = step_frame(CAM, 1.5, 2.0)
    z, dist = frame.depth, _edge_distance(frame.depth)
    inner = np.zeros(z.shape, bool)
    inner[CAM.height // 10 : -CAM.height // 10, CAM.width // 10 : -CAM.width // 10] = True
    dots = torch.from_numpy(np.random.default_rng(6).random((4,) + z.shape, dtype=np.float32) < 0.11)
    out = dot_window(stage, torch.from_numpy(np.stack([z] * 4)), dots, CAM.fx).numpy()
    holes = out == 0
    assert holes[:, inner & (np.rint(dist) <= 1)].mean() > 0.7
    assert holes[:, inner & (dist >= 8)].mean() < 0.06
    everywhere = dot_window(stage, torch.from_numpy(z[None]), torch.ones((1,) + z.shape, dtype=torch.bool), CAM.fx)[
        0
    ].numpy()
    assert (everywhere[inner & (dist >= 2)] == z[inner & (dist >= 2)]).all()  # full dots: only the edge fails
    assert (everywhere[inner & (dist < 1)] == 0).mean() > 0.9


def test_kinect_v1_dots_on_torch_has_the_numpy_statistics():
    """Same preset, independent random streams: valid fraction on planes from 0.8 to 4.4 m within 0.02,
    hole fraction within 3 px of a depth edge within 0.05 (and far above kinect_v1's), plane-fit sigma
    within 12 %."""
    gen, rng = torch.Generator().manual_seed(7), np.random.default_rng(7)
    dots_t, dots_n = make_torch("kinect_v1_dots"), noise_models.make("kinect_v1_dots")
    for z in (0.8, 2.0, 3.5, 4.4):
        frame = plane_frame(CAM, z, 20.0)
        v_t = (dots_t(batch_of([frame] * 4), gen).numpy() > 0).mean()
        v_n = np.mean([(dots_n(frame, rng) > 0).mean() for _ in range(4)])
        assert abs(v_t - v_n) < 0.02, (z, v_t, v_n)
    frame, _ = step_frame(CAM, 1.5, 2.0)
    near = np.rint(_edge_distance(frame.depth)) <= 3
    h_t = (dots_t(batch_of([frame] * 4), gen).numpy()[:, near] == 0).mean()
    h_n = np.mean([(dots_n(frame, rng)[near] == 0).mean() for _ in range(4)])
    h_plain = (make_torch("kinect_v1")(batch_of([frame] * 4), gen).numpy()[:, near] == 0).mean()
    assert abs(h_t - h_n) < 0.05 and h_t > h_plain + 0.3, (h_t, h_n, h_plain)
    roi = centre_roi(CAM)
    frame = plane_frame(CAM, 2.5)
    s_t = np.mean([plane_fit_sigma(o, roi) for o in dots_t(batch_of([frame] * 4), gen).numpy()])
    s_n = np.mean([plane_fit_sigma(dots_n(frame, rng), roi) for _ in range(4)])
    assert abs(s_t / s_n - 1) < 0.12, (s_t, s_n)


def test_inverse_depth_smooth_on_torch_matches_numpy():
    """The torch bilateral filter on inverse depth gives the numpy (OpenCV) stage's values, holes kept."""
    frame, _ = step_frame(CAM, 1.0, 2.0)
    noisy = noise_models.make(
        "kinect_v1", {"border.left": 0.0, "border.right": 0.0, "border.top": 0.0, "border.bottom": 0.0}
    )(frame, np.random.default_rng(6))
    noisy[100:110, 100:110] = 0.0  # a hole inside the image, beside which both filters must leave it out
    stage = noise_models.InverseDepthSmooth(sigma_px=1.5, sigma_inv=0.003)
    expect = stage(dataclasses.replace(frame, depth=noisy), None)
    got = type(make_torch("none"))("smooth", {"smooth": stage})(batch_of([dataclasses.replace(frame, depth=noisy)]))[0]
    assert np.array_equal(got.numpy() > 0, noisy > 0) and (noisy == 0).mean() > 0.001
    assert np.abs(got.numpy() - expect).max() < 1e-4  # OpenCV tabulates its range weights
