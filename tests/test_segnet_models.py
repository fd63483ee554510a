"""SegNet and SegNet-Basic: shapes, options, registry, MC dropout, and overfitting a fixed batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segnet.encodings import encode_batch
from segnet.models import MODELS, make_model, mc_dropout_predict
from segnet.synthetic import SyntheticRooms
from synthcam_core.errors import SynthcamError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("in_ch,classes,size", [(1, 13, (24, 32)), (3, 40, (37, 50)), (2, 5, (48, 64))])
def test_output_shape_any_channels_and_size(name, in_ch, classes, size):
    model = make_model(name, in_ch, classes, width=0.125)
    x = torch.randn(2, in_ch, *size)
    y = model(x)
    assert y.shape == (2, classes, *size)
    y.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name", list(MODELS))
def test_channels_last_matches_contiguous(name):
    torch.manual_seed(0)
    model = make_model(name, 3, 7, width=0.125).eval()
    x = torch.randn(1, 3, 40, 56)
    ref = model(x)
    out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_architectures():
    vgg = make_model("segnet", 3, 12)
    convs = [m for m in vgg.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and len(vgg.encoder) == 5
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert 29.0e6 < sum(p.numel() for p in vgg.parameters()) < 29.6e6  # SegNet's published 29.5 M
    basic = make_model("segnet-basic", 1, 13)
    enc = [m for m in basic.encoder.modules() if isinstance(m, nn.Conv2d)]
    dec = [m for m in basic.decoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(enc) == 4 and len(dec) == 4
    assert all(c.kernel_size == (7, 7) and c.out_channels == 64 for c in enc + dec)
    half = make_model("segnet-basic", 1, 13, width=0.5)
    assert all(m.out_channels == 32 for m in half.encoder.modules() if isinstance(m, nn.Conv2d))


def test_dropout_variant_placement():
    plain = make_model("segnet", 1, 13, width=0.0625)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    bayes = make_model("segnet", 1, 13, width=0.0625, dropout=0.5)
    assert [any(isinstance(m, nn.Dropout) for m in block.modules()) for block in bayes.encoder] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert [any(isinstance(m, nn.Dropout) for m in block.modules()) for block in bayes.decoder] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_mc_dropout_averages_samples_and_restores_mode():
    torch.manual_seed(0)
    model = make_model("segnet-basic", 1, 4, width=0.25, dropout=0.5).train()
    x = torch.rand(1, 1, 32, 32)
    probs = mc_dropout_predict(model, x, samples=6)
    assert model.training
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, 32, 32))
    single = mc_dropout_predict(model, x, samples=1)
    model.eval()
    torch.testing.assert_close(single, torch.softmax(model(x), dim=1))
    assert not torch.allclose(probs, single)  # dropout samples differ from the deterministic pass


def test_registry_errors_name_choices():
    with pytest.raises(SynthcamError, match="segnet-basic"):
        make_model("unet", 1, 13)
    with pytest.raises(SynthcamError, match="width"):
        make_model("segnet", 1, 13, width=0.0)
    with pytest.raises(SynthcamError, match="dropout"):
        make_model("segnet", 1, 13, dropout=1.0)


@pytest.mark.parametrize("name,width,steps", [("segnet-basic", 0.25, 40), ("segnet", 0.125, 60)])
def test_tiny_model_overfits_fixed_batch(name, width, steps):
    torch.manual_seed(0)
    batch = torch.utils.data.default_collate([SyntheticRooms(4, 32, 24, classes=13)[i] for i in range(4)])
    x = encode_batch("DHA", batch)
    target = batch["label"] - 1
    model = make_model(name, 3, 13, width=width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), target, ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] <= 0.1 * losses[0], (losses[0], losses[-1])
