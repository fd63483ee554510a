"""How far the height channel's floor estimate is off, on real NYUv2 frames and on generated frames.

Run: .venv/bin/python benchmarks/height_estimate.py [--real ../shared/data/real/nyuv2_train]
     [--rooms 24] [--frames-per-room 10] [--shards DIR]

The height channel of DH, DHA and HHA needs the camera's height above the floor; it is estimated
from the depth as minus the 1st percentile of the points' heights relative to the camera along
gravity (:func:`segnet.encodings.estimate_camera_height`). Printed, in centimetres:

1. Real: the labelled NYUv2 train frames of the folder (``NNNN_label40.png``; floor = NYU40
   class 2) with their filled depth and NYUv2's own gravity. First the gravity row is checked: the
   share of surface normals within 4 degrees of parallel or perpendicular to gravity (rooms are
   boxes) for rotation rows k - 2, k - 1 and k of every filled frame k (1-based frame numbers);
   the row with the highest share is the frame's gravity. Then, per labelled frame, the estimated
   camera height against the median height of the floor-labelled pixels below the camera (where
   the frame shows floor), and the floor's share of the valid pixels.
2. Generated: ``synthcam generate`` rooms (kinect_v1 noise, 320x240, fixed seed; or ``--shards``),
   the estimate on noisy and on clean depth against the true camera height (the pose's z above the
   floor at z = 0): mean (bias), median absolute and 90th-percentile absolute error, the share of
   frames off by more than 10 cm, and the same split by whether the floor fills at least 1 % of the
   valid pixels.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

FLOOR40 = 2  #: NYU40 id of the floor
ALIGN_DEG = 4.0


def manhattan_share(depth: torch.Tensor, k: torch.Tensor, gravity: np.ndarray) -> float:
    """Share of valid normals within ALIGN_DEG of parallel or perpendicular to ``gravity``."""
    from segnet.encodings import backproject, surface_normals, valid_mask

    valid = valid_mask(depth)
    normals, ok = surface_normals(backproject(depth, k), valid, 9)
    cos = (normals[0] * torch.tensor(gravity, dtype=torch.float32)[:, None, None]).sum(0)[ok[0, 0]].abs()
    limit = np.radians(ALIGN_DEG)
    return float(((cos > np.cos(limit)) | (cos < np.sin(limit))).float().mean())


def real_frames(folder: Path) -> None:
    import cv2

    from segnet.datasets.tables import gravity_from_rtilt, nyuv2_camera_rotations
    from segnet.encodings import backproject, estimate_camera_height
    from synthcam_core.camera import Intrinsics

    rotations = nyuv2_camera_rotations()
    cam = Intrinsics.nyuv2()
    k = torch.tensor([[cam.fx, cam.fy, cam.cx, cam.cy]])
    print(f"real: {folder}")
    print(
        f"gravity row check (share of normals within {ALIGN_DEG:g} deg of the gravity axes, rows of "
        "camera_rotations_NYU.txt, 0-based):"
    )
    wins = {-2: 0, -1: 0, 0: 0}
    for path in sorted(glob.glob(str(folder / "*_depth.png"))):
        frame = int(Path(path).name[:4])
        depth = torch.from_numpy(cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0)[None, None]
        shares = {off: manhattan_share(depth, k, gravity_from_rtilt(rotations[frame + off])) for off in wins}
        best = max(shares, key=shares.get)
        wins[best] += 1
        print(
            f"  frame {frame:4d}: "
            + "  ".join(f"row {frame + off:4d} {100 * s:5.1f} %" for off, s in shares.items())
            + f"  -> row k{best:+d}"
        )
    print("  best row: " + ", ".join(f"k{off:+d} in {n} frames" for off, n in wins.items()))
    print("labelled frames, filled depth, gravity of row k - 1 (cm):")
    from synthcam_core.labels import class40_names

    names = class40_names()
    print("  frame  estimate  floor median  estimate - floor  floor share  taken as floor (lowest 1 %)")
    for label_path in sorted(glob.glob(str(folder / "*_label40.png"))):
        frame = int(Path(label_path).name[:4])
        label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
        mm = cv2.imread(str(folder / f"{frame:04d}_depth.png"), cv2.IMREAD_UNCHANGED)
        depth = torch.from_numpy(mm.astype(np.float32) / 1000.0)[None, None]
        g = torch.tensor(gravity_from_rtilt(rotations[frame - 1]), dtype=torch.float32)
        estimate = float(estimate_camera_height(depth, k, g[None])[0])
        below = (backproject(depth, k)[0] * g[:, None, None]).sum(0).numpy()  # metres below the camera
        floor = (label == FLOOR40) & (mm > 0)
        share = floor.sum() / max(int((mm > 0).sum()), 1)
        lowest = (mm > 0) & (below >= estimate) & (label > 0)  # the labelled pixels at or below the estimate
        ids, counts = np.unique(label[lowest], return_counts=True)
        taken = ", ".join(
            f"{names[i]} {100 * c / counts.sum():.0f} %" for i, c in sorted(zip(ids, counts), key=lambda t: -t[1])[:2]
        )
        if floor.any():
            median = float(np.median(below[floor]))
            print(
                f"  {frame:5d}  {100 * estimate:8.1f}  {100 * median:12.1f}  {100 * (estimate - median):16.1f}"
                f"  {100 * share:9.2f} %  {taken}"
            )
        else:
            print(f"  {frame:5d}  {100 * estimate:8.1f}  {'no floor':>12}  {'-':>16}  {100 * share:9.2f} %  {taken}")


def generate(rooms: int, frames: int, out: Path) -> None:
    exe = Path(sys.executable).with_name("synthcam")
    cmd = [
        str(exe),
        "generate",
        "--rooms",
        str(rooms),
        "--frames-per-room",
        str(frames),
        "--resolution",
        "320x240",
        "--seed",
        "13",
        "--noise",
        "kinect_v1",
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    print(
        f"generated {rooms} rooms x {frames} frames (320x240, kinect_v1, seed 13) in {time.perf_counter() - t0:.1f} s"
    )


def summary(errors: np.ndarray) -> str:
    if errors.size == 0:
        return "no frames"
    a = np.abs(errors)
    return (
        f"{errors.size:4d} frames: mean {100 * errors.mean():+6.1f}, median |e| {100 * np.median(a):5.1f}, "
        f"90th pct |e| {100 * np.percentile(a, 90):6.1f}, |e| > 10 cm {100 * (a > 0.1).mean():5.1f} %"
    )


def generated_frames(shards: Path) -> None:
    from segnet.datasets import make_dataset
    from segnet.encodings import estimate_camera_height

    for depth in ("clean", "noisy"):
        data = make_dataset("shards", shards, classes=40, depth=depth)
        errors, floor_ok = [], []
        for i in range(len(data)):
            s = data[i]
            est = float(estimate_camera_height(s["depth"][None], s["intrinsics"][None], s["gravity"][None])[0])
            errors.append(est - float(s["camera_height"]))
            valid = s["depth"][0] > 0
            floor_ok.append(float(((s["label"] == FLOOR40) & valid).sum()) >= 0.01 * max(int(valid.sum()), 1))
        e, f = np.array(errors), np.array(floor_ok)
        print(f"generated, {depth} depth, estimate - true (cm): {summary(e)}")
        print(f"  floor >= 1 % of valid pixels: {summary(e[f])}")
        print(f"  floor <  1 % of valid pixels: {summary(e[~f])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, default=Path("../shared/data/real/nyuv2_train"))
    parser.add_argument("--rooms", type=int, default=24)
    parser.add_argument("--frames-per-room", type=int, default=10)
    parser.add_argument("--shards", type=Path, default=None, help="Use these shards instead of generating.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}")
    real_frames(args.real)
    if args.shards is not None:
        generated_frames(args.shards)
        return
    with tempfile.TemporaryDirectory() as tmp:
        generate(args.rooms, args.frames_per_room, Path(tmp) / "shards")
        generated_frames(Path(tmp) / "shards")


if __name__ == "__main__":
    main()
