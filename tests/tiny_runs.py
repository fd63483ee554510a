"""The smallest training configuration the tests train: a quarter-width SegNet-Basic on 32x24 DH inputs of
the synthetic dataset, 13 classes, one epoch (overridable)."""

from __future__ import annotations

from segnet.config import TrainConfig


def tiny_config(**overrides) -> TrainConfig:
    """A :class:`TrainConfig` that trains in about a second; ``overrides`` replace any field."""
    base = dict(
        dataset="synthetic",
        synthetic_frames=16,
        model="segnet-basic",
        model_width=0.25,
        height=24,
        width=32,
        batch_size=4,
        encoding="DH",
        classes=13,
        epochs=1,
        lr=5e-3,
        val_fraction=0.25,
    )
    base.update(overrides)
    return TrainConfig(**base)
