"""SegNet training throughput: our training step vs a plain eager reference, same run, same batches.

*ours*: ``segnet.train.train_one_epoch`` exactly as ``synthcam train`` runs it: encoding on the
device, channels_last, bf16 autocast, fused AdamW, ``cudnn.benchmark``, class-weighted loss without
host synchronisation, optionally ``torch.compile`` (``--compile``).
*reference*: the same architecture and encoding in a plain eager loop: contiguous tensors, bf16
autocast, unfused AdamW, ``cudnn.benchmark`` off, ``loss.item()`` every step.

On CPU both run in float32 without autocast (a smoke test of the script: ``--device cpu --size
64x48 --steps 2``). Batches are fixed analytic-room frames already on the device, so the figures
are compute only (data loading is measured separately by ``synthcam train``'s per-epoch data-wait
time). Prints img/s and peak device memory per size, and the ratio ours / reference.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from segnet.encodings import check_encoding, encode_batch
from segnet.models import make_model
from segnet.synthetic import SyntheticRooms
from segnet.train import StepContext, train_one_epoch


def make_batch(width: int, height: int, batch_size: int, classes: int, device: torch.device) -> dict:
    frames = [SyntheticRooms(batch_size, width, height, classes=classes, seed=0)[i] for i in range(batch_size)]
    return {k: v.to(device) for k, v in torch.utils.data.default_collate(frames).items()}


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def run_ours(args, batch: dict, device: torch.device) -> dict:
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = cuda
    torch.manual_seed(0)
    model = make_model(args.model, check_encoding(args.encoding), args.classes, args.model_width).to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True if cuda else None)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    weights = torch.ones(args.classes, device=device)
    ctx = StepContext(
        torch.compile(model) if args.compile else model,
        args.encoding,
        device,
        weights,
        autocast=cuda,
        channels_last=cuda,
    )
    train_one_epoch(ctx, [batch] * args.warmup, opt, sched)
    _peak_reset(device)
    stats = train_one_epoch(ctx, [batch] * args.steps, opt, sched)
    return {"images_per_s": stats["images_per_s"], "peak_gib": _peak_gib(device)}


def run_reference(args, batch: dict, device: torch.device) -> dict:
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(0)
    model = make_model(args.model, check_encoding(args.encoding), args.classes, args.model_width).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=False)

    def step() -> float:
        x = encode_batch(args.encoding, batch, device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), batch["label"] - 1, ignore_index=-1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    _peak_reset(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if cuda:
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {"images_per_s": args.steps * args.batch_size / elapsed, "peak_gib": _peak_gib(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", default="320x240,640x480", help="Comma-separated WIDTHxHEIGHT list.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="Timed steps per configuration.")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--model", default="segnet")
    parser.add_argument("--model-width", type=float, default=1.0)
    parser.add_argument("--encoding", default="DHA")
    parser.add_argument("--classes", type=int, default=13)
    parser.add_argument("--compile", action="store_true", help="torch.compile our model.")
    parser.add_argument("--json", default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    for text in args.size.split(","):
        width, height = (int(v) for v in text.lower().split("x"))
        batch = make_batch(width, height, args.batch_size, args.classes, device)
        ref = run_reference(args, batch, device)
        ours = run_ours(args, batch, device)
        rows.append(
            {
                "size": f"{width}x{height}",
                "reference": ref,
                "ours": ours,
                "speedup": ours["images_per_s"] / ref["images_per_s"],
            }
        )
        gib = lambda v: "n/a" if v is None else f"{v:.2f} GiB"  # noqa: E731
        print(
            f"{width}x{height} batch {args.batch_size} on {device}: reference {ref['images_per_s']:.1f} img/s "
            f"(peak {gib(ref['peak_gib'])}), ours {ours['images_per_s']:.1f} img/s (peak {gib(ours['peak_gib'])}), "
            f"ratio {rows[-1]['speedup']:.2f}x"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
