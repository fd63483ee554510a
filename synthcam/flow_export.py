"""``synthcam export flow``: a dataset's stored optical flow as Middlebury ``.flo`` or KITTI PNG files.

One file per frame that has a next frame, named ``SHARD_FRAME`` (``room_00003_00012.flo``): the forward
flow of that frame to the next one of its trajectory, valid where the shard's flow mask says the pixel is
seen in the next frame (:data:`~synthcam_core.geometry.flow_np.FLOW_VALID`; occluded and out-of-view pixels
are invalid). A dataset without flow is refused before anything is written; existing files are replaced
only with ``overwrite``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synthcam.flow_files import FORMATS, SUFFIX, write_flow_file
from synthcam_core.errors import InputError
from synthcam_core.geometry.flow_np import FLOW_NONE, FLOW_VALID
from synthcam_shards.manifest import find_shards
from synthcam_shards.shard_file import ShardFile


def flow_shards(path: Path) -> list[tuple[Path, int]]:
    """(shard, frame count) of every shard of the dataset (or the shard) at ``path``; refuses
    (:class:`InputError`, one line) a shard without flow, before anything is read or written."""
    shards = []
    for shard_path in find_shards(path):
        with ShardFile(shard_path) as shard:
            if not shard.has_flow:
                raise InputError(
                    f"{shard_path.name} holds no optical flow; generate the dataset with 'synthcam generate --flow'"
                )
            shards.append((shard_path, len(shard)))
    return shards


def plan_export(path: Path, out_dir: Path, fmt: str, overwrite: bool = False) -> list[tuple[Path, int, Path]]:
    """(shard, frame, output file) of every frame to export from the dataset at ``path`` into ``out_dir``.

    Raises :class:`InputError` (one line) for an unknown format, a dataset without flow, or files already in
    ``out_dir`` under the names to write unless ``overwrite``."""
    if fmt not in FORMATS:
        raise InputError(f"unknown flow format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    targets = [
        (shard, i, out_dir / f"{shard.name.removesuffix('.h5')}_{i:05d}{SUFFIX[fmt]}")
        for shard, n in flow_shards(path)
        for i in range(n)
    ]
    taken = [t for _, _, t in targets if t.exists() or t.is_symlink()]
    if taken and not overwrite:
        raise InputError(
            f"{out_dir} already holds {len(taken)} of the files to write (e.g. {taken[0].name}); "
            "pass --overwrite to replace them or choose another --out"
        )
    return targets


def export_flow(
    targets: list[tuple[Path, int, Path]], fmt: str, on_frame: Callable[[int], None] | None = None
) -> list[Path]:
    """Write the flow of every (shard, frame, file) of ``targets`` (:func:`plan_export`) in format ``fmt``
    (:data:`~synthcam.flow_files.FORMATS`), each file atomically; a trajectory's last frame (no next frame:
    its mask is all :data:`FLOW_NONE`) is skipped. Returns the files written."""
    written: list[Path] = []
    shard: ShardFile | None = None
    try:
        for path, i, target in targets:
            if shard is None or shard.path != path:
                if shard is not None:
                    shard.close()
                shard = ShardFile(path)
            frame = shard.read_frame(i, ("flow", "flow_mask"))
            if on_frame is not None:
                on_frame(1)
            if (frame["flow_mask"] == FLOW_NONE).all():
                continue
            written.append(write_flow_file(target, frame["flow"], frame["flow_mask"] == FLOW_VALID, fmt))
    finally:
        if shard is not None:
            shard.close()
    return written
