"""``synthcam train``: train a depth-only SegNet on shards or a real dataset (thin wrapper).

Every setting option stands for a field of :class:`segnet.config.TrainConfig`, whose default and help
it takes (:func:`cli.config_options.setting`); ``--config FILE`` sets any field (also ``scale_range``,
``depth_jitter`` and ``balance_frames``, which have no option), and the options given override it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from cli.choices import CAMERA_HEIGHTS, CLASS_SPACES, ENCODINGS, MODELS
from cli.config_options import config_option, file_checked, given, merge, setting
from cli.dataset_options import refuse_ignored_options
from segnet.config import DATASETS, DEPTHS, OPTIMIZERS, REAL_DEPTHS, TrainConfig
from segnet.limits import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LR,
    MAX_MODEL_WIDTH,
    MAX_NUM_WORKERS,
    MAX_SEED,
    MAX_SIDE,
    MAX_SYNTHETIC_FRAMES,
    MAX_WEIGHT_DECAY,
)
from synthcam_core.config_file import CONFIG_NAME
from synthcam_core.errors import SynthcamError

T = TrainConfig
OPTIONS = (
    setting(T, "data"),
    setting(T, "dataset", type=click.Choice(DATASETS)),
    setting(T, "encoding", type=click.Choice(ENCODINGS)),
    setting(T, "classes", type=click.Choice(CLASS_SPACES)),
    setting(T, "model", type=click.Choice(MODELS)),
    setting(T, "model_width", type=click.FloatRange(0, MAX_MODEL_WIDTH, min_open=True)),
    setting(T, "dropout", type=float),
    setting(T, "epochs", type=click.IntRange(1, MAX_EPOCHS)),
    setting(T, "batch_size", type=click.IntRange(1, MAX_BATCH_SIZE)),
    setting(T, "lr", type=click.FloatRange(0, MAX_LR, min_open=True)),
    setting(T, "optimizer", type=click.Choice(OPTIMIZERS)),
    setting(T, "weight_decay", type=click.FloatRange(0, MAX_WEIGHT_DECAY)),
    setting(T, "height", type=click.IntRange(1, MAX_SIDE)),
    setting(T, "width", type=click.IntRange(1, MAX_SIDE)),
    setting(T, "val_fraction", type=float),
    setting(T, "augment", "--augment/--no-augment"),
    setting(T, "balance", "--balance/--no-balance"),
    setting(T, "depth", type=click.Choice(DEPTHS)),
    setting(T, "real_depth", type=click.Choice(REAL_DEPTHS)),
    setting(T, "camera_height", type=click.Choice(CAMERA_HEIGHTS)),
    setting(T, "synthetic_frames", type=click.IntRange(1, MAX_SYNTHETIC_FRAMES)),
    setting(T, "num_workers", type=click.IntRange(0, MAX_NUM_WORKERS)),
    setting(T, "seed", type=click.IntRange(0, MAX_SEED)),
    setting(T, "device", metavar="cpu|cuda|cuda:N"),
    setting(T, "compile", "--compile/--no-compile"),
    setting(T, "init", type=click.Path(dir_okay=False), metavar="CHECKPOINT"),
)
"""The options of the settings (each a field of :class:`TrainConfig`), in --help order."""
SETTINGS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("scale_range", "depth_jitter", "balance_frames")
)
"""The fields that have an option (all but three, which only a config file sets)."""


def _with_options(f):
    for option in reversed(OPTIONS):
        f = option(f)
    return f


@click.command()
@config_option("train")
@_with_options
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from last.pt with its saved settings "
    "(--epochs, --device and --num-workers may change).",
)
@click.option(
    "--stop-after",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many epochs in this call (continue later with --resume).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=f"Run directory for checkpoints (.pt), logs, curves and {CONFIG_NAME} (the run's settings).",
)
@click.option(
    "--tensorboard/--no-tensorboard",
    default=True,
    show_default=True,
    help="Write TensorBoard scalars to --out/tb (per step and per epoch); needs the [train] extra.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config_path, resume, stop_after, out_dir, tensorboard, quiet, **settings) -> None:
    """Train a depth-only SegNet; writes last.pt, best.pt, TensorBoard logs, curves.png and config.yaml to --out.

    Example: `synthcam train --data out/ --encoding DHA --classes 13 --model segnet --epochs 30
    --batch-size 16 --device cuda --out runs/dha13`; `synthcam train --config runs/dha13/config.yaml
    --out runs/again` trains the same run again.

    Every number must be finite and inside the range its option shows. A new run needs an --out
    without run files. A loss that turns NaN or infinite stops the run (exit 2) and saves nothing of
    that epoch. --init and --resume read only checkpoints of tensors and plain values (never code).
    """
    from segnet.runfiles import check_config_out, write_run_config
    from segnet.train import train as run_training

    if resume and config_path is not None:
        raise SynthcamError(
            "--resume continues with the run's saved settings; leave out --config (or start a new run in another --out)"
        )
    flags = given(SETTINGS)
    config = _config(config_path, settings, flags)
    refuse_ignored_options(config.dataset, {"real_depth": ("nyuv2", "sunrgbd"), "depth": ("shards",)})
    if not resume and (out_dir / "last.pt").exists():
        raise SynthcamError(f"{out_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume and not (out_dir / "last.pt").exists():
        raise SynthcamError(f"nothing to resume: {out_dir / 'last.pt'} does not exist")
    if not resume:
        config.validate()
    check_config_out(out_dir)
    record = run_training(
        config,
        out_dir,
        resume=resume,
        stop_after=stop_after,
        progress=not quiet,
        log=click.echo,
        tensorboard=tensorboard,
    )
    write_run_config(out_dir, None if resume else config)
    click.echo(
        f"run in {out_dir}: last.pt, best.pt, history.json, curves.png, {CONFIG_NAME} (epoch {record.get('epoch', 0)})"
    )


def _config(config_path: Path | None, settings: dict, flags: set[str]) -> TrainConfig:
    """The run's settings: the defaults, then ``config_path``'s values (checked, errors naming the file),
    then the options given on the command line."""
    from synthcam_core.config_file import read_config_file

    from_file = {}
    if config_path is not None:
        from_file = read_config_file(config_path, TrainConfig)
        file_checked(config_path, lambda: TrainConfig.from_dict({**_defaults(), **from_file}))
    values = merge({}, from_file, {k: settings[k] for k in flags})
    values = {k: (str(v) if k == "init" else v) for k, v in values.items()}
    return dataclasses.replace(TrainConfig(), **values)


def _defaults() -> dict:
    """Every field at its default (a saved config lacking one would take its legacy value instead)."""
    return dataclasses.asdict(TrainConfig())
