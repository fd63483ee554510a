"""``synthcam train``: train a depth-only SegNet on shards or a real dataset (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.dataset_options import refuse_ignored_options
from segnet.limits import (MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, MAX_MODEL_WIDTH, MAX_NUM_WORKERS, MAX_SEED, MAX_SIDE,
                           MAX_SYNTHETIC_FRAMES, MAX_WEIGHT_DECAY)
from synthcam_core.errors import SynthcamError


@click.command()
@click.option("--data", default="", help="Directory of shards, or the NYUv2 .mat / SUN RGB-D root for --dataset nyuv2|sunrgbd.")
@click.option("--dataset", default="shards", show_default=True, help="shards, nyuv2, sunrgbd, or synthetic (analytic rooms, no files).")
@click.option("--encoding", default="DHA", show_default=True, help="Input encoding: D, DH, DHA or HHA.")
@click.option("--classes", type=int, default=13, show_default=True, help="Class space: 13, 37 or 40.")
@click.option("--model", default="segnet", show_default=True, help="segnet (VGG16-BN) or segnet-basic.")
@click.option("--model-width", type=click.FloatRange(0, MAX_MODEL_WIDTH, min_open=True), default=1.0, show_default=True, help="Channel multiplier of the model.")
@click.option("--dropout", type=float, default=0.0, show_default=True, help="Bayesian SegNet dropout probability (SceneNet's DO rows use 0.5).")
@click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS), default=10, show_default=True, help="Total epochs of the run.")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=8, show_default=True,
              help="Frames per batch; batch size x height x width is at most 2**26 pixels.")
@click.option("--lr", type=click.FloatRange(0, MAX_LR, min_open=True), default=1e-3, show_default=True, help="Peak learning rate (polynomial decay to 0).")
@click.option("--optimizer", default="adamw", show_default=True, help="adamw or sgd (momentum 0.9).")
@click.option("--weight-decay", type=click.FloatRange(0, MAX_WEIGHT_DECAY), default=1e-4, show_default=True)
@click.option("--height", type=click.IntRange(1, MAX_SIDE), default=240, show_default=True, help="Training crop height in pixels.")
@click.option("--width", type=click.IntRange(1, MAX_SIDE), default=320, show_default=True, help="Training crop width in pixels.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Fraction of shards held out for validation (0 = none).")
@click.option("--no-augment", is_flag=True, help="Turn off flip, scale+crop and depth-scale jitter.")
@click.option("--no-balance", is_flag=True, help="Turn off median-frequency class weights.")
@click.option("--depth", type=click.Choice(["noisy", "clean"]), default="noisy", show_default=True, help="Which shard depth to train on.")
@click.option("--real-depth", type=click.Choice(["filled", "raw"]), default="filled", show_default=True,
              help="--dataset nyuv2|sunrgbd: filled (NYUv2 depths, SUN RGB-D depth_bfx) or raw depth (rawDepths, depth; 0 = missing).")
@click.option("--camera-height", type=click.Choice(["estimated", "true"]), default="estimated", show_default=True,
              help="Height channel (DH, DHA, HHA): floor estimated from the depth on every frame, as on real depth, or "
                   "a generated frame's true camera height (real frames estimate it either way).")
@click.option("--synthetic-frames", type=click.IntRange(1, MAX_SYNTHETIC_FRAMES), default=64, show_default=True, help="Frames of --dataset synthetic.")
@click.option("--num-workers", type=click.IntRange(0, MAX_NUM_WORKERS), default=0, show_default=True,
              help="DataLoader worker processes (at most the usable CPU cores).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (bf16 autocast and channels_last on cuda).")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model.")
@click.option("--init", "init", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint whose weights start this run (fine-tuning; a different class count re-initialises the classifier).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from last.pt with its saved settings.")
@click.option("--stop-after", type=click.IntRange(min=1), default=None, help="Stop after this many epochs in this call (continue later with --resume).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Run directory for checkpoints (.pt), logs and curves.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(data, dataset, encoding, classes, model, model_width, dropout, epochs, batch_size, lr, optimizer, weight_decay,
          height, width, val_fraction, no_augment, no_balance, depth, real_depth, camera_height, synthetic_frames,
          num_workers, seed, device, compile_, init, resume, stop_after, out_dir, quiet) -> None:
    """Train a depth-only SegNet; writes last.pt, best.pt, TensorBoard logs and curves.png to --out.

    Example: `synthcam train --data out/ --encoding DHA --classes 13 --model segnet --epochs 30
    --batch-size 16 --device cuda --out runs/dha13`.

    Every number must be finite and inside the range its option shows. A new run needs an --out
    without run files. A loss that turns NaN or infinite stops the run (exit 2) and saves nothing of
    that epoch. --init and --resume read only checkpoints of tensors and plain values (never code).
    """
    from segnet.config import TrainConfig
    from segnet.train import train as run_training

    refuse_ignored_options(dataset, {"real_depth": ("nyuv2", "sunrgbd"), "depth": ("shards",)})
    if not resume and (out_dir / "last.pt").exists():
        raise SynthcamError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not (out_dir / "last.pt").exists():
        raise SynthcamError(f"nothing to resume: {out_dir / 'last.pt'} does not exist")
    config = TrainConfig(data=data, dataset=dataset, encoding=encoding, classes=classes, model=model, model_width=model_width,
                         dropout=dropout, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                         weight_decay=weight_decay, height=height, width=width, val_fraction=val_fraction,
                         augment=not no_augment, balance=not no_balance, depth=depth, real_depth=real_depth,
                         camera_height=camera_height, synthetic_frames=synthetic_frames,
                         num_workers=num_workers, seed=seed, device=device, compile=compile_,
                         init=str(init) if init else "")
    if not resume:
        config.validate()
    record = run_training(config, out_dir, resume=resume, stop_after=stop_after, progress=not quiet, log=click.echo)
    click.echo(f"run in {out_dir}: last.pt, best.pt, curves.png (epoch {record.get('epoch', 0)})")
