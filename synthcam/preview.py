"""Preview pictures of shards: clean and noisy depth side by side, and colour-coded labels.

Pictures are written atomically (:func:`~synthcam_core.atomic_file.write_atomic`): never through a file or
link the tool did not create, never half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthcam_core.atomic_file import write_atomic
from synthcam_core.palette import class_palette, colorize_depth, legend_handles, legend_items

MAX_PREVIEW_SIDE = 1024
"""Frames larger than this (pixels, longer side) are drawn subsampled (every k-th pixel, nearest): a
picture needs no more, and colour-mapping a 4096x4096 frame in float64 would take gigabytes."""


def render_preview(
    depth_clean: np.ndarray,
    depth: np.ndarray,
    class40: np.ndarray,
    class_names: tuple[str, ...],
    out_path: Path,
    title: str = "",
) -> Path:
    """Write a PNG with three panels: clean depth, noisy depth (shared scale), labels with a legend.

    depth_clean, depth : (H, W) float32 metres, 0 = invalid. class40 : (H, W) uint8. Frames larger than
    :data:`MAX_PREVIEW_SIDE` are drawn subsampled; the invalid share and class shares count every pixel.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure  # no pyplot: drawing changes no process-wide backend

    invalid_pct = 100.0 * float(np.count_nonzero(depth <= 0)) / max(depth.size, 1)
    legend = legend_items([np.asarray(class40, dtype=np.uint8)], 40, class_names, void=True)  # every pixel counts
    step = -(-max(depth.shape) // MAX_PREVIEW_SIDE)  # ceil: 1 for frames up to MAX_PREVIEW_SIDE
    depth_clean, depth, class40 = depth_clean[::step, ::step], depth[::step, ::step], class40[::step, ::step]
    valid = depth_clean[depth_clean > 0]
    vmin, vmax = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    palette = class_palette(40)
    fig = Figure(figsize=(17, 4.6))
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.04})
    panels = [
        (colorize_depth(depth_clean, vmin, vmax), "clean depth"),
        (colorize_depth(depth, vmin, vmax), f"noisy depth (white = invalid, {invalid_pct:.1f} %)"),
        (palette[class40], "NYU40 labels"),
    ]
    for ax, (img, name) in zip(axes, panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    sm = ScalarMappable(cmap="turbo", norm=Normalize(vmin, vmax))
    fig.colorbar(sm, ax=axes[:2], orientation="horizontal", fraction=0.05, pad=0.03, aspect=50, label="depth (m)")
    axes[2].legend(
        handles=legend_handles(legend), loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False
    )
    if title:
        fig.suptitle(title, fontsize=11)
    out_path = Path(out_path)
    write_atomic(out_path, lambda file: fig.savefig(file, format="png", dpi=72, bbox_inches="tight"))
    return out_path


def preview_shard(path: Path, out_dir: Path, frames: int = 3) -> list[Path]:
    """Write previews of ``frames`` evenly spaced frames of the shard at ``path`` into ``out_dir``.

    Frames are read through :class:`~synthcam_shards.shard_file.ShardFile`, checksums verified: a damaged shard
    raises :class:`~synthcam_core.errors.ShardError` naming it and the frame."""
    from synthcam_shards.shard_file import ShardFile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with ShardFile(path) as shard:
        n = len(shard)
        for i in sorted(set(np.linspace(0, n - 1, min(frames, n)).round().astype(int).tolist())):
            frame = shard.read_frame(i, ("depth_clean", "depth", "class40"))
            out = out_dir / f"{Path(path).stem}_frame{i:04d}.png"
            render_preview(
                frame["depth_clean"],
                frame["depth"],
                frame["class40"],
                shard.class_names,
                out,
                title=f"{Path(path).name}  frame {i}",
            )
            written.append(out)
    return written


def render_plan(
    description: dict, out_path: Path, views: list[np.ndarray] | None = None, class_names: tuple[str, ...] | None = None
) -> Path:
    """Top-down plan of a scene description (labelled footprints, door swing zones), optionally with
    rendered NYU40 label views beside it. views : list of (H, W) uint8 class images."""
    from matplotlib.figure import Figure  # no pyplot: drawing changes no process-wide backend
    from matplotlib.patches import Polygon, Rectangle

    from scene_library.description import build_piece
    from scene_library.geometry2d import Box3
    from synthcam_core.labels import class40_names

    names = class_names or class40_names()
    palette = class_palette(40)
    n_views = len(views or [])
    fig = Figure(figsize=(6 + 4 * n_views, 6))
    axes = fig.subplots(1, 1 + n_views, squeeze=False, gridspec_kw={"width_ratios": [1.4] + [1] * n_views})
    ax = axes[0, 0]
    poly = np.asarray(description["room"]["polygon"])
    for rect in description.get("keep_clear", []):
        ax.add_patch(
            Rectangle(rect[:2], rect[2] - rect[0], rect[3] - rect[1], fill=False, hatch="//", ec="0.6", lw=0.5)
        )
    items = []
    for obj in description["objects"]:
        piece = build_piece(obj["kind"], obj["params"])
        x, y, z, yaw = obj["pose"]
        items.append((z + piece.height, obj, Box3(x, y, yaw, piece.width, piece.depth, z, z + piece.height), piece))
    present = set()
    for _top, obj, b, piece in sorted(items, key=lambda t: t[0]):
        cls = piece.parts[0].class40
        present.add(cls)
        ax.add_patch(Polygon(b.corners(), closed=True, fc=palette[cls], ec="k", lw=0.4, alpha=0.85))
        if b.z0 < 0.05 and piece.width * piece.depth > 0.15:
            ax.text(b.cx, b.cy, obj["kind"].replace("_", " "), ha="center", va="center", fontsize=6)
    ax.add_patch(Polygon(poly, closed=True, fill=False, ec="k", lw=2.5))
    ax.set_xlim(poly[:, 0].min() - 0.3, poly[:, 0].max() + 0.3)
    ax.set_ylim(poly[:, 1].min() - 0.3, poly[:, 1].max() + 0.3)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(
        f"{description['room']['type']}, ceiling {description['room']['height']:.2f} m (hatched: door swing)",
        fontsize=9,
    )
    for k, img in enumerate(views or []):
        a = axes[0, k + 1]
        a.imshow(palette[img], interpolation="nearest")
        a.axis("off")
        a.set_title(f"view {k + 1} (NYU40 labels)", fontsize=9)
        present.update(np.unique(img).tolist())
    handles = legend_handles(legend_items([np.asarray(sorted(present))], 40, names), shares=False)  # one each: by id
    if handles:  # an empty room has nothing to list
        fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out_path = Path(out_path)
    write_atomic(out_path, lambda file: fig.savefig(file, format="png", dpi=80))
    return out_path
