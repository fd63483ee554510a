"""The three evaluation protocols: at which size the network sees a frame and what it is scored against.

- ``train`` (the default): the network sees each frame as training saw it, at the checkpoint's
  training resolution (its config's height x width). The depth is resized with nearest neighbour at
  pixel centres, intrinsics following (:func:`synthcam_core.sample.crop_and_resize`), to
  :func:`segnet.train_data.network_size`: a frame of the training aspect (640 x 480 for a 320 x 240
  run) goes to exactly the training size; a frame of another aspect is scaled by the zoom at which
  training's crops just cover a frame, keeping its aspect, so the whole frame is seen at the scale
  and shape of training's least-zoomed crops (one side then exceeds the training size; the models
  take any size). A run trained without augmentation squashed its frames to the training size,
  and so does this protocol for it. The prediction is resized back (nearest, pixel centres) to the
  label's size and scored against every labelled pixel.
- ``native``: the network runs on each frame at its own resolution (the protocol once called
  ``full``); a model trained at 320 x 240 then sees every object of a 640 x 480 frame twice as large
  as in training.
- ``scenenet224`` (SceneNet's ``getAccuracyNYU.m``): the ground truth is resized to 224 x 224 with
  nearest neighbour (pixel centres), and the prediction is made at that size: the depth is resized
  the same way (intrinsics follow) and encoded at 224 x 224, as SceneNet's network took 224 x 224
  inputs.

The height channel takes its camera height as the checkpoint's run did (``camera_height`` of its
config, :func:`segnet.encodings.encode_batch`).
"""

from __future__ import annotations

import torch

from segnet.config import TrainConfig
from segnet.encodings import encode_batch
from segnet.metrics import SCENENET_SIZE, resize_nearest
from segnet.models import mc_dropout_predict
from segnet.train_data import network_size
from synthcam_core.sample import LABEL, crop_and_resize

PROTOCOLS = ("train", "native", "scenenet224")
"""Evaluation protocols (module docstring), in the order they are reported."""


def predict(
    model: torch.nn.Module,
    encoding: str,
    batch: dict,
    device: torch.device,
    mc_samples: int = 0,
    camera_height: str = "estimated",
) -> torch.Tensor:
    """(B, H, W) int64 class ids 1..C for a collated batch (bf16 autocast on cuda); camera_height as
    in :func:`segnet.encodings.encode_batch`."""
    x = encode_batch(encoding, batch, device, camera_height)
    with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        if mc_samples > 1:
            scores = mc_dropout_predict(model, x, mc_samples)
        else:
            scores = model(x)
    return scores.argmax(dim=1) + 1


def run_protocol(
    protocol: str,
    model: torch.nn.Module,
    config: TrainConfig,
    group: list[dict],
    device: torch.device,
    mc_samples: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One protocol on samples of one size: (ground truth it is scored against, prediction at that
    size, prediction at the label's size), int64 CPU tensors (B, h, w) (see the module docstring)."""
    batch = torch.utils.data.default_collate(group)
    label = batch[LABEL]
    h, w = label.shape[-2:]
    if protocol == "scenenet224":
        size = SCENENET_SIZE
    elif protocol == "train":
        size = network_size(h, w, (config.height, config.width), keep_aspect=config.augment)
    else:
        size = (h, w)
    inputs = (
        batch
        if tuple(size) == (h, w)
        else torch.utils.data.default_collate([crop_and_resize(s, resize=size) for s in group])
    )
    pred = predict(model, config.encoding, inputs, device, mc_samples, config.camera_height).cpu()
    full = pred if tuple(size) == (h, w) else resize_nearest(pred, (h, w))
    if protocol == "scenenet224":
        return resize_nearest(label, SCENENET_SIZE), pred, full
    return label, full, full
