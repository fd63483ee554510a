"""Evaluation of a trained checkpoint on NYUv2, SUN RGB-D, real PNG folders or shards, in three protocols.

The protocols (``train``, ``native``, ``scenenet224``: at which size the network sees a frame and
what its prediction is scored against) are :mod:`segnet.eval_protocols`. Each protocol accumulates
one confusion matrix over the whole set (void ignored) and reports per-class accuracy and IoU,
global accuracy, class-average accuracy and mIoU (``segnet.metrics``). ``frames`` scores a subset:
0-based positions in the chosen split (:func:`parse_frames`); ``split="val"`` scores the frames the
checkpoint's run validated on (:func:`open_split`). ``predictions_dir`` receives, per frame, a PNG
named by split and frame index (``val_000123.png``, :func:`segnet.eval_pictures.prediction_name`) of
the input depth (turbo, invalid white), the prediction of the first protocol in train, native,
scenenet224 order among those asked for (at the label's size) and the ground truth side by side
(:mod:`segnet.eval_pictures`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segnet.checkpoint import load_checkpoint, model_from_checkpoint
from segnet.config import TrainConfig, check_device, usable_cores
from segnet.eval_pictures import prediction_name, save_prediction_png
from segnet.eval_protocols import PROTOCOLS, run_protocol
from segnet.limits import MAX_BATCH_SIZE, MAX_MC_SAMPLES
from segnet.metrics import Confusion
from segnet.rng import in_run_scope
from segnet.runfiles import make_directory
from segnet.train_data import open_dataset
from synthcam_core.errors import SynthcamError
from synthcam_core.sample import DEPTH, INDEX, LABEL, check_classes

MAX_FRAMES_FILE_BYTES = 8 << 20
"""Largest ``--frames @FILE`` read (a million indices of up to seven digits)."""


def parse_frames(spec: str) -> tuple[int, ...]:
    """Frame positions from ``"1,2,9"`` or ``"@FILE"`` (indices separated by commas, spaces or new
    lines; ``#`` starts a comment). 0-based positions in the evaluated split; no duplicates.
    Raises a one-line :class:`SynthcamError` for anything else; the range is checked by
    :func:`check_frames` once the dataset's size is known."""
    source = "--frames"
    text = spec
    if spec.startswith("@"):
        path = Path(spec[1:])
        source = f"--frames file {path}"
        if path.exists() and not path.is_file() and not path.is_dir():  # a pipe would block, a device never end
            raise SynthcamError(
                f"{source} is not a regular file (a pipe or device); pass @FILE with one frame index per line"
            )
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_FRAMES_FILE_BYTES + 1)
            if len(data) > MAX_FRAMES_FILE_BYTES:
                raise SynthcamError(
                    f"{source} is larger than {MAX_FRAMES_FILE_BYTES} bytes; pass a file of frame indices"
                )
            text = data.decode("utf-8")
        except FileNotFoundError:
            raise SynthcamError(f"{source} does not exist; pass @FILE with one frame index per line") from None
        except IsADirectoryError:
            raise SynthcamError(f"{source} is a directory; pass @FILE with one frame index per line") from None
        except UnicodeDecodeError:
            raise SynthcamError(f"{source} is not text; pass a file of frame indices (digits)") from None
        except OSError as exc:
            raise SynthcamError(f"cannot read {source}: {exc.strerror}; check the file") from None
        text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise SynthcamError(f"{source} names no frames; pass indices such as 0,1,9 or @FILE")
    frames = []
    for token in tokens:
        if not token.isascii() or not token.isdigit() or len(token) > 12:
            raise SynthcamError(f"{source}: {token[:20]!r} is not a frame index (a whole number from 0)")
        frames.append(int(token))
    seen: set[int] = set()
    for frame in frames:
        if frame in seen:
            raise SynthcamError(f"{source} names frame {frame} twice; name each frame once")
        seen.add(frame)
    return tuple(frames)


def check_frames(frames: Sequence[int], available: int, what: str) -> np.ndarray:
    """(N,) int64 positions after checking each is in 0..available - 1 (``what``: the split's name)."""
    bad = [f for f in frames if not 0 <= f < available]
    if bad:
        raise SynthcamError(
            f"--frames: frame {bad[0]} is out of range; {what} has {available} frames, indices 0..{available - 1}"
        )
    return np.asarray(frames, dtype=np.int64)


def class_names(classes: int) -> tuple[str, ...]:
    """Names of classes 1..C of a class space (SUN RGB-D's 37 are NYU40's first 37 by name)."""
    from synthcam_core.labels import class13_names, class37_names, class40_names

    return {13: class13_names, 37: class37_names, 40: class40_names}[check_classes(classes)]()[1:]


class _ErrorsAsSamples(torch.utils.data.Dataset):
    """A dataset whose user errors (:class:`SynthcamError`, e.g. a damaged frame) come back as samples, so
    that a DataLoader worker's mistake is raised in the main process as itself (a DataLoader re-raises a
    worker's exception with the worker's traceback inside its message)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        try:
            return self.dataset[index]
        except SynthcamError as exc:
            return exc


def _batches(dataset, batch_size: int, workers: int):
    """Lists of samples of equal image size (frames of real datasets may differ in size)."""
    if workers > 0:
        dataset = _ErrorsAsSamples(dataset)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, collate_fn=list, generator=torch.Generator().manual_seed(0)
    )  # not the global generator
    for samples in loader:
        group: list[dict] = []
        for s in samples:
            if isinstance(s, SynthcamError):
                raise s
            if group and s[DEPTH].shape != group[0][DEPTH].shape:
                yield group
                group = []
            group.append(s)
        if group:
            yield group


def _check_run_settings(device: str, batch_size: int, num_workers: int, mc_samples: int) -> None:
    """One-line errors for a device this machine lacks and counts out of their limits."""
    check_device(device)
    for name, value, high in (
        ("batch-size", batch_size, MAX_BATCH_SIZE),
        ("num-workers", num_workers, usable_cores()),
        ("mc-samples", mc_samples, MAX_MC_SAMPLES),
    ):
        low = 1 if name == "batch-size" else 0
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            limit = " (the usable CPU cores)" if name == "num-workers" else ""
            raise SynthcamError(f"--{name} must be in {low}..{high}{limit}, got {value}")


SPLITS = ("train", "test", "val")
"""Splits ``evaluate`` reads: NYUv2's, SUN RGB-D's and the synthetic rooms' ``train`` and ``test``,
and ``val``: the frames the checkpoint's run validated on (its ``data_split``)."""

WHOLE = "all"
"""The split name of a dataset read whole (a shard directory, a real folder), in result and file names."""


def _default_split(dataset: str) -> str:
    return "test" if dataset in ("nyuv2", "sunrgbd", "synthetic") else WHOLE


def open_split(
    state: dict,
    dataset: str,
    path: str,
    split: str | None,
    classes: int,
    depth: str = "noisy",
    *,
    real_depth: str = "filled",
    intrinsics: str | None = None,
    gravity: str | None = None,
):
    """(dataset, data path read, split name) that :func:`evaluate` scores.

    split : one of :data:`SPLITS`, None for the dataset's own (``test``, or the whole shard
    directory or real folder). ``val`` is the run's validation split, read from the training data
    the checkpoint recorded (``path`` "" for that place, or where the data is now): the shards it
    names, or its frame positions in the training split. One-line errors for a split the dataset
    lacks, a checkpoint that records none, and data that no longer hold it.
    """
    config = TrainConfig.from_dict(state["config"])
    split = split or _default_split(dataset)
    if split not in (*SPLITS, WHOLE):
        raise SynthcamError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split in ("train", "test") and dataset not in ("nyuv2", "sunrgbd", "synthetic"):
        what = "a shard directory" if dataset == "shards" else "a real folder"
        hint = "--split val for the run's validation shards, or no --split" if dataset == "shards" else "no --split"
        raise SynthcamError(f"{what} has no {split} split; pass {hint}")
    if split == WHOLE and dataset not in ("shards", "real"):
        raise SynthcamError(f"--dataset {dataset} is read by split; choose one of {', '.join(SPLITS)}")
    options: dict[str, Any] = dict(
        real_depth=real_depth,
        intrinsics=intrinsics,
        gravity=gravity,
        synthetic_frames=config.synthetic_frames,
        synthetic_size=(config.height, config.width),
        seed=config.seed,
    )
    if split != "val":
        if dataset != "synthetic" and not path:
            raise SynthcamError(f"--data is needed for --dataset {dataset}")
        if dataset != "synthetic" and not Path(path).exists():
            raise SynthcamError(f"dataset path {path} does not exist")
        return open_dataset(dataset, path, split, classes, depth, **options), path, split
    if dataset != config.dataset:
        raise SynthcamError(
            f"--split val is the frames the run validated on, of --dataset {config.dataset}; "
            f"pass --dataset {config.dataset}"
        )
    record = state.get("data_split")
    if record is None:
        raise SynthcamError(
            "the checkpoint records no validation split (written by an older version); "
            "evaluate a dataset by --data instead"
        )
    path = path or record["data"]
    if dataset != "synthetic" and not Path(path).exists():
        raise SynthcamError(f"the run's data {path} does not exist; pass --data where the training data is now")
    data = open_dataset(dataset, path, "train", classes, depth, **options)
    if "val_shards" in record:
        names = [shard.path.name for shard in data.shards]
        missing = [n for n in record["val_shards"] if n not in names]
        if missing:
            raise SynthcamError(
                f"{path} lacks {missing[0]}, a validation shard of the run; pass --data where the run's shards are"
            )
        wanted = set(record["val_shards"])
        ranges = [np.arange(data.offsets[k], data.offsets[k + 1]) for k, n in enumerate(names) if n in wanted]
        index = np.concatenate(ranges) if ranges else np.zeros(0, dtype=np.int64)
    else:
        index = np.asarray(record["val_frames"], dtype=np.int64)
        if index.size and int(index.max()) >= len(data):
            raise SynthcamError(
                f"{path or dataset} has {len(data)} training frames, fewer than the run validated on; "
                "pass --data where the run's data is"
            )
    if not index.size:
        raise SynthcamError("the run validated on no frames (its val_fraction was 0); evaluate a dataset by --data")
    return torch.utils.data.Subset(data, index.tolist()), path, "val"


@in_run_scope(0)  # model building and dropout draw from the global generators: the run's own here
def evaluate(
    checkpoint: str | Path,
    dataset: str,
    path: str,
    classes: int | None,
    device: str = "cpu",
    split: str | None = None,
    batch_size: int = 4,
    num_workers: int = 0,
    protocols: tuple[str, ...] = ("train",),
    predictions_dir: str | Path | None = None,
    mc_samples: int = 0,
    depth: str = "noisy",
    real_depth: str = "filled",
    intrinsics: str | None = None,
    gravity: str | None = None,
    frames: Sequence[int] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict:
    """Score ``checkpoint`` on a dataset; returns a JSON-ready dict with one entry per protocol.

    classes : the class space (13, 37, 40), None for the checkpoint's;
    dataset : shards, nyuv2, sunrgbd, real (a folder of labelled PNGs) or synthetic; path : where it
    is ("" for the synthetic rooms, or the run's recorded data with ``split="val"``); split : see
    :func:`open_split`; mc_samples : > 1 averages that many dropout samples (Bayesian SegNet);
    depth : shards' noisy or clean depth; real_depth : filled or raw depth of the real datasets;
    intrinsics, gravity : a real folder's camera and gravity (:class:`segnet.datasets.RealFolderDataset`);
    frames : 0-based positions in the split to score (all when None). Prediction pictures are
    named ``SPLIT_INDEX.png`` (``val_000123.png``: the frame's index in its dataset).

    The caller's torch generator states are the same afterwards (:func:`segnet.rng.run_scope`;
    dropout samples are drawn from the checkpoint's seed, so scores repeat).
    """
    for p in protocols:
        if p not in PROTOCOLS:
            raise SynthcamError(f"unknown protocol {p!r}; choose from {', '.join(PROTOCOLS)}")
    if not protocols:
        raise SynthcamError(f"no protocol chosen; choose from {', '.join(PROTOCOLS)}")
    protocols = tuple(p for p in PROTOCOLS if p in protocols)
    _check_run_settings(device, batch_size, num_workers, mc_samples)
    state = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(state["config"])
    trained = state["model_spec"]["num_classes"]
    if classes is None:  # the checkpoint knows its class space
        classes = trained
    if trained != check_classes(classes):
        raise SynthcamError(
            f"the checkpoint predicts {trained} classes; pass --classes {trained} "
            f"(or fine-tune it to {classes} classes with 'synthcam train --init')"
        )
    data, path, split = open_split(
        state, dataset, path, split, classes, depth, real_depth=real_depth, intrinsics=intrinsics, gravity=gravity
    )
    if len(data) == 0:
        raise SynthcamError(f"no frames found in {path or dataset}")
    if frames is not None:
        what = f"the {split} split" if dataset in ("nyuv2", "sunrgbd") or split == "val" else f"the {dataset} dataset"
        data = torch.utils.data.Subset(data, check_frames(frames, len(data), what).tolist())
    dev = torch.device(device)
    model = model_from_checkpoint(state, checkpoint).to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack memory_format
    out_dir = Path(predictions_dir) if predictions_dir else None
    if out_dir is not None:
        make_directory(out_dir, "--predictions")
    confusions = {p: Confusion(classes) for p in protocols}
    count = 0
    torch.manual_seed(config.seed)  # dropout samples (--mc-samples) repeat
    for group in _batches(data, batch_size, num_workers):
        shown = None
        for p in protocols:
            gt, pred, full = run_protocol(p, model, config, group, dev, mc_samples)
            confusions[p].update(gt, pred)
            shown = full if shown is None else shown
        if out_dir is not None:
            assert shown is not None  # protocols is not empty
            for i, s in enumerate(group):
                save_prediction_png(
                    out_dir / prediction_name(split, int(s[INDEX])),
                    s[DEPTH][0].numpy(),
                    shown[i].numpy(),
                    s[LABEL].numpy(),
                    classes,
                )
        count += len(group)
        if on_batch is not None:
            on_batch(len(group))
    names = class_names(classes)
    result = {
        "checkpoint": str(checkpoint),
        "dataset": dataset,
        "path": str(path),
        "split": split,
        "classes": classes,
        "encoding": config.encoding,
        "model": state["model_spec"]["name"],
        "frames": count,
        "mc_samples": mc_samples,
        "train_size": [config.height, config.width],
        "camera_height": config.camera_height,
        "protocols": list(protocols),
    }
    if dataset in ("nyuv2", "sunrgbd", "real"):
        result["real_depth"] = real_depth
    if frames is not None:
        result["frame_indices"] = [int(f) for f in frames]
    for p in protocols:
        result[p] = confusions[p].scores(names)
        result[p]["confusion"] = confusions[p].matrix.tolist()
    return result
