"""``synthcam fuse``: fuse a sequence's per-frame labels into a labelled 3D map (thin wrapper over
:mod:`segnet.fusion`)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.choices import CLASS_SPACES, REAL_KINDS
from cli.json_output import check_json_target, emit_json, json_option, same_place, text_echo, to_stdout
from synthcam_core.errors import SynthcamError

TRUTH = "truth"
"""``--labels truth``: fuse the ground-truth labels (one-hot)."""
TRUNC_VOXELS = 4
"""Default ``--trunc``: this many voxels (8 cm at the default 2 cm voxels)."""


_SHARD_ONLY, _REAL_ONLY = ("depth", "shard"), ("poses", "intrinsics", "real_depth")
"""Options that only a shard, or only a folder of real depth PNGs, reads."""


def _refuse_ignored(real: bool) -> None:
    """One-line error for an option given on the command line that this kind of input would ignore."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    for name in _SHARD_ONLY if real else _REAL_ONLY:
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
            what = "a shard or dataset directory" if real else "a folder of real depth PNGs"
            raise SynthcamError(f"--{name.replace('_', '-')} applies to {what} only; leave it out")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the results.",
)
@click.option(
    "--depth", type=click.Choice(["noisy", "clean"]), default="noisy", show_default=True, help="Shard depth to fuse."
)
@click.option(
    "--labels",
    default=TRUTH,
    show_default=True,
    metavar="truth|CHECKPOINT.pt",
    help="truth: the ground-truth labels; or a checkpoint from 'synthcam train', whose softmax is fused.",
)
@click.option(
    "--classes",
    type=click.Choice([str(c) for c in CLASS_SPACES]),
    default=None,
    help="Class space (default: the checkpoint's, 13 for truth; given, it must match the checkpoint).",
)
@click.option("--voxel-size", type=float, default=0.02, show_default=True, help="Voxel side in metres (at most 0.5).")
@click.option(
    "--trunc", type=float, default=None, help=f"TSDF truncation distance in metres (default {TRUNC_VOXELS} voxels)."
)
@click.option("--frames", type=click.IntRange(min=1), default=None, help="Fuse only the first N frames.")
@click.option("--shard", default=None, help="A dataset directory's shard to fuse, by file name (default: the first).")
@click.option(
    "--poses",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of real depth PNGs: its TUM RGB-D trajectory (timestamp tx ty tz qx qy qz qw per line, "
    "camera-to-world, one pose per depth frame in sorted order).",
)
@click.option(
    "--intrinsics",
    default=None,
    metavar="NAME|fx,fy,cx,cy",
    help="Folder of real depth PNGs: its camera, nyuv2, sunrgbd_kv2 or fx,fy,cx,cy "
    "(default: intrinsics.yaml beside the PNGs).",
)
@click.option(
    "--real-depth",
    type=click.Choice(REAL_KINDS),
    default="raw",
    show_default=True,
    help="Folder of real depth PNGs: fuse the raw (NAME_raw.png or NAME.png) or filled (NAME_depth.png) depth.",
)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option("Also write the summary as JSON")
def fuse(
    path,
    out_dir,
    depth,
    labels,
    classes,
    voxel_size,
    trunc,
    frames,
    shard,
    poses,
    intrinsics,
    real_depth,
    device,
    quiet,
    json_path,
) -> None:
    """Fuse per-frame labels into a labelled 3D map: OUT/fused.ply, OUT/topdown.png, OUT/labels/NNNNN.png
    (the fused labels re-projected into each frame) and OUT/summary.json.

    PATH is a shard, a dataset directory (its first shard, or --shard NAME) or a folder of real depth
    PNGs with --poses. Example: `synthcam fuse out/room_00000.h5 --depth clean --out fused/`; with a
    network's predictions: `synthcam fuse out/ --labels runs/dha13/best.pt --out fused/`. Where the
    frames have ground truth, prints how often the input and the fused labels agree with it.
    """
    from tqdm import tqdm

    from segnet.fusion.pipeline import check_fusion_options, format_summary, fuse_sequence
    from segnet.fusion.sources import CheckpointLabeler, RealSource, open_source
    from segnet.fusion.volume import FusionSettings
    from synthcam.output_dir import prepare_output

    check_json_target(json_path)
    trunc = TRUNC_VOXELS * voxel_size if trunc is None else trunc
    check_fusion_options(voxel_size, trunc)
    if path.is_dir() and same_place(out_dir, path):
        raise SynthcamError(f"--out {out_dir} is the input folder {path}; pass another directory")
    labeler = None
    if labels != TRUTH:
        if not Path(labels).is_file():
            raise SynthcamError(f"--labels {labels} does not exist; pass truth or a checkpoint (.pt) file")
        labeler = CheckpointLabeler(Path(labels), int(classes) if classes else None, device)
    space = labeler.classes if labeler is not None else int(classes or 13)
    source = open_source(
        path,
        classes=space,
        depth=depth,
        frames=frames,
        shard=shard,
        poses=poses,
        real_depth=real_depth,
        intrinsics=intrinsics,
    )
    _refuse_ignored(isinstance(source, RealSource))
    settings = FusionSettings(voxel_size=voxel_size, trunc=trunc, device="CUDA:0" if device == "cuda" else "CPU:0")
    prepare_output(out_dir)  # creates --out if needed; never removes anything in it
    bars: dict[str, tqdm] = {}

    def on_frame(stage: str) -> None:
        if quiet:
            return
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(
                total=len(source), unit="frames", desc="fuse" if stage == "integrate" else "labels", leave=False
            )
        bars[stage].update(1)

    try:
        summary = fuse_sequence(source, out_dir, settings, labeler, on_frame)
    finally:
        for bar in bars.values():
            bar.close()
        source.close()
    echo = text_echo(json_path)
    echo(format_summary(summary, out_dir))
    if json_path is not None:
        emit_json(json_path, summary, indent=1)
        if not to_stdout(json_path):
            echo(f"wrote {json_path}")
