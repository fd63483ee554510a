"""Synthetic-to-real transfer on a CPU: generate, train a small depth-only SegNet, score on real frames.

For each noise setting (a preset name, or ``NAME=path/to/noise.yaml`` for a noise file) the script
generates the same rooms (same seed, same trajectories) with that noise, trains SegNet-Basic at a
fraction of its width on DHA input for a fixed number of epochs, and evaluates the last checkpoint

- on the labelled real NYUv2 train frames of ``../shared/data/real/nyuv2_train`` (three frames,
  filled depth, 13 classes; a sanity figure, not a result), at the training resolution (the default
  protocol of ``synthcam evaluate``), and
- on held-out generated frames: other rooms (another seed) with the same noise.

Every step is the ``synthcam`` command a user would run (printed as it runs), so the figures are those
of the tool itself. The table (class-average and global accuracy, mIoU, training seconds) is printed
and written as JSON. Example (about 30 minutes on a 2-core machine)::

    .venv/bin/python benchmarks/transfer_cpu.py --out /tmp/transfer \
        --noise none --noise kinect_v1_filled --noise fitted=/tmp/fit_kinect_v1_filled.yaml
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real" / "nyuv2_train"
SYNTHCAM = [str(Path(sys.executable).parent / "synthcam")]  # the entry point beside this interpreter


def run(args: list[str], log: Path) -> float:
    """Run ``synthcam ARGS``; returns wall seconds; stops the benchmark with the log on failure."""
    print("$ synthcam " + shlex.join(args), flush=True)
    start = time.perf_counter()
    with open(log, "a") as out:
        done = subprocess.run(SYNTHCAM + args, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"synthcam {args[0]} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - start


def noise_args(spec: str) -> tuple[str, list[str]]:
    """(label, generate options) of ``preset`` or ``label=noise-file``."""
    if "=" in spec:
        label, path = spec.split("=", 1)
        return label, ["--noise-file", str(Path(path).resolve())]
    return spec, ["--noise", spec]


def scores(path: Path) -> dict:
    """Class-average and global accuracy and mIoU of the first protocol of an ``evaluate --json`` file."""
    result = json.loads(path.read_text())
    block = result[result["protocols"][0]]
    return {
        "class_avg": block["class_avg_acc"],
        "global": block["global_acc"],
        "miou": block["miou"],
        "frames": result["frames"],
    }


def one_setting(spec: str, a: argparse.Namespace, work: Path) -> dict:
    label, gen = noise_args(spec)
    here = work / label
    here.mkdir(parents=True, exist_ok=True)
    log = here / "log.txt"
    common = [
        "--frames-per-room",
        str(a.frames_per_room),
        "--resolution",
        a.resolution,
        *gen,
        "--workers",
        str(a.workers),
    ]
    gen_s = run(
        ["generate", "--rooms", str(a.rooms), "--seed", str(a.seed), "--out", str(here / "train"), *common], log
    )
    run(
        ["generate", "--rooms", str(a.test_rooms), "--seed", str(a.seed + 1), "--out", str(here / "test"), *common], log
    )
    train_s = None  # a run already trained in an earlier call of the benchmark is kept
    if not (here / "run" / "last.pt").is_file():
        train_s = run(
            [
                "train",
                "--data",
                str(here / "train"),
                "--model",
                "segnet-basic",
                "--model-width",
                str(a.model_width),
                "--encoding",
                "DHA",
                "--classes",
                "13",
                "--height",
                str(a.height),
                "--width",
                str(a.width),
                "--epochs",
                str(a.epochs),
                "--batch-size",
                str(a.batch_size),
                "--val-fraction",
                "0",
                "--seed",
                str(a.seed),
                "--quiet",
                "--out",
                str(here / "run"),
            ],
            log,
        )
    checkpoint = str(here / "run" / "last.pt")
    run(
        [
            "evaluate",
            "--checkpoint",
            checkpoint,
            "--dataset",
            "real",
            "--data",
            str(a.real),
            "--real-depth",
            "filled",
            "--intrinsics",
            "nyuv2",
            "--gravity",
            "nyuv2",
            "--classes",
            "13",
            "--json",
            str(here / "real.json"),
        ],
        log,
    )
    run(
        [
            "evaluate",
            "--checkpoint",
            checkpoint,
            "--dataset",
            "shards",
            "--data",
            str(here / "test"),
            "--classes",
            "13",
            "--json",
            str(here / "generated.json"),
        ],
        log,
    )
    if train_s is None:
        train_s = json.loads((here / "train_seconds.json").read_text())["train_s"]
    else:
        (here / "train_seconds.json").write_text(json.dumps({"train_s": train_s}) + "\n")
    return {
        "noise": label,
        "generate_s": round(gen_s, 1),
        "train_s": round(train_s, 1),
        "real": scores(here / "real.json"),
        "generated": scores(here / "generated.json"),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| noise | train s | real class-avg | real global | real mIoU | generated class-avg | generated global | "
        "generated mIoU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        real, gen = r["real"], r["generated"]
        lines.append(
            f"| {r['noise']} | {r['train_s']:.0f} | {real['class_avg']:.1%} | {real['global']:.1%} | "
            f"{real['miou']:.1%} | {gen['class_avg']:.1%} | {gen['global']:.1%} | {gen['miou']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="Work directory (datasets, runs, results.json).")
    p.add_argument(
        "--noise",
        action="append",
        default=None,
        help="Noise preset or LABEL=noise-file.yaml (repeatable; default: none, kinect_v1_filled).",
    )
    p.add_argument("--rooms", type=int, default=200)
    p.add_argument("--test-rooms", type=int, default=20)
    p.add_argument("--frames-per-room", type=int, default=20)
    p.add_argument("--resolution", default="320x240", help="Generated frame size WIDTHxHEIGHT.")
    p.add_argument("--height", type=int, default=120, help="Training height (px).")
    p.add_argument("--width", type=int, default=160, help="Training width (px).")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--model-width", type=float, default=0.25)
    p.add_argument("--workers", type=int, default=2, help="Generation worker processes.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real", type=Path, default=REAL, help="Folder of labelled real frames (filled depth, label13).")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rows = [one_setting(spec, a, a.out) for spec in (a.noise or ["none", "kinect_v1_filled"])]
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
    (a.out / "results.json").write_text(json.dumps({"settings": settings, "rows": rows}, indent=1) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
