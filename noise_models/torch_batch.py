"""Torch batches of frames for the torch noise stages, and the draws and angles the stages share.

:class:`TorchBatch` holds (B, H, W) tensors on one device; :func:`uniform` and :func:`normal` draw float32
noise from a ``torch.Generator`` on the batch's device; :func:`incidence_cos` is the incidence angle the
angle-dependent stages read. torch is imported lazily (:func:`torch_module`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthcam_core.geometry.rays import unit_rays
from synthcam_core.geometry.surface import incidence


@dataclass(frozen=True)
class TorchBatch:
    """depth (B, H, W) float32 metres, 0 = invalid; normals (B, H, W, 3) float32 camera frame or None;
    class40 (B, H, W) uint8 or None; intrinsics shared by the batch (``width, height, fx, fy, cx, cy``);
    incidence (B, H, W) float32 |cos theta| or None (read instead of ``normals`` by angle-only stages)."""

    depth: Any
    normals: Any
    class40: Any
    intrinsics: Any
    incidence: Any = None


def torch_module():
    """The torch module, imported on first use."""
    import torch

    return torch


def _rays(batch: TorchBatch):
    """(H, W, 3) unit viewing rays of the batch's camera, on its device."""
    torch = torch_module()
    k, dev = batch.intrinsics, batch.depth.device
    rays = torch.from_numpy(np.array(unit_rays(k))).to(dev)
    return rays  # (H, W, 3)


def incidence_cos(batch: TorchBatch):
    """(B, H, W) |cos| of the incidence angle: ``batch.incidence``, else from its normals and the rays."""
    if batch.incidence is not None:
        return batch.incidence
    if batch.normals is None:
        raise ValueError("this noise stage needs the incidence angle; pass incidence or normals")
    return incidence(batch.normals, _rays(batch))


def uniform(z, g):
    """Uniform [0, 1) draws shaped and typed like ``z``, from generator ``g`` on its device."""
    return torch_module().rand(z.shape, generator=g, device=z.device, dtype=z.dtype)


def normal(z, g, shape=None):
    """Standard normal draws shaped like ``z`` (or ``shape``), typed like it, from ``g`` on its device."""
    return torch_module().randn(shape or z.shape, generator=g, device=z.device, dtype=z.dtype)
