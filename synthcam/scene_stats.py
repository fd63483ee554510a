"""Scene-library statistics for ``synthcam scenes stats``: class pixel shares, depth, objects per view.

Renders views of freshly generated rooms of each type, taken along whole camera trajectories planned
exactly as ``synthcam generate`` plans them, and compares them with NYUv2 targets
(``scene_library/data/nyu_targets.json``): the 13-class pixel shares with their total variation
distance 1/2 * sum |p - q|, mean and standard deviation of depth, and visible objects per frame.
"""

from __future__ import annotations

import json
import time
from importlib import resources

import numpy as np

from scene_library.rooms import ROOM_TYPES, ROOM_WEIGHTS, generate_room
from synthcam.render_raycast import RaycastRenderer
from synthcam.trajectory import is_structure
from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_core.labels import class13_names, class40_to_13


def nyu_targets() -> dict:
    return json.loads(resources.files("scene_library").joinpath("data").joinpath("nyu_targets.json").read_text())


def scene_statistics(
    per_type: int,
    seed: int = 0,
    resolution: tuple[int, int] = (160, 120),
    views_per_room: int = 4,
    room_types: tuple[str, ...] = ROOM_TYPES,
    on_view=None,
    trajectory_frames: int = 60,
) -> dict:
    """Render ``per_type`` views of each room type, ``views_per_room`` per generated room.

    Each room gets one ``trajectory_frames``-frame trajectory planned as ``synthcam generate`` plans it
    (separate scene and trajectory seed streams, clearance and view judging by ray casting at 64x48),
    and the views are ``views_per_room`` of its frames spread evenly from the first to the last, so the
    statistics describe whole trajectories as generation writes them, not only their starts.
    Returns per-type and NYU-weighted totals: 13-class pixel counts, depth sums, objects per view, and
    the rooms-per-second rate of scene generation alone.
    """
    from synthcam.trajectory import sample_trajectory

    if views_per_room < 1 or trajectory_frames < views_per_room:
        raise SynthcamError(f"need 1 <= views_per_room ({views_per_room}) <= trajectory_frames ({trajectory_frames})")
    intrinsics = Intrinsics.nyuv2().scaled(*resolution)
    lut13 = class40_to_13()
    out: dict = {
        "per_type": {},
        "resolution": list(resolution),
        "views_per_room": views_per_room,
        "trajectory_frames": trajectory_frames,
    }
    gen_seconds, rooms = 0.0, 0
    for t_index, room_type in enumerate(room_types):
        counts13 = np.zeros(14, dtype=np.int64)
        depth_sum = depth_sq = 0.0
        depth_n = 0
        objects_per_view = []
        views = skipped = 0
        room_index = 0
        while views < per_type:
            scene_seq, traj_seq = np.random.SeedSequence([seed, t_index, room_index]).spawn(2)
            room_index += 1
            start = time.perf_counter()
            scene = generate_room(np.random.default_rng(scene_seq), room_type)
            gen_seconds += time.perf_counter() - start
            rooms += 1
            probe = RaycastRenderer(scene, intrinsics.scaled(64, 48), nthreads=0)
            try:
                traj = sample_trajectory(
                    scene, trajectory_frames, np.random.default_rng(traj_seq), probe.distance, probe.instances
                )
            except SynthcamError:
                skipped += 1  # no view passes the rules in this room: generation draws another room too
                continue
            renderer = RaycastRenderer(scene, intrinsics, nthreads=0)
            is_object = np.zeros(len(scene.objects) + 1, dtype=bool)
            for o in scene.objects:
                is_object[o.instance_id] = not is_structure(o)
            n = min(views_per_room, per_type - views)
            for index in np.linspace(0, trajectory_frames - 1, views_per_room).round().astype(int)[:n]:
                frame = renderer.render(traj.poses[index], normals=False)
                counts13 += np.bincount(lut13[frame.class40].ravel(), minlength=14)
                d = frame.depth[frame.depth > 0].astype(np.float64)
                depth_sum, depth_sq, depth_n = depth_sum + d.sum(), depth_sq + np.square(d).sum(), depth_n + d.size
                ids, px = np.unique(frame.instance, return_counts=True)
                objects_per_view.append(int(np.sum(is_object[ids] & (px >= 0.005 * frame.instance.size))))
                views += 1
                if on_view is not None:
                    on_view(1)
        mean = depth_sum / depth_n
        out["per_type"][room_type] = {
            "views": views,
            "rooms": room_index,
            "rooms_without_trajectory": skipped,
            "class13_pixels": counts13.tolist(),
            "depth_mean_m": mean,
            "depth_std_m": float(np.sqrt(depth_sq / depth_n - mean**2)),
            "depth_sum": depth_sum,
            "depth_sq": depth_sq,
            "depth_n": depth_n,
            "objects_per_view": float(np.mean(objects_per_view)),
        }
    out["rooms_per_second"] = rooms / gen_seconds if gen_seconds else 0.0
    out["total"] = _weighted_total(out["per_type"])
    return out


def _weighted_total(per_type: dict) -> dict:
    """NYU-room-mix weighted class shares and depth statistics over the types present."""
    names = class13_names()
    weights = {t: ROOM_WEIGHTS[t] for t in per_type}
    norm = sum(weights.values())
    share = np.zeros(14)
    depth_mean = depth_sq = 0.0
    for t, stats in per_type.items():
        px = np.asarray(stats["class13_pixels"], dtype=np.float64)
        share[1:] += weights[t] / norm * px[1:] / max(px[1:].sum(), 1.0)
        depth_mean += weights[t] / norm * stats["depth_sum"] / stats["depth_n"]
        depth_sq += weights[t] / norm * stats["depth_sq"] / stats["depth_n"]
    targets = nyu_targets()["class13_share_percent"]
    target = np.array([0.0] + [targets[n] for n in names[1:]])
    target /= target.sum()
    tv = 0.5 * float(np.abs(share[1:] - target[1:]).sum())
    return {
        "class13_share": {names[i]: float(share[i]) for i in range(1, 14)},
        "class13_target": {names[i]: float(target[i]) for i in range(1, 14)},
        "total_variation": tv,
        "depth_mean_m": depth_mean,
        "depth_std_m": float(np.sqrt(max(depth_sq - depth_mean**2, 0.0))),
        "objects_per_view": float(
            np.average([s["objects_per_view"] for s in per_type.values()], weights=[weights[t] for t in per_type])
        ),
    }


def format_statistics(stats: dict) -> str:
    """A side-by-side text table of the statistics against the NYUv2 targets."""
    targets = nyu_targets()
    total = stats["total"]
    lines = [f"{'class (13)':<12} {'ours %':>7} {'NYUv2 %':>8}"]
    for name, share in sorted(total["class13_share"].items(), key=lambda kv: -total["class13_target"][kv[0]]):
        lines.append(f"{name:<12} {100 * share:7.1f} {100 * total['class13_target'][name]:8.1f}")
    lines.append(f"total variation distance 1/2*sum|p-q| = {total['total_variation']:.3f} (goal <= 0.10)")
    lo, hi = targets["depth_mean_range_m"]
    slo, shi = targets["depth_std_range_m"]
    lines.append(
        f"depth mean {total['depth_mean_m']:.2f} m (NYUv2 {targets['depth_mean_m']:.2f}, accept {lo}-{hi}); "
        f"std {total['depth_std_m']:.2f} m (NYUv2 {targets['depth_std_m']:.2f}, accept {slo}-{shi})"
    )
    lines.append(f"objects visible per frame (>= 0.5 % of pixels): {total['objects_per_view']:.1f}")
    lines.append(f"rooms generated per second (scene generation only): {stats['rooms_per_second']:.1f}")
    lines.append("per room type:")
    for room_type, s in stats["per_type"].items():
        lines.append(
            f"  {room_type:<12} {s['views']:4d} views from {s['rooms']:3d} rooms, depth {s['depth_mean_m']:.2f} "
            f"+- {s['depth_std_m']:.2f} m, {s['objects_per_view']:.1f} objects/view "
            f"(SUN RGB-D annotates {targets['objects_per_image'][room_type]})"
        )
    return "\n".join(lines)
