"""Clip reader frames/s at 640x480 through a torch DataLoader, beside single frames of the same shards.

Run: .venv/bin/python benchmarks/clip_reader_fps.py [--data DIR] [--rooms 4] [--frames-per-room 40]
                                                    [--clip-length 8] [--batch 4] [--workers 2] [--epochs 5]

Generates a small 640x480 dataset into DIR if it holds no shards, with ``synthcam generate --noise none``
(only the bytes matter) plus ``--flow --frame-rate 25 --clip-length T`` when this synthcam has those
options (it says which), reads it once to warm the page cache, then reports in the same run, for
standard (float32 depth, int64 label, float32 flow) and compact (uint16 depth_mm, uint8 label, int16
flow_stored) samples:
- the cost per frame of building a batch in this process (``read_batch``, best of 3 passes):
  ``ShardDataset`` runs of T frames, clips without flow, clips with flow;
- DataLoader frames/s over ``--epochs`` epochs after a warm-up epoch with ``--workers`` workers and
  ``collate_fn=collate_frames``: ``frames`` = ``ShardDataset`` + ``ShardOrderSampler(block=T,
  by_shard=False)``, batch B x T frames; ``clips`` = ``ClipDataset(clip_length=T)`` + ``ClipSampler``,
  batch B clips (``flow=False``, and with flow when the shards hold it);
- where a clip's read time goes: ms per frame of ``ShardFile.read_frames`` of each stored field alone, into
  preallocated arrays, T frames at a time (HDF5 decompression and unshuffle, plus the CRC check).
Goal: >= 1,000 frames/s in 8-frame clips with 2 workers.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_FPS = 1000.0


def ensure_dataset(data: Path, rooms: int, frames: int, clip_length: int) -> None:
    """Generate ``rooms`` x ``frames`` 640x480 frames into ``data`` unless it holds shards, with flow at
    25 frames/s in clips of ``clip_length`` when ``synthcam generate`` has those options."""
    if list(data.glob("*.h5")):
        return
    synthcam = str(Path(sys.executable).with_name("synthcam"))
    command = [synthcam, "generate", "--out", str(data), "--rooms", str(rooms), "--frames-per-room", str(frames)]
    command += ["--seed", "1", "--noise", "none", "--workers", "2"]
    has_flow = "--flow" in subprocess.run([synthcam, "generate", "--help"], capture_output=True, text=True).stdout
    if has_flow:
        command += ["--flow", "--frame-rate", "25", "--clip-length", str(clip_length)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(f"generated {rooms * frames} frames in {time.perf_counter() - start:.1f} s into {data}")
    print(f"  {' '.join(command[1:])}")
    if not has_flow:
        print("  this synthcam has no --flow/--frame-rate/--clip-length: shards without flow, clips at 2.5 Hz")


def frames_in(batch) -> int:
    """Frames in a batch of frames (B, H, W labels) or of clips (B, T, H, W)."""
    label = batch["label"]
    return int(label.numel() // (label.shape[-1] * label.shape[-2]))


def datasets(data: Path, compact: bool, clip_length: int):
    """``{name: (dataset, batch items, sampler)}`` of the rows measured (clips with flow if the shards hold it)."""
    from segnet.datasets.clip_reader import ClipDataset, ClipSampler
    from segnet.datasets.shard_reader import ShardDataset, ShardOrderSampler

    frames = ShardDataset(data, compact=compact)
    rows = {"frames": (frames, ShardOrderSampler(frames, seed=0, block=clip_length, by_shard=False))}
    for flow in (False, True):
        clips = ClipDataset(data, clip_length=clip_length, compact=compact, flow=None if flow else False)
        if flow and not clips.flow:
            continue
        rows["clips + flow" if flow else "clips"] = (clips, ClipSampler(clips, seed=0))
    return rows


def batch_cost_ms(dataset, sampler, items: int) -> float:
    """Best of 3 passes: milliseconds per frame of ``dataset.read_batch`` over one epoch of batches."""
    import numpy as np

    order = np.array(list(sampler), dtype=np.int64)
    batches = [order[a : a + items] for a in range(0, len(order), items)]
    best = float("inf")
    for _ in range(3):
        frames, start = 0, time.perf_counter()
        for index in batches:
            frames += frames_in(dataset.read_batch(index, shared=False))
        best = min(best, (time.perf_counter() - start) * 1e3 / frames)
    return best


def loader_fps(dataset, sampler, items: int, workers: int, epochs: int) -> tuple[float, float]:
    """(mean, best-epoch) frames/s over ``epochs`` epochs after a warm-up epoch."""
    from torch.utils.data import DataLoader

    from segnet.datasets.shard_reader import collate_frames

    loader = DataLoader(
        dataset,
        batch_size=items,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers else None,
        collate_fn=collate_frames,
    )
    for _ in loader:  # warm-up: page cache, worker start, handles
        pass
    rates = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch + 1)
        frames, start = 0, time.perf_counter()
        for batch in loader:
            frames += frames_in(batch)
        rates.append((frames, time.perf_counter() - start))
    del loader
    return sum(f for f, _ in rates) / sum(t for _, t in rates), max(f / t for f, t in rates)


def field_costs(data: Path, length: int) -> dict[str, float]:
    """Milliseconds per frame of reading each stored field of the first shard, ``length`` frames at a time
    into preallocated arrays (best of 3 passes over the shard, CRC checked)."""
    import numpy as np

    from synthcam_shards.shard_file import ShardFile

    with ShardFile(sorted(data.glob("*.h5"))[0]) as shard:
        n, h, w = len(shard) - len(shard) % length, shard.height, shard.width
        arrays = {"depth_mm": np.empty((length, h, w), np.uint16), "class40": np.empty((length, h, w), np.uint8)}
        if shard.has_flow:
            arrays.update(
                flow_planes=np.empty((length, 2, h, w), np.int16), flow_mask=np.empty((length, h, w), np.uint8)
            )
        costs = {}
        for name, array in arrays.items():
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                for first in range(0, n, length):
                    shard.read_frames(first, first + length, (name,), out={name: array})
                best = min(best, (time.perf_counter() - start) * 1e3 / n)
            costs[name] = best
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (generated if it holds no shards)")
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--frames-per-room", type=int, default=40)
    parser.add_argument("--clip-length", type=int, default=8, help="frames per clip (T)")
    parser.add_argument("--batch", type=int, default=4, help="clips per batch (B); single frames: B x T")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in DataLoader workers
    length, w = args.clip_length, args.workers
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        ensure_dataset(data, args.rooms, args.frames_per_room, length)
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}"
        )
        for compact in (False, True):
            print("compact (uint16 depth_mm, uint8 label, int16 flow_stored):" if compact else "standard (float32):")
            for name, (dataset, sampler) in datasets(data, compact, length).items():
                items = args.batch * length if name == "frames" else args.batch
                cost = batch_cost_ms(dataset, sampler, items)
                fps, best = loader_fps(dataset, sampler, items, w, args.epochs)
                goal = f"; goal {GOAL_FPS:.0f}: {fps / GOAL_FPS:.0%}" if name != "frames" else ""
                print(
                    f"  {name:>12} ({len(dataset)} items, batch {items}): read_batch {cost:6.3f} ms/frame; "
                    f"DataLoader {w} workers {fps:6.0f} frames/s (best epoch {best:.0f}{goal})"
                )
        costs = field_costs(data, length)
        print("read_frames per field, ms/frame: " + ", ".join(f"{k} {v:.3f}" for k, v in costs.items()))
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
