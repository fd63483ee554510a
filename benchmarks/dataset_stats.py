"""NYU13 class shares and clean-depth statistics of a generated dataset, next to the NYUv2 targets.

Usage: ``python benchmarks/dataset_stats.py DATASET_DIR`` on the output of ``synthcam generate``
(every frame of every trajectory, the room-type mix that generation draws), as a cross-check of
``synthcam scenes stats`` (which measures views spread over whole trajectories of rooms drawn per type).
"""

import sys

import numpy as np

from synthcam.scene_stats import nyu_targets
from synthcam_core.labels import class13_names, class40_to_13
from synthcam_shards.shard_file import find_shards, read_shard


def main(path: str) -> None:
    lut = class40_to_13()
    counts = np.zeros(14, np.int64)
    total = total_sq = n = 0.0
    for shard_path in find_shards(path):
        shard = read_shard(shard_path)
        counts += np.bincount(lut[shard.class40].ravel(), minlength=14)
        d = shard.depth_clean[shard.depth_clean > 0].astype(np.float64)
        total, total_sq, n = total + d.sum(), total_sq + np.square(d).sum(), n + d.size
    mean = total / n
    ours = counts[1:] / counts[1:].sum()
    names = class13_names()[1:]
    target = np.array([nyu_targets()["class13_share_percent"][name] for name in names])
    target = target / target.sum()
    print(f"clean depth mean {mean:.2f} m, std {np.sqrt(total_sq / n - mean**2):.2f} m (NYUv2 2.84, 1.42)")
    print(f"total variation distance {0.5 * np.abs(ours - target).sum():.4f} (goal <= 0.10)")
    for name, a, b in zip(names, ours, target):
        print(f"  {name:10s} {100 * a:5.1f} %  NYUv2 {100 * b:5.1f} %")


if __name__ == "__main__":
    main(sys.argv[1])
