"""This checkout against a reference commit, side by side in one run: the wall time of the user-facing
commands and of the library paths every benchmark under ``benchmarks/`` exercises.

Run: .venv/bin/python benchmarks/revision_compare.py --reference 5785827 [--repeats 3] [--only gen1,train]

The reference commit is checked out into a temporary git worktree; each command runs in a child process
with that tree (or this checkout) first on ``sys.path``, both sides alternating round by round, so load on
a shared machine hits both alike. Per command and side the best of ``--repeats`` rounds is reported with
the ratio this/reference (after one uncounted warm-up round per side); a ratio above ``1 + --tolerance``
(default 5 %) is marked SLOWER and makes the exit status 1. Commands whose options were renamed between the
two trees take a per-side argument list.

Cases (CPU; a few seconds each):
- gen1 / gen2: ``synthcam generate`` at 320x240, ray casting, Kinect v1 noise: 3 rooms x 8 frames in one
  process, and 4 rooms x 300 frames in 2 worker processes (a long job, as pipeline_fps.py times: the
  fork server's start-up, ~1.5 s on 2 cores, is a fixed cost per run) (the pipeline of pipeline_fps.py, memory_rss.py,
  planned_rooms.py; the noise stages of noise_speed.py; the shard writer of format_cost.py);
- inspect / validate: ``synthcam inspect`` and ``synthcam validate`` on that dataset (shard reading,
  summary, checksums);
- reader: every frame of that dataset through the torch shard reader and a DataLoader (reader_fps.py);
- noise_bench: ``synthcam bench noise --preset kinect_v1`` (the conformance scenes);
- realism: ``synthcam realism`` of that dataset against real NYUv2 frames (height_estimate.py, the realism
  measures, transfer_cpu.py's reading of real folders);
- train / evaluate: one epoch of SegNet-Basic x0.25 on 24 synthetic frames at 80x60 and its evaluation on
  the generated shards (segnet_train_speed.py and transfer_cpu.py on a CPU).
The GPU benchmarks (gpu_render_fps.py, GL backends) need a GPU machine and are not covered here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("SYNTHCAM_REAL_DATA", ROOT.parent / "shared" / "data" / "real")) / "nyuv2_train"

CLI = "import sys; from cli.main import main; sys.argv[0] = 'synthcam'; main()"
READER = r"""
import sys, torch
try:
    from segnet.datasets.shard_reader import ShardDataset, ShardOrderSampler, collate_frames
except ImportError:
    from synthcam.reader import ShardDataset, ShardOrderSampler, collate_frames
ds = ShardDataset(sys.argv[1])
loader = torch.utils.data.DataLoader(ds, batch_size=8, sampler=ShardOrderSampler(ds, shuffle=True, seed=0),
                                     collate_fn=collate_frames, num_workers=0)
for _ in range(3):
    for batch in loader:
        pass
"""


@dataclass(frozen=True)
class Case:
    """One timed command: ``argv(side, work)`` gives the child's arguments after ``python -c CODE``."""

    name: str
    code: str
    argv: Callable[[str, Path], list[str]]


def _generate(workers: int, rooms: int, frames: int) -> Callable[[str, Path], list[str]]:
    def argv(side: str, work: Path) -> list[str]:
        out = work / f"gen{workers}"
        shutil.rmtree(out, ignore_errors=True)
        return [
            "generate",
            "--rooms",
            str(rooms),
            "--frames-per-room",
            str(frames),
            "--resolution",
            "320x240",
            "--renderer",
            "raycast",
            "--noise",
            "kinect_v1",
            "--seed",
            "5",
            "--workers",
            str(workers),
            "--quiet",
            "--out",
            str(out),
        ]

    return argv


def _train(side: str, work: Path) -> list[str]:
    shutil.rmtree(work / "run", ignore_errors=True)
    return [
        "train",
        "--dataset",
        "synthetic",
        "--synthetic-frames",
        "24",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--height",
        "60",
        "--width",
        "80",
        "--model",
        "segnet-basic",
        "--model-width",
        "0.25",
        "--quiet",
        "--out",
        str(work / "run"),
    ]


def _evaluate(side: str, work: Path) -> list[str]:
    data_flag = "--path" if side == "reference" else "--data"
    return [
        "evaluate",
        "--checkpoint",
        str(work / "run" / "best.pt"),
        "--dataset",
        "shards",
        data_flag,
        str(work / "gen1"),
        "--batch-size",
        "8",
    ]


CASES = [
    Case("gen1", CLI, _generate(1, 3, 8)),
    Case("gen2", CLI, _generate(2, 4, 300)),
    Case("inspect", CLI, lambda side, work: ["inspect", str(work / "gen1")]),
    Case("validate", CLI, lambda side, work: ["validate", str(work / "gen1")]),
    Case("reader", READER, lambda side, work: [str(work / "gen1")]),
    Case("noise_bench", CLI, lambda side, work: ["bench", "noise", "--preset", "kinect_v1"]),
    Case(
        "realism", CLI, lambda side, work: ["realism", str(work / "gen1"), "--real", str(REAL), "--intrinsics", "nyuv2"]
    ),
    Case("train", CLI, _train),
    Case("evaluate", CLI, _evaluate),
]


def run_case(case: Case, tree: Path, side: str, work: Path) -> float:
    """Wall seconds of one run of ``case`` with ``tree`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    argv = case.argv(side, work)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", case.code, *argv], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode not in (0, 1) or (result.returncode == 1 and case.name != "noise_bench"):
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
        raise SystemExit(f"{case.name} on the {side} side failed ({result.returncode}):\n" + "\n".join(tail))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="5785827", help="commit to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed slow-down as a fraction")
    parser.add_argument("--only", default="", help="comma-separated case names (default: all)")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = Path(tmp) / "reference"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(ref_tree), args.reference], check=True
        )
        times: dict[str, dict[str, list[float]]] = {c.name: {"this": [], "reference": []} for c in cases}
        try:
            for round_ in range(-1, args.repeats):  # round -1 warms up (byte-compiles each tree): not counted
                for side, tree in (("this", ROOT), ("reference", ref_tree))[:: 1 if round_ % 2 == 0 else -1]:
                    work = Path(tmp) / side
                    work.mkdir(exist_ok=True)
                    for case in cases:
                        seconds = run_case(case, tree, side, work)
                        if round_ >= 0:
                            times[case.name][side].append(seconds)
                print(f"round {round_ + 1}/{args.repeats} done" if round_ >= 0 else "warm-up done", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)], check=False)
    print(
        f"wall seconds, best of {args.repeats} alternating rounds, this checkout vs {args.reference} "
        f"({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs)"
    )
    print(f"{'case':12s} {'this':>8s} {'reference':>10s} {'ratio':>7s}")
    slower = []
    for name, sides in times.items():
        new, ref = min(sides["this"]), min(sides["reference"])
        flag = "SLOWER" if new > ref * (1 + args.tolerance) else ""
        slower += [name] if flag else []
        print(f"{name:12s} {new:8.2f} {ref:10.2f} {new / ref:7.3f} {flag}")
    sys.exit(1 if slower else 0)


if __name__ == "__main__":
    main()
