"""``synthcam evaluate``: score a checkpoint on NYUv2, SUN RGB-D, a folder of real PNGs or shards (thin wrapper)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli.choices import CLASS_SPACES
from cli.dataset_options import refuse_ignored_options
from cli.json_output import check_json_out, emit_json, json_option, same_place, text_echo, to_stdout
from segnet.limits import MAX_BATCH_SIZE, MAX_MC_SAMPLES, MAX_NUM_WORKERS
from synthcam_core.errors import SynthcamError

DATASET_CHOICES = ("shards", "nyuv2", "sunrgbd", "synthetic", "real")
"""segnet.train_data.EVAL_DATASETS, spelled out so that the command line needs no torch to start (a test
keeps the two equal)."""
SPLIT_CHOICES = ("train", "test", "val")
"""segnet.evaluate.SPLITS, spelled out likewise."""

_APPLIES_TO = {
    "split": ("nyuv2", "sunrgbd", "synthetic", "shards"),
    "real_depth": ("nyuv2", "sunrgbd", "real"),
    "depth": ("shards",),
}
"""Datasets each of these options changes; given for another dataset it would be silently ignored."""


@click.command()
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A .pt file from 'synthcam train' (read as tensors and plain values only; never runs code).",
)
@click.option(
    "--dataset",
    type=click.Choice(DATASET_CHOICES),
    default="nyuv2",
    show_default=True,
    help="nyuv2, sunrgbd, real (a folder of labelled depth PNGs), shards or synthetic.",
)
@click.option(
    "--data",
    "data_path",
    default="",
    help="nyu_depth_v2_labeled.mat, the SUN RGB-D root, a folder of real PNGs, or a directory of shards "
    "(with --split val: default the training data the checkpoint recorded).",
)
@click.option("--path", "old_path", default=None, hidden=True, help="Former name of --data.")
@click.option(
    "--classes",
    type=click.Choice(CLASS_SPACES),
    default=None,
    help="Class space (default: the checkpoint's; given, it must match the checkpoint).",
)
@click.option(
    "--split",
    type=click.Choice(SPLIT_CHOICES),
    default=None,
    help="nyuv2, sunrgbd, synthetic: train or test (default test; NYUv2 test = the 654 frames); val: the "
    "frames the checkpoint's run validated on (its --dataset; shards: its validation shards). "
    "Without it a shard directory or real folder is read whole.",
)
@click.option(
    "--frames",
    "frames_spec",
    default=None,
    help="Score only these frames: 0-based positions in the split (NYUv2 test: 0..653), as 0,1,9 or "
    "@FILE (indices separated by commas, spaces or new lines; '#' comments).",
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=4, show_default=True)
@click.option(
    "--num-workers",
    type=click.IntRange(0, MAX_NUM_WORKERS),
    default=0,
    show_default=True,
    help="DataLoader worker processes (at most the usable CPU cores).",
)
@click.option(
    "--protocol",
    type=click.Choice(["train", "native", "scenenet224", "all"]),
    default="train",
    show_default=True,
    help="train: the network at the checkpoint's training resolution (depth resized, aspect kept; prediction "
    "resized back to the label, nearest); native: at each frame's own resolution; scenenet224: SceneNet's "
    "(ground truth and depth resized to 224x224, nearest); all: the three.",
)
@click.option(
    "--mc-samples",
    type=click.IntRange(0, MAX_MC_SAMPLES),
    default=0,
    show_default=True,
    help="Average this many dropout samples (Bayesian SegNet models; 0 = one plain pass).",
)
@click.option(
    "--depth", type=click.Choice(["noisy", "clean"]), default="noisy", show_default=True, help="Shard depth to use."
)
@click.option(
    "--real-depth",
    type=click.Choice(["filled", "raw"]),
    default="filled",
    show_default=True,
    help="Depth of nyuv2, sunrgbd and real: filled (in-painted: NYUv2 depths, NAME_depth.png) or raw "
    "(NYUv2 rawDepths, NAME_raw.png, 0 = missing).",
)
@click.option(
    "--intrinsics",
    default=None,
    help="--dataset real: camera of the PNGs, nyuv2, sunrgbd_kv2 or fx,fy,cx,cy "
    "(default: the folder's intrinsics.yaml).",
)
@click.option(
    "--gravity",
    type=click.Choice(["level", "nyuv2", "file"]),
    default=None,
    help="--dataset real: down direction of each frame: level camera, NYUv2's own per-frame gravity (frames "
    "named by their 1-based NYUv2 number, NNNN_*.png), or the folder's gravity.yaml "
    "(default: gravity.yaml if present, else level).",
)
@json_option("Also write the results as JSON")
@click.option(
    "--predictions",
    "predictions_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write SPLIT_INDEX.png pictures (depth | prediction | ground truth, one fixed colour per class, "
    "a legend of the classes shown) to this directory.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(
    checkpoint,
    dataset,
    data_path,
    old_path,
    classes,
    split,
    frames_spec,
    device,
    batch_size,
    num_workers,
    protocol,
    mc_samples,
    depth,
    real_depth,
    intrinsics,
    gravity,
    json_path,
    predictions_dir,
    quiet,
) -> None:
    """Print per-class accuracy and IoU, global accuracy, class-average accuracy and mIoU (void ignored).

    Example: `synthcam evaluate --checkpoint runs/dha13/best.pt --dataset nyuv2
    --data nyu_depth_v2_labeled.mat --json nyu13.json`; on labelled NYUv2 frames in a folder
    of PNGs: `synthcam evaluate --checkpoint best.pt --dataset real --data nyuv2_train --intrinsics nyuv2
    --gravity nyuv2`; on the shards the run validated on: `synthcam evaluate --checkpoint runs/dha13/best.pt
    --dataset shards --split val`. The class space and input encoding are the checkpoint's.
    """
    from tqdm import tqdm

    from segnet.evaluate import PROTOCOLS, parse_frames
    from segnet.evaluate import evaluate as run_evaluation
    from segnet.metrics import format_scores

    if old_path is not None:
        if data_path:
            raise SynthcamError("--path is the former name of --data; pass --data only")
        data_path = old_path
    target = (
        Path(os.path.realpath(json_path)) if json_path is not None and not to_stdout(json_path) else None
    )  # a link's file
    if target is not None and not target.parent.is_dir():
        raise SynthcamError(f"--json {json_path}: directory {target.parent} does not exist")
    if target is not None and target.exists() and not target.is_file():  # a pipe would block the write at the end
        raise SynthcamError(f"--json {json_path} is not a regular file (a pipe or device); pass a file name")
    if target is not None:
        check_json_out(target)  # never a checkpoint, shard or PNG named by mistake
    if predictions_dir is not None and dataset == "real" and data_path and same_place(predictions_dir, Path(data_path)):
        raise SynthcamError(
            f"--predictions {predictions_dir} is the real folder (its PNGs would be read as frames); "
            "pass another directory"
        )
    if dataset != "synthetic" and not data_path and split != "val":
        raise SynthcamError(f"--data is needed for --dataset {dataset}")
    for name, value in (("--intrinsics", intrinsics), ("--gravity", gravity)):
        if value is not None and dataset != "real":
            raise SynthcamError(f"{name} applies to --dataset real only; leave it out for --dataset {dataset}")
    refuse_ignored_options(dataset, _APPLIES_TO)
    frames = parse_frames(frames_spec) if frames_spec is not None else None
    protocols = PROTOCOLS if protocol == "all" else (protocol,)
    bars: list[tqdm] = []  # the bar opens with the first batch, so a bad checkpoint or path prints only its error line

    def on_batch(count: int) -> None:
        if quiet:
            return
        if not bars:
            bars.append(tqdm(unit="frames", desc="evaluate", dynamic_ncols=True, leave=False))
        bars[0].update(count)

    try:
        result = run_evaluation(
            checkpoint,
            dataset,
            data_path,
            int(classes) if classes else None,
            device=device,
            split=split,
            batch_size=batch_size,
            num_workers=num_workers,
            protocols=protocols,
            predictions_dir=predictions_dir,
            mc_samples=mc_samples,
            depth=depth,
            real_depth=real_depth,
            intrinsics=intrinsics,
            gravity=gravity,
            frames=frames,
            on_batch=on_batch,
        )
    finally:
        for bar in bars:
            bar.close()
    height, width = result["train_size"]
    titles = {
        "train": f"training resolution ({width}x{height})",
        "native": "native resolution",
        "scenenet224": "SceneNet protocol (224x224 nearest)",
    }
    echo = text_echo(json_path)
    for p in protocols:
        echo(format_scores(result[p], f"{titles[p]}, {result['frames']} frames:"))
    if json_path is not None:
        emit_json(json_path, result, indent=1)  # a file: never half-written
        if not to_stdout(json_path):
            echo(f"wrote {json_path}")
    if predictions_dir is not None:
        echo(f"wrote {result['frames']} prediction PNGs to {predictions_dir}")
