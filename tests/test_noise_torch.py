"""The torch stages give the numpy stages' statistics (CPU here; the same code runs on a GPU)."""

import numpy as np
import pytest
import torch

import noise_models
from noise_models.errors import NoiseConfigError
from noise_models.torch_stages import TorchBatch, make_torch, torch_presets
from synthcam.camera import Intrinsics
from synthcam.noise_bench import (REFERENCES, _roi, incidence_deg, plane_fit_sigma, plane_frame, step_frame)

CAM = Intrinsics.nyuv2().scaled(320, 240)
torch.set_num_threads(1)


def batch_of(frames) -> TorchBatch:
    return TorchBatch(depth=torch.from_numpy(np.stack([f.depth for f in frames])),
                      normals=torch.from_numpy(np.stack([f.normals for f in frames])),
                      class40=torch.from_numpy(np.stack([f.class40 for f in frames])), intrinsics=CAM)


def test_sigma_versus_distance_matches_numpy():
    gen = torch.Generator().manual_seed(0)
    roi = _roi(CAM)
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
        levels = np.unique(1.0 / out[_roi(CAM)][out[_roi(CAM)] > 0].astype(np.float64))
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
    assert set(torch_presets()) == set(noise_models.PRESETS) - {"kinect_v1_filled", "kinect_v1_dots"}
    with pytest.raises(NoiseConfigError, match="torch presets: none, kinect_v1"):
        make_torch("kinect_v1_filled")
    with pytest.raises(NoiseConfigError, match="valid presets"):
        make_torch("nope")
