"""Evaluation of a trained checkpoint on NYUv2, SUN RGB-D or shards, in two protocols.

- ``full``: the network runs on each frame at its own resolution and is scored against the full
  resolution ground truth.
- ``scenenet224`` (SceneNet's ``getAccuracyNYU.m``): the ground truth is resized to 224 x 224 with
  nearest neighbour (pixel centres), and the prediction is made at that size: the depth is resized
  the same way (intrinsics follow) and encoded at 224 x 224, as SceneNet's network took 224 x 224
  inputs.

Both accumulate one confusion matrix over the whole set (void ignored) and report per-class
accuracy and IoU, global accuracy, class-average accuracy and mIoU (``segnet.metrics``).
``predictions_dir`` receives, per frame, a PNG of the input depth (turbo, invalid white), the
prediction and the ground truth side by side, coloured with one fixed colour per class id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from segnet.checkpoint import load_checkpoint, model_from_checkpoint
from segnet.config import TrainConfig, check_device, usable_cores
from segnet.encodings import encode_batch
from segnet.limits import MAX_BATCH_SIZE, MAX_MC_SAMPLES
from segnet.metrics import SCENENET_SIZE, Confusion, resize_nearest
from segnet.models import mc_dropout_predict
from segnet.runfiles import make_directory
from segnet.train_data import open_dataset
from synthcam.errors import SynthcamError
from synthcam.sample import DEPTH, INDEX, LABEL, check_classes, crop_and_resize

PROTOCOLS = ("full", "scenenet224")


def class_names(classes: int) -> tuple[str, ...]:
    """Names of classes 1..C of a class space (SUN RGB-D's 37 are NYU40's first 37 by name)."""
    from scene_library.labels import class13_names, class37_names, class40_names

    return {13: class13_names, 37: class37_names, 40: class40_names}[check_classes(classes)]()[1:]


def predict(model: torch.nn.Module, encoding: str, batch: dict, device: torch.device, mc_samples: int = 0) -> torch.Tensor:
    """(B, H, W) int64 class ids 1..C for a collated batch (bf16 autocast on cuda)."""
    x = encode_batch(encoding, batch, device)
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        if mc_samples > 1:
            scores = mc_dropout_predict(model, x, mc_samples)
        else:
            scores = model(x)
    return scores.argmax(dim=1) + 1


def _batches(dataset, batch_size: int, workers: int):
    """Lists of samples of equal image size (frames of real datasets may differ in size)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=list)
    for samples in loader:
        group: list[dict] = []
        for s in samples:
            if group and s[DEPTH].shape != group[0][DEPTH].shape:
                yield group
                group = []
            group.append(s)
        if group:
            yield group


def save_prediction_png(path: Path, depth: np.ndarray, pred: np.ndarray, gt: np.ndarray, num_classes: int) -> None:
    """Depth (turbo, invalid white) | prediction | ground truth, side by side, as an RGB PNG."""
    import cv2

    from synthcam.preview import class_palette, colorize_depth

    palette = (class_palette(max(41, num_classes + 1)) * 255).astype(np.uint8)
    valid = depth[depth > 0]
    lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    left = (colorize_depth(depth, lo, max(hi, lo + 1e-3)) * 255).astype(np.uint8)
    gap = np.full((depth.shape[0], 4, 3), 255, dtype=np.uint8)
    image = np.concatenate([left, gap, palette[pred], gap, palette[gt]], axis=1)
    if not cv2.imwrite(str(path), image[..., ::-1]):
        raise SynthcamError(f"cannot write {path}; choose a writable --predictions directory")


def _check_run_settings(device: str, batch_size: int, num_workers: int, mc_samples: int) -> None:
    """One-line errors for a device this machine lacks and counts out of their limits."""
    check_device(device)
    for name, value, high in (("batch-size", batch_size, MAX_BATCH_SIZE), ("num-workers", num_workers, usable_cores()),
                              ("mc-samples", mc_samples, MAX_MC_SAMPLES)):
        low = 1 if name == "batch-size" else 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            limit = " (the usable CPU cores)" if name == "num-workers" else ""
            raise SynthcamError(f"--{name} must be in {low}..{high}{limit}, got {value}")


def evaluate(checkpoint: str | Path, dataset: str, path: str, classes: int, device: str = "cpu", split: str = "test",
             batch_size: int = 4, num_workers: int = 0, protocols: tuple[str, ...] = PROTOCOLS,
             predictions_dir: str | Path | None = None, mc_samples: int = 0, depth: str = "noisy",
             on_batch: Callable[[int], None] | None = None) -> dict:
    """Score ``checkpoint`` on a dataset; returns a JSON-ready dict with one entry per protocol.

    dataset : shards, nyuv2, sunrgbd or synthetic; split : the real datasets' split; mc_samples :
    > 1 averages that many dropout samples (Bayesian SegNet); depth : shards' noisy or clean depth.
    """
    for p in protocols:
        if p not in PROTOCOLS:
            raise SynthcamError(f"unknown protocol {p!r}; choose from {', '.join(PROTOCOLS)}")
    _check_run_settings(device, batch_size, num_workers, mc_samples)
    state = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(state["config"])
    trained = state["model_spec"]["num_classes"]
    if trained != check_classes(classes):
        raise SynthcamError(f"the checkpoint predicts {trained} classes; pass --classes {trained} "
                            f"(or fine-tune it to {classes} classes with 'synthcam train --init')")
    if dataset != "synthetic" and not Path(path).exists():
        raise SynthcamError(f"dataset path {path} does not exist")
    data = open_dataset(dataset, path, split, classes, depth, synthetic_frames=config.synthetic_frames,
                        synthetic_size=(config.height, config.width), seed=config.seed)
    if len(data) == 0:
        raise SynthcamError(f"no frames found in {path}")
    dev = torch.device(device)
    model = model_from_checkpoint(state, checkpoint).to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    out_dir = Path(predictions_dir) if predictions_dir else None
    if out_dir is not None:
        make_directory(out_dir, "--predictions")
    confusions = {p: Confusion(classes) for p in protocols}
    frames = 0
    for group in _batches(data, batch_size, num_workers):
        batch = torch.utils.data.default_collate(group)
        pred = None
        if "full" in protocols or out_dir is not None:
            pred = predict(model, config.encoding, batch, dev, mc_samples).cpu()
        if "full" in protocols:
            confusions["full"].update(batch[LABEL], pred)
        if "scenenet224" in protocols:
            small = torch.utils.data.default_collate([crop_and_resize(s, resize=SCENENET_SIZE) for s in group])
            pred_small = predict(model, config.encoding, small, dev, mc_samples).cpu()
            confusions["scenenet224"].update(resize_nearest(batch[LABEL], SCENENET_SIZE), pred_small)
        if out_dir is not None:
            for i, s in enumerate(group):
                save_prediction_png(out_dir / f"{int(s[INDEX]):06d}.png", s[DEPTH][0].numpy(), pred[i].numpy(),
                                    s[LABEL].numpy(), classes)
        frames += len(group)
        if on_batch is not None:
            on_batch(len(group))
    names = class_names(classes)
    result = {"checkpoint": str(checkpoint), "dataset": dataset, "path": str(path), "split": split, "classes": classes,
              "encoding": config.encoding, "model": state["model_spec"]["name"], "frames": frames,
              "mc_samples": mc_samples}
    for p in protocols:
        result[p] = confusions[p].scores(names)
        result[p]["confusion"] = confusions[p].matrix.tolist()
    return result
