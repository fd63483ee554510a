"""Depth-only SegNet: input encodings, models, training, metrics and evaluation.

Public names are available flat (``from segnet import make_model, encode, TrainConfig``); they
are imported on first use, so importing one submodule (e.g. ``synthcam_core.sample``) stays light. The
training and evaluation drivers are ``segnet.train.train`` and ``segnet.evaluate.evaluate``.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MODELS": "segnet.models",
    "make_model": "segnet.models",
    "mc_dropout_predict": "segnet.models",
    "SegNet": "segnet.models",
    "ENCODINGS": "segnet.encodings",
    "encode": "segnet.encodings",
    "encode_numpy": "segnet.encodings",
    "Confusion": "segnet.metrics",
    "confusion_matrix": "segnet.metrics",
    "scores": "segnet.metrics",
    "TrainConfig": "segnet.config",
    "load_checkpoint": "segnet.checkpoint",
    "SyntheticRooms": "segnet.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'segnet' has no attribute {name!r}")
