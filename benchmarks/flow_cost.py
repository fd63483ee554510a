"""What ``synthcam generate --flow`` costs, and how good its flow is: side by side in one run.

Run: .venv/bin/python benchmarks/flow_cost.py [--rooms 2] [--frames 60] [--resolution 640x480]
     [--frame-rate 2.5 --frame-rate 25] [--workers 1] [--repeats 3] [--json PATH]

For each frame rate, on the same settings and seed, without and with flow (alternating rounds, best of
``--repeats``: the least disturbed by other jobs on a shared machine):
- pipeline frames/s (the issue's figure): the rooms planned once beforehand (not timed), then rendered,
  noised, given their flow and written exactly as ``synthcam generate`` does after planning
  (``write_room_shard``), in this process with all its cores; and the ratio with/without (bound: >= 0.70);
- end-to-end frames/s of ``synthcam generate`` in a child process (start-up, planning, everything) and the
  ratio;
- bytes of the shards with/without flow and their ratio (the bound: at most 2.0);
- ``synthcam bench flow`` on the flow dataset: label propagation accuracy for k = 1, 5, 10 and the depth
  warp error (median, mm).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTHCAM = [sys.executable, "-m", "cli.main"]


def generate(out: Path, args: argparse.Namespace, rate: float, flow: bool) -> float:
    """Seconds of one ``synthcam generate`` run into a fresh ``out``."""
    argv = (
        SYNTHCAM
        + [
            "generate",
            "--rooms",
            str(args.rooms),
            "--frames-per-room",
            str(args.frames),
            "--resolution",
            args.resolution,
            "--frame-rate",
            str(rate),
            "--workers",
            str(args.workers),
            "--seed",
            str(args.seed),
            "--quiet",
            "--out",
            str(out),
        ]
        + (["--flow"] if flow else [])
    )
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def pipeline_seconds(args: argparse.Namespace, rate: float, repeats: int) -> dict[bool, float]:
    """Best seconds of ``write_room_shard`` over every planned room, without and with flow, alternating."""
    import dataclasses

    from synthcam.generate_config import GenerateConfig
    from synthcam.room_shard import plan_room, write_room_shard
    from synthcam_core.camera import parse_resolution

    width, height = parse_resolution(args.resolution)
    config = GenerateConfig(
        rooms=args.rooms, frames_per_room=args.frames, seed=args.seed, width=width, height=height, frame_rate=rate
    )
    plans = [plan_room(config, i) for i in range(args.rooms)]
    best = {False: float("inf"), True: float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for flow in (False, True) if r % 2 == 0 else (True, False):
                out = Path(tmp) / f"{int(flow)}_{r}"
                out.mkdir()
                run_config = dataclasses.replace(config, flow=flow)
                start = time.perf_counter()
                for plan in plans:
                    write_room_shard(run_config, plan, out)
                best[flow] = min(best[flow], time.perf_counter() - start)
    return best


def shard_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.glob("room_*.h5"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--resolution", default="640x480")
    parser.add_argument("--frame-rate", type=float, action="append", dest="rates")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rates = args.rates or [2.5, 25.0]
    frames = args.rooms * args.frames
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            best = {False: float("inf"), True: float("inf")}
            for r in range(args.repeats):
                for flow in (False, True) if r % 2 == 0 else (True, False):
                    out = Path(tmp) / f"r{rate}_{int(flow)}_{r}"
                    best[flow] = min(best[flow], generate(out, args, rate, flow))
            plain, with_flow = Path(tmp) / f"r{rate}_0_0", Path(tmp) / f"r{rate}_1_0"
            report = subprocess.run(
                SYNTHCAM + ["bench", "flow", str(with_flow), "--quiet", "--json", "-"],
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            piped = pipeline_seconds(args, rate, args.repeats)
            row = {
                "frame_rate": rate,
                "frames": frames,
                "pipeline_fps_plain": frames / piped[False],
                "pipeline_fps_flow": frames / piped[True],
                "fps_plain": frames / best[False],
                "fps_flow": frames / best[True],
                "bytes_plain": shard_bytes(plain),
                "bytes_flow": shard_bytes(with_flow),
                "bench": json.loads(report.stdout),
            }
            row["fps_ratio"] = row["fps_flow"] / row["fps_plain"]
            row["pipeline_ratio"] = row["pipeline_fps_flow"] / row["pipeline_fps_plain"]
            row["size_ratio"] = row["bytes_flow"] / row["bytes_plain"]
            results.append(row)
            prop = ", ".join(f"k={p['k']}: {100 * p['accuracy']:.2f} %" for p in row["bench"]["propagation"])
            print(
                f"{rate:g} Hz, {frames} frames at {args.resolution}: pipeline {row['pipeline_fps_plain']:.1f} -> "
                f"{row['pipeline_fps_flow']:.1f} frames/s with flow (x{row['pipeline_ratio']:.3f}); end to end "
                f"({args.workers} worker(s)) {row['fps_plain']:.1f} -> {row['fps_flow']:.1f} "
                f"(x{row['fps_ratio']:.3f}); "
                f"shards {row['bytes_plain'] / 2**20:.1f} -> {row['bytes_flow'] / 2**20:.1f} MiB "
                f"(x{row['size_ratio']:.3f}); propagation {prop}; depth warp median "
                f"{row['bench']['depth_warp']['median_mm']:.3f} mm",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
