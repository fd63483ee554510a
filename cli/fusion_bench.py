"""``synthcam bench fusion``: semantic segmentation in the loop of reconstruction, measured.

On generated sequences with ``kinect_v1`` noise, a depth-only SegNet labels every frame; the labels are fused
into a TSDF map (:class:`segnet.fusion.volume.LabelFusion`); the map is ray-cast back into every frame.
Reported against the rendered ground truth (13 classes, void not scored), per test room and over all:

- ``network``: each frame's own prediction (argmax of the softmax) — global and class-average accuracy;
- ``fused``: the fused map's labels re-projected into the same frames, over the pixels it labels (and the
  share of ground-truth pixels it labels);
- ``3d``: every point of the fused map against the class of the nearest true surface of the room
  (:mod:`synthcam.surface_truth`), over points within two voxels of a surface;
- the fusion itself with ground-truth labels as input, with clean and with noisy depth (how much the map
  loses), and fusion speed (frames/s of integrate alone) and the map's memory.

This module is the one place that joins the producer (generation, the true surfaces) and the consumer
(training, prediction, fusion), so it lives with the command line; each step is a library call.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLASSES = 13
"""The class space of the benchmark (SceneNet / Eigen 13 classes)."""


@dataclass(frozen=True)
class BenchSettings:
    """What ``synthcam bench fusion`` runs: test rooms and frames, their resolution, the training set for
    the network when no checkpoint is given, and the fusion's voxel size and truncation (metres)."""

    test_rooms: int = 2
    test_frames: int = 60
    resolution: tuple[int, int] = (320, 240)
    train_rooms: int = 12
    train_frames: int = 40
    train_resolution: tuple[int, int] = (160, 120)
    epochs: int = 4
    voxel_size: float = 0.02
    trunc: float = 0.08
    seed: int = 0


TALLIES = ("network", "fused", "network_same_pixels", "fused_same_pixels", "truth_noisy", "truth_clean")
"""What is scored: the network alone (pixels with depth), the fused map re-projected (pixels it labels), both
on the pixels that have depth and a fused label, and ground truth fused with noisy and with clean depth."""


@dataclass
class Tally:
    """Confusion counts of one kind of label against the ground truth, and the pixels it left unlabelled."""

    matrix: np.ndarray = field(default_factory=lambda: np.zeros((CLASSES, CLASSES), np.int64))
    truth_pixels: int = 0
    labelled: int = 0

    def add(self, truth: np.ndarray, pred: np.ndarray, where: np.ndarray) -> None:
        scored = where & (truth > 0) & (truth <= CLASSES)
        self.truth_pixels += int(((truth > 0) & (truth <= CLASSES)).sum())
        hit = scored & (pred > 0) & (pred <= CLASSES)
        self.labelled += int(hit.sum())
        idx = (truth[hit].astype(np.int64) - 1) * CLASSES + (pred[hit].astype(np.int64) - 1)
        self.matrix += np.bincount(idx, minlength=CLASSES * CLASSES).reshape(CLASSES, CLASSES)

    def summary(self) -> dict:
        from segnet.metrics import scores

        result = scores(self.matrix)
        return {
            "global_acc": result["global_acc"],
            "class_avg_acc": result["class_avg_acc"],
            "coverage": self.labelled / self.truth_pixels if self.truth_pixels else float("nan"),
        }


def generate(out: Path, rooms: int, frames: int, resolution: tuple[int, int], seed: int, quiet: bool) -> Path:
    """A ``kinect_v1`` dataset of ``rooms`` x ``frames`` at ``resolution`` into ``out`` (resumed if there)."""
    from synthcam.generate import generate_dataset
    from synthcam.generate_config import GenerateConfig

    config = GenerateConfig(
        rooms=rooms, frames_per_room=frames, seed=seed, width=resolution[0], height=resolution[1], noise="kinect_v1"
    )
    generate_dataset(config, out, workers=1)
    return out


def train_network(data: Path, run: Path, settings: BenchSettings, quiet: bool, log: Callable[[str], None]) -> Path:
    """Train a small depth-only SegNet on ``data`` into ``run``; its ``best.pt``."""
    from segnet.config import TrainConfig
    from segnet.train import train

    width, height = settings.train_resolution
    config = TrainConfig(
        data=str(data),
        model="segnet-basic",
        classes=CLASSES,
        epochs=settings.epochs,
        batch_size=8,
        height=height,
        width=width,
        encoding="DHA",
        seed=settings.seed,
        val_fraction=0.1,
    )
    if not (run / "best.pt").exists():
        train(config, run, progress=not quiet, log=log, tensorboard=False)
    return run / "best.pt"


def known(truth: np.ndarray | None) -> np.ndarray:
    """A generated frame's ground truth (a shard always has it)."""
    if truth is None:
        raise ValueError("a generated frame without ground-truth labels")
    return truth


def fuse_room(shard: Path, settings: BenchSettings, labeler, tallies: dict[str, Tally]) -> dict:
    """Fuse one test room with the network's labels and with ground truth; add to ``tallies``; the room's
    fusion speed, memory and 3D accuracy."""
    from segnet.fusion.sources import ShardSource
    from segnet.fusion.volume import FusionSettings, LabelFusion
    from synthcam.surface_truth import shard_scene

    fusion_settings = FusionSettings(voxel_size=settings.voxel_size, trunc=settings.trunc)
    maps = {
        "net": LabelFusion(CLASSES + 1, fusion_settings),
        "truth_noisy": LabelFusion(CLASSES + 1, fusion_settings),
        "truth_clean": LabelFusion(CLASSES + 1, fusion_settings),
    }
    noisy, clean = ShardSource(shard, "noisy", CLASSES), ShardSource(shard, "clean", CLASSES)
    intrinsics = noisy.intrinsics
    integrate_s = 0.0
    frames = list(zip(noisy.frames(), clean.frames()))
    preds = []
    for frame, clean_frame in frames:
        truth, clean_truth = known(frame.truth), known(clean_frame.truth)
        probs = labeler.probabilities(frame, intrinsics)
        pred = probs.argmax(axis=0).astype(np.uint8)
        preds.append(pred)
        tallies["network"].add(truth, pred, frame.depth > 0)
        start = time.perf_counter()
        maps["net"].integrate(frame.depth, frame.pose, intrinsics, probs)
        integrate_s += time.perf_counter() - start
        maps["truth_noisy"].integrate(frame.depth, frame.pose, intrinsics, truth)
        maps["truth_clean"].integrate(clean_frame.depth, frame.pose, intrinsics, clean_truth)
    for (frame, clean_frame), pred in zip(frames, preds):
        truth, clean_truth = known(frame.truth), known(clean_frame.truth)
        view = maps["net"].render(frame.pose, intrinsics)
        tallies["fused"].add(truth, view.labels, np.ones_like(view.labels, bool))
        both = (view.labels > 0) & (frame.depth > 0)
        tallies["network_same_pixels"].add(truth, pred, both)
        tallies["fused_same_pixels"].add(truth, view.labels, both)
        for name in ("truth_noisy", "truth_clean"):
            view = maps[name].render(frame.pose, intrinsics)
            tallies[name].add(clean_truth, view.labels, clean_frame.depth > 0)
    noisy.close()
    clean.close()
    scene = shard_scene(shard)
    net_3d, near = surface_accuracy(maps["net"], scene, settings.voxel_size)
    truth_3d, _ = surface_accuracy(maps["truth_noisy"], scene, settings.voxel_size)
    return {
        "frames": len(frames),
        "integrate_fps": len(frames) / integrate_s if integrate_s else float("nan"),
        "memory_mib": maps["net"].memory_bytes() / 2**20,
        "points_near_surface": near,
        "3d_acc": net_3d,
        "3d_acc_truth_noisy": truth_3d,
    }


def surface_accuracy(fusion, scene, voxel_size: float) -> tuple[float, int]:
    """Share of the map's surface points within 2 voxels of a true (non-void) surface of ``scene`` that carry
    that surface's 13-class label, and how many such points there are."""
    from synthcam.surface_truth import surface_truth
    from synthcam_core.labels import class40_to_13

    points = fusion.extract()
    surface = surface_truth(scene, points.points)
    truth13 = class40_to_13().astype(np.uint8)[surface.class40]
    near = (surface.distance <= 2 * voxel_size) & (truth13 > 0)
    accuracy = float((points.labels[near] == truth13[near]).mean()) if near.any() else float("nan")
    return accuracy, int(near.sum())


def run_fusion_bench(
    work: Path,
    settings: BenchSettings,
    checkpoint: Path | None = None,
    data: Path | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """The whole benchmark in ``work`` (datasets and the training run are kept there and reused)."""
    from segnet.fusion.sources import CheckpointLabeler
    from synthcam_shards.shard_file import find_shards

    work.mkdir(parents=True, exist_ok=True)
    if checkpoint is None:
        log(f"training a small SegNet on {settings.train_rooms} x {settings.train_frames} generated frames")
        train_data = generate(
            work / "train", settings.train_rooms, settings.train_frames, settings.train_resolution, settings.seed, quiet
        )
        checkpoint = train_network(train_data, work / "run", settings, quiet, log)
    if data is None:
        data = generate(
            work / "test", settings.test_rooms, settings.test_frames, settings.resolution, settings.seed + 1, quiet
        )
    labeler = CheckpointLabeler(checkpoint, CLASSES)
    tallies = {name: Tally() for name in TALLIES}
    rooms = [fuse_room(shard, settings, labeler, tallies) for shard in find_shards(data)]
    return {
        "settings": dataclasses.asdict(settings),
        "checkpoint": str(checkpoint),
        "rooms": rooms,
        "frames": sum(r["frames"] for r in rooms),
        **{name: tally.summary() for name, tally in tallies.items()},
        **{
            key: float(np.average([r[key] for r in rooms], weights=[r["points_near_surface"] for r in rooms]))
            for key in ("3d_acc", "3d_acc_truth_noisy")
        },
        "integrate_fps": float(np.mean([r["integrate_fps"] for r in rooms])),
        "memory_mib": float(max(r["memory_mib"] for r in rooms)),
    }


def format_report(report: dict) -> str:
    """The table ``synthcam bench fusion`` prints."""
    pct = lambda x: f"{100 * x:6.2f} %"  # noqa: E731
    s = report["settings"]
    lines = [
        f"label fusion over {report['frames']} frames of {len(report['rooms'])} room(s) at "
        f"{s['resolution'][0]}x{s['resolution'][1]}, kinect_v1 depth, {100 * s['voxel_size']:g} cm voxels, 13 classes",
        "",
        f"{'labels':38s} {'global':>9s} {'class avg':>9s} {'coverage':>9s}",
    ]
    rows = (
        ("network, each frame alone", "network"),
        ("network, fused and re-projected", "fused"),
        ("  network alone, same pixels", "network_same_pixels"),
        ("  fused, same pixels", "fused_same_pixels"),
        ("ground truth fused, clean depth", "truth_clean"),
        ("ground truth fused, kinect_v1 depth", "truth_noisy"),
    )
    for title, key in rows:
        r = report[key]
        lines.append(f"{title:38s} {pct(r['global_acc'])} {pct(r['class_avg_acc'])} {pct(r['coverage'])}")
    lines += [
        "",
        "3D: fused points within 2 voxels of a true surface labelled as that surface: "
        f"{pct(report['3d_acc'])} (ground truth fused, kinect_v1 depth: {pct(report['3d_acc_truth_noisy'])})",
        f"fusion speed (integrate, network labels): {report['integrate_fps']:.1f} frames/s; "
        f"map memory at most {report['memory_mib']:.0f} MiB",
    ]
    return "\n".join(lines)
