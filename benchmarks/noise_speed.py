"""Per-frame cost of the noise presets on one pinned CPU core, side by side with a naive reference.

Run: .venv/bin/python benchmarks/noise_speed.py [--frames 40] [--repeats 3] [--batch 8]

The reference is a straightforward numpy/OpenCV Kinect-v1 pipeline of the kind measured in the
project's research notes (float64 Gaussian draws for a 0.5 px shift field, bilinear remap, disparity
noise and 1/8-px quantisation, edge dropout, random dropout), run on the same rendered frames in the
same process. Both run single-threaded (process pinned to one core, OpenCV threads = 1).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np


def naive_kinect(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reference pipeline: shift + remap, disparity noise with 1/8 px quantisation, edge and random dropout."""
    h, w = depth.shape
    disparity = np.divide(0.075 * 585.6, depth, out=np.zeros_like(depth), where=depth > 0)
    xs = (np.arange(w)[None, :] + rng.standard_normal((h, w)) * 0.5).astype(np.float32)
    ys = (np.arange(h)[:, None] + rng.standard_normal((h, w)) * 0.5).astype(np.float32)
    disparity = cv2.remap(disparity, xs, ys, cv2.INTER_LINEAR)
    disparity = np.round((disparity + rng.standard_normal((h, w)) / 6.0) * 8.0) / 8.0
    kernel = np.ones((3, 3), np.uint8)
    edge = (cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)) > 0.1
    edge = cv2.dilate(edge.astype(np.uint8), kernel).astype(bool) & (rng.random((h, w)) < 0.5)
    drop = edge | (rng.random((h, w)) < 0.01)
    out = np.divide(0.075 * 585.6, disparity, out=np.zeros_like(disparity), where=(disparity > 0) & ~drop)
    return out.astype(np.float32)


def _torch_batch_ms(frames, batch: int) -> float:
    """ms per frame of the torch kinect_v1 preset on one CPU thread, batches of ``batch`` frames."""
    import torch

    from noise_models.torch_stages import TorchBatch, make_torch

    torch.set_num_threads(1)
    frames = (frames * (batch // len(frames) + 1))[:batch]
    data = TorchBatch(
        torch.from_numpy(np.stack([f.depth for f in frames])),
        torch.from_numpy(np.stack([f.normals for f in frames])),
        torch.from_numpy(np.stack([f.class40 for f in frames])),
        frames[0].intrinsics,
    )
    model, gen = make_torch("kinect_v1"), torch.Generator().manual_seed(0)
    model(data, gen)
    start = time.perf_counter()
    model(data, gen)
    return (time.perf_counter() - start) / batch * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each is reported")
    parser.add_argument(
        "--batch", type=int, default=8, help="also time the torch kinect_v1 on a CPU batch of this size (0: skip)"
    )
    args = parser.parse_args()

    import noise_models
    from synthcam.generate import GenerateConfig, plan_room

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    plan = plan_room(GenerateConfig(rooms=1, frames_per_room=args.frames, seed=0), 0, nthreads=1)
    frames = [plan.renderer.render(p) for p in plan.trajectory.poses]
    rng = np.random.default_rng(0)
    models = {name: noise_models.make(name) for name in noise_models.PRESETS}
    runs = {
        "naive reference": lambda f: naive_kinect(f.depth, rng),
        **{n: (lambda f, m=m: m(f, rng)) for n, m in models.items()},
    }
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):  # interleaved repeats, best of each: the machine is shared
        for name, run in runs.items():
            run(frames[0])
            start = time.perf_counter()
            for f in frames:
                run(f)
            best[name] = min(best[name], (time.perf_counter() - start) / len(frames) * 1000)
    reference = best.pop("naive reference")
    rows = list(best.items())
    torch_ms = _torch_batch_ms(frames, args.batch) if args.batch else None
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.platform()}; "
        "one pinned core, OpenCV 1 thread"
    )
    print(f"{len(frames)} frames at {frames[0].depth.shape[1]}x{frames[0].depth.shape[0]} of a generated room")
    print(f"naive reference Kinect-v1 pipeline: {reference:6.2f} ms/frame")
    for name, ms in rows:
        print(f"preset {name:<17} {ms:6.2f} ms/frame  ({ms / reference:4.2f} x reference)")
    if torch_ms is not None:
        print(
            f"torch kinect_v1, CPU batch of {args.batch} (1 thread): {torch_ms:6.2f} ms/frame  "
            f"({torch_ms / reference:4.2f} x reference)"
        )


if __name__ == "__main__":
    main()
