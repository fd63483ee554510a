"""The noise stages in torch, for batches of frames on any device (GPU batch generation).

``make_torch("kinect_v1", params)`` builds the same preset as :func:`noise_models.make` (same stage
objects and parameters) and returns a :class:`TorchNoise` whose ``__call__(batch, generator)`` maps a
:class:`~noise_models.torch_batch.TorchBatch` of (B, H, W) tensors to new (B, H, W) float32 depth. Random
draws are float32 from the ``torch.Generator`` given (on the batch's device). The statistics match the
numpy stages (tested on the CPU); individual values differ because the random streams differ. torch is
imported lazily.

Every stage has a torch version: the per-pixel ones here, the filling and smoothing ones in
:mod:`noise_models.torch_fill`. ``DotPatternWindow`` draws its dot mask from the torch generator;
:func:`noise_models.torch_fill.dot_window` takes an explicit mask instead, and given the numpy stage's mask
(the same seed) it reproduces the numpy output up to ties between equally near seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from noise_models import distortion, tof
from noise_models import stages as S
from noise_models.errors import NoiseConfigError
from noise_models.presets import PRESETS, make
from noise_models.smoothing import InverseDepthSmooth
from noise_models.torch_batch import TorchBatch, incidence_cos, normal, torch_module, uniform
from noise_models.torch_fill import dot_pattern_window, hole_fill, inverse_depth_smooth


def _range(st: S.RangeGate, b: TorchBatch, g):
    z = b.depth
    return z * ((z >= st.z_min) & (z <= st.z_max))


def _shadow(st: S.ProjectorShadow, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    d = torch.where(z > 0, float(b.intrinsics.fx * st.baseline_m) / z.clamp_min(1e-12), torch.zeros_like(z))
    if st.side < 0:
        d = d.flip(-1)
    gg = d - torch.arange(z.shape[-1], device=z.device, dtype=z.dtype)
    right = gg.flip(-1).cummax(-1).values.flip(-1)  # max over pixels at or right of each pixel
    blocker = torch.full_like(gg, -math.inf)
    blocker[..., :-1] = right[..., 1:]
    shadow = blocker > gg + 1e-4
    if st.side < 0:
        shadow = shadow.flip(-1)
    return torch.where(shadow, torch.zeros_like(z), z)


def _incidence(st: S.IncidenceDropout, b: TorchBatch, g):
    cos = incidence_cos(b)
    c0, c1 = math.cos(math.radians(st.theta0_deg)), math.cos(math.radians(st.theta1_deg))
    p = ((c0 - cos) / (c0 - c1)).clamp(0, 1)
    return b.depth * ~(uniform(b.depth, g) < p)


def _material(st: S.MaterialDropout, b: TorchBatch, g):
    torch = torch_module()
    if b.class40 is None:
        raise ValueError("MaterialDropout needs per-pixel class40 labels")
    lut = torch.zeros(256, device=b.depth.device)
    for cls, p in st.drop:
        lut[int(cls)] = p
    p = lut[b.class40.long()]
    return b.depth * ~(uniform(b.depth, g) < p)


def _jitter(st: S.LateralJitter, b: TorchBatch, g):
    torch = torch_module()
    F = torch.nn.functional
    z = b.depth
    if st.sigma_px == 0:  # no shift (the numpy stage's shortcut too)
        return z.clone()
    n, h, w = z.shape
    shift = normal(z, g, (n, h, w, 2)) * st.sigma_px
    xs = torch.arange(w, device=z.device, dtype=z.dtype)[None, None, :] + shift[..., 0]
    ys = torch.arange(h, device=z.device, dtype=z.dtype)[None, :, None] + shift[..., 1]
    grid = torch.stack([(xs + 0.5) / w * 2 - 1, (ys + 0.5) / h * 2 - 1], dim=-1)  # align_corners=False
    valid = (z > 0).to(z.dtype)
    inv = torch.where(z > 0, 1.0 / z.clamp_min(1e-12), torch.zeros_like(z))
    src = torch.stack([inv, valid], dim=1)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    inv_s, valid_s = out[:, 0], out[:, 1]
    ok = (valid_s > 0.9999) & (inv_s > 0)
    return torch.where(ok, 1.0 / inv_s.clamp_min(1e-12), torch.zeros_like(z))


def _disparity(st: S.DisparityNoise, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    f = float(st.lattice)
    k = torch.where(z > 0, f / z.clamp_min(1e-12), torch.zeros_like(z))
    k = torch.round(k + st.sigma_units * normal(z, g))
    return torch.where((k >= 1) & (z > 0), f / k.clamp_min(1), torch.zeros_like(z))


def _border(st: S.InvalidBorder, b: TorchBatch, g):
    z = b.depth.clone()
    h, w = z.shape[-2:]
    le, r = int(round(st.left * w)), int(round(st.right * w))
    t, bo = int(round(st.top * h)), int(round(st.bottom * h))
    z[..., :, :le] = 0
    z[..., :, w - r :] = 0
    z[..., :t, :] = 0
    z[..., h - bo :, :] = 0
    return z


def _pixel_shift(st: S.PixelShift, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    n, h, w = z.shape
    ys = (torch.arange(h, device=z.device)[None, :, None] + st.sigma_px * normal(z, g)).round().clamp(0, h - 1).long()
    xs = (torch.arange(w, device=z.device)[None, None, :] + st.sigma_px * normal(z, g)).round().clamp(0, w - 1).long()
    k = max(int(st.block), 1)
    ys, xs = ys - ys % k, xs - xs % k
    idx = (ys * w + xs).reshape(n, -1)
    return z.reshape(n, -1).gather(1, idx).reshape(n, h, w)


def _redwood(st: S.RedwoodDistortion, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    n, h, w = z.shape
    cells = torch.from_numpy(np.array(distortion.redwood_cells(h, w))).to(z.device)  # (h*w, 5)
    pos = ((z.reshape(n, -1) - 1.0) * 0.5).clamp(0, 4)
    i0 = pos.long().clamp(max=3)
    a = pos - i0
    c = cells[None].expand(n, -1, -1)
    f0, f1 = c.gather(2, i0[..., None])[..., 0], c.gather(2, (i0 + 1)[..., None])[..., 0]
    f = ((1 - a) * f0 + a * f1).reshape(n, h, w)
    ok = (f >= 1e-5) & (z > 0)
    return torch.where(ok, z / f.clamp_min(1e-5), torch.zeros_like(z))


def _smooth(st: S.SmoothDistortion, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    if st.amplitude == 0:
        return z.clone()
    n, h, w = z.shape
    step = max(st.length * w, 1.0)
    gh, gw = int(math.ceil(h / step)) + 4, int(math.ceil(w / step)) + 4
    grid = normal(z, g, (n, 1, gh, gw))
    up = torch.nn.functional.interpolate(
        grid, size=(int(round(gh * step)), int(round(gw * step))), mode="bicubic", align_corners=False
    )[:, 0]
    off = int(round(2 * step))
    field = up[:, off : off + h, off : off + w] * (st.amplitude / distortion.BICUBIC_STD)
    return torch.where(z > 0, (z + field * z * z).clamp_min(0), torch.zeros_like(z))


def _tof(st: S.ToFNoise, b: TorchBatch, g):
    torch = torch_module()
    z = b.depth
    mm = st.c0 + z * (st.c1 + z * st.c2)
    if st.c_angle:
        theta = torch.arccos(incidence_cos(b).clamp(max=1.0)).clamp(max=math.radians(st.theta_max_deg))
        mm = mm + st.c_angle * z * z.sqrt() * (theta / (math.pi / 2 - theta)) ** 2
    out = z + mm.clamp_min(0) * 1e-3 * normal(z, g)
    return torch.where(z > 0, out.clamp_min(0), torch.zeros_like(z))


def _flying(st: S.FlyingPixels, b: TorchBatch, g):
    torch = torch_module()
    F = torch.nn.functional
    z = b.depth
    r = int(st.radius_px)
    far = F.max_pool2d(z[:, None], 2 * r + 1, 1, r)[:, 0]
    near = -F.max_pool2d(-torch.where(z > 0, z, torch.full_like(z, math.inf))[:, None], 2 * r + 1, 1, r)[:, 0]
    edge = (z > 0) & (far - near > st.jump_m) & torch.isfinite(near)
    pick = edge & (uniform(z, g) < st.probability)
    a = uniform(z, g)
    return torch.where(pick, a * near.nan_to_num(0, 0, 0) + (1 - a) * far, z)


def _multipath(st: S.Multipath, b: TorchBatch, g):
    torch = torch_module()
    F = torch.nn.functional
    if st.gain == 0:
        return b.depth.clone()
    if b.normals is None:
        raise ValueError("Multipath needs per-pixel normals; render with normals=True")
    z_full = b.depth
    n, full_h, full_w = z_full.shape
    step = max(full_w // 160, 1)
    z = z_full[:, step // 2 :: step, step // 2 :: step]
    normals = b.normals[:, step // 2 :: step, step // 2 :: step]
    k = b.intrinsics
    rays = torch.from_numpy(
        np.array(
            tof.unit_rays_subsampled(
                int(k.width), int(k.height), float(k.fx), float(k.fy), float(k.cx), float(k.cy), step
            )
        )
    ).to(z.device)
    points = rays * (z / rays[..., 2].clamp_min(1e-6))[..., None]
    h, w = z.shape[-2:]
    rad = max(st.radius * w, 1.0)
    p = int(math.ceil(rad))
    padded = F.pad(torch.cat([points, z[..., None]], -1).permute(0, 3, 1, 2), (p, p, p, p), mode="replicate").permute(
        0, 2, 3, 1
    )
    score = torch.zeros_like(z)
    for angle in np.arange(int(st.samples)) * (2 * np.pi / int(st.samples)):
        dx, dy = int(round(rad * np.cos(angle))), int(round(rad * np.sin(angle)))
        q = padded[:, p + dy : p + dy + h, p + dx : p + dx + w]
        diff = q[..., :3] - points
        elev = (diff * normals).sum(-1) / diff.norm(dim=-1).clamp_min(1e-6)
        ok = (q[..., 3] > 0) & (z > 0)
        score += torch.where(ok, elev.clamp(0, 1), torch.zeros_like(elev))
    score = score / int(st.samples)
    if step > 1:
        score = F.interpolate(score[:, None], size=(full_h, full_w), mode="bilinear", align_corners=False)[:, 0]
    return z_full * (1 + st.gain * score)


def _fov(st: S.StereoFOV, b: TorchBatch, g):
    torch = torch_module()
    from synthcam_core.geometry.pinhole import pixel_centres  # imports torch

    z = b.depth
    d = torch.where(z > 0, float(b.intrinsics.fx * st.baseline_m) / z.clamp_min(1e-12), torch.zeros_like(z))
    u = pixel_centres(z.shape[-2], z.shape[-1], z.dtype, z.device)[0]
    if st.side < 0:
        u = u.flip(0)
    return torch.where(u < d, torch.zeros_like(z), z)


def _far(st: S.DistanceDropout, b: TorchBatch, g):
    z = b.depth
    p = ((z - st.z_start) / (st.z_end - st.z_start)).clamp(0, 1) * st.p_max
    return z * ~(uniform(z, g) < p)


#: Explicit registry: numpy stage type -> torch implementation.
TORCH_STAGES: dict[type, Callable] = {
    S.RangeGate: _range,
    S.ProjectorShadow: _shadow,
    S.IncidenceDropout: _incidence,
    S.MaterialDropout: _material,
    S.LateralJitter: _jitter,
    S.DisparityNoise: _disparity,
    S.InvalidBorder: _border,
    S.PixelShift: _pixel_shift,
    S.RedwoodDistortion: _redwood,
    S.SmoothDistortion: _smooth,
    S.ToFNoise: _tof,
    S.FlyingPixels: _flying,
    S.Multipath: _multipath,
    S.StereoFOV: _fov,
    S.DistanceDropout: _far,
    S.HoleFill: hole_fill,
    S.DotPatternWindow: dot_pattern_window,
    InverseDepthSmooth: inverse_depth_smooth,
}


def torch_presets() -> list[str]:
    """Presets whose every stage has a torch implementation."""
    return [name for name, build in PRESETS.items() if all(type(s) in TORCH_STAGES for s in build().values())]


@dataclass(frozen=True)
class TorchNoise:
    """A preset on torch batches: ``noise(batch, generator) -> (B, H, W) float32 depth``; input untouched."""

    name: str
    stages: dict

    @property
    def needs_normals(self) -> bool:
        return any(s.needs_normals for s in self.stages.values())

    @property
    def needs_incidence(self) -> bool:
        """Whether a stage reads the incidence angle (``incidence``, or derived from ``normals``)."""
        return any(s.needs_incidence for s in self.stages.values())

    def __call__(self, batch: TorchBatch, generator=None):
        import dataclasses

        depth = batch.depth
        for stage in self.stages.values():
            depth = TORCH_STAGES[type(stage)](stage, dataclasses.replace(batch, depth=depth), generator)
        return depth.clone() if depth is batch.depth else depth


def make_torch(name: str, params: Mapping[str, float] | None = None) -> TorchNoise:
    """Build preset ``name`` (same parameters and overrides as :func:`noise_models.make`) for torch batches."""
    model = make(name, params)
    missing = sorted({type(s).__name__ for s in model.stages.values() if type(s) not in TORCH_STAGES})
    if missing:
        raise NoiseConfigError(
            f"noise preset {name!r} has no torch version (stages {', '.join(missing)}); "
            f"torch presets: {', '.join(torch_presets())}"
        )
    return TorchNoise(name, dict(model.stages))
