"""SegNet encoder-decoder models for depth-only semantic segmentation.

Two architectures, chosen by name from :data:`MODELS` through :func:`make_model`:

- ``"segnet"``: SegNet (Badrinarayanan et al.) with a VGG16-BN encoder: 13 convolutions (3x3, batch
  norm, ReLU) in 5 stages of 2, 2, 3, 3, 3 layers with 64, 128, 256, 512, 512 channels, each stage
  ending in a 2x2 max-pool whose indices are kept. The decoder mirrors it: each stage un-pools with
  those indices (``max_unpool2d``) and applies the same number of 3x3 conv-BN-ReLU layers, the last
  layer of a stage narrowing to the next (shallower) stage's width; a 1x1 convolution gives the logits.
- ``"segnet-basic"``: SegNet-Basic, 4 encoder + 4 decoder layers of 64 channels with 7x7 kernels,
  one conv-BN-ReLU per stage, then a 1x1 classifier.

Options: ``width`` multiplies every channel count (at least 1 channel); ``dropout > 0`` gives the
Bayesian SegNet variant (SceneNet's "DO" rows): dropout with that probability after the deeper half
of the encoder stages and the matching decoder stages ("central" placement of Kendall et al.: for
SegNet encoder stages 3-5 and decoder stages 5-3, for SegNet-Basic stages 3-4). At inference
:func:`mc_dropout_predict` averages the softmax over several dropout samples.

Inputs: (B, in_channels, H, W) float; outputs (B, num_classes, H, W) logits. Any H, W works: the
input is zero-padded at the bottom/right to a multiple of ``2 ** stages`` (32 for SegNet, 16 for
SegNet-Basic; zero is "invalid depth" in every encoding) and the logits are cropped back. Both
contiguous and ``channels_last`` inputs work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from synthcam_core.errors import SynthcamError

VGG16_STAGES: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
"""Channels of the 13 VGG16 convolutions, grouped by pooling stage."""

BASIC_STAGES: tuple[tuple[int, ...], ...] = ((64,), (64,), (64,), (64,))
"""SegNet-Basic: four stages of one 64-channel 7x7 convolution."""


def _conv_bn_relu(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _stage(cin: int, widths: Sequence[int], kernel_size: int, dropout: float) -> nn.Sequential:
    """Conv-BN-ReLU layers of the given output widths, then dropout when ``dropout`` > 0."""
    layers: list[nn.Module] = []
    for c in widths:
        layers += _conv_bn_relu(cin, c, kernel_size)
        cin = c
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class SegNet(nn.Module):
    """Encoder-decoder with max-pooling indices for upsampling (see the module docstring).

    stages : channels per conv layer, grouped per pooling stage (encoder order).
    kernel_size : square kernel of every conv layer (3 for SegNet, 7 for SegNet-Basic).
    dropout : probability of the dropout layers after the deeper half of the stages (0 = none).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        stages: tuple[tuple[int, ...], ...],
        kernel_size: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 1:
            raise SynthcamError(f"in_channels ({in_channels}) and num_classes ({num_classes}) must be at least 1")
        if not 0.0 <= dropout < 1.0:
            raise SynthcamError(f"dropout must be in [0, 1), got {dropout}")
        self.stages = tuple(tuple(int(c) for c in s) for s in stages)
        self.multiple = 2 ** len(self.stages)
        n = len(self.stages)
        deep = set(range(n // 2, n))  # the deeper half of the stages get dropout
        self.encoder = nn.ModuleList()
        cin = in_channels
        for i, chans in enumerate(self.stages):
            self.encoder.append(_stage(cin, chans, kernel_size, dropout if i in deep else 0.0))
            cin = chans[-1]
        self.decoder = nn.ModuleList()
        for i in reversed(range(n)):  # decoder stage i mirrors encoder stage i
            chans = self.stages[i]
            out_last = self.stages[i - 1][-1] if i > 0 else chans[0]
            widths = list(chans[:-1]) + [out_last]
            self.decoder.append(_stage(cin, widths, kernel_size, dropout if i in deep else 0.0))
            cin = widths[-1]
        self.classifier = nn.Conv2d(cin, num_classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, num_classes, H, W) logits."""
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        indices, sizes = [], []
        for block in self.encoder:
            x = block(x)
            sizes.append(x.shape[-2:])
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
        for block in self.decoder:
            x = F.max_unpool2d(x, indices.pop(), (2, 2), (2, 2), output_size=sizes.pop())
            x = block(x)
        x = self.classifier(x)
        return x[..., :h, :w] if (pad_h or pad_w) else x


def _scale(stages: tuple[tuple[int, ...], ...], width: float) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(max(1, round(c * width)) for c in s) for s in stages)


def segnet(in_channels: int, num_classes: int, width: float = 1.0, dropout: float = 0.0) -> SegNet:
    """SegNet with a VGG16-BN encoder (13 conv, 5 pools) and a mirrored decoder."""
    return SegNet(in_channels, num_classes, _scale(VGG16_STAGES, width), kernel_size=3, dropout=dropout)


def segnet_basic(in_channels: int, num_classes: int, width: float = 1.0, dropout: float = 0.0) -> SegNet:
    """SegNet-Basic: 4 + 4 layers of 64 channels with 7x7 kernels."""
    return SegNet(in_channels, num_classes, _scale(BASIC_STAGES, width), kernel_size=7, dropout=dropout)


MODELS: dict[str, Callable[..., SegNet]] = {"segnet": segnet, "segnet-basic": segnet_basic}
"""Model builders by name: ``builder(in_channels, num_classes, width=, dropout=)``."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; stored in checkpoints as a plain dict."""

    name: str
    in_channels: int
    num_classes: int
    width: float = 1.0
    dropout: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def make_model(name: str, in_channels: int, num_classes: int, width: float = 1.0, dropout: float = 0.0) -> SegNet:
    """Build a model by registry name; an unknown name raises with the valid names."""
    if name not in MODELS:
        raise SynthcamError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if width <= 0:
        raise SynthcamError(f"model width must be positive, got {width}")
    return MODELS[name](in_channels, num_classes, width=width, dropout=dropout)


def build(spec: ModelSpec) -> SegNet:
    """The model described by ``spec``."""
    return make_model(spec.name, spec.in_channels, spec.num_classes, spec.width, spec.dropout)


@torch.no_grad()
def mc_dropout_predict(model: nn.Module, x: torch.Tensor, samples: int = 8) -> torch.Tensor:
    """Monte-Carlo dropout: mean softmax (B, C, H, W) over ``samples`` passes with dropout active.

    Batch norm stays in evaluation mode; with ``samples <= 1`` or a model without dropout this is
    one ordinary evaluation pass. The model's train/eval state is restored afterwards.
    """
    was_training = model.training
    model.eval()
    drops = [m for m in model.modules() if isinstance(m, (nn.Dropout, nn.Dropout2d))]
    n = samples if drops and samples > 1 else 1
    for m in drops:
        m.train(n > 1)
    try:
        total = torch.softmax(model(x).float(), dim=1)
        for _ in range(n - 1):
            total = total + torch.softmax(model(x).float(), dim=1)
        probs = total / n
    finally:
        model.train(was_training)
    return probs
