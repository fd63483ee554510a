"""The ``generate --flow`` stage of the per-room pipeline: each frame's optical flow to the next, computed
while the next frame is noised and written.

:class:`FlowStage` keeps the previous frame's clean depth and pose. When frame i is rendered,
:meth:`FlowStage.start` begins frame i-1's flow (:func:`~synthcam_core.geometry.flow_np.forward_flow`) on a
background thread where this process may use more than one core, so it overlaps the noise and the writing
of frame i (numpy and OpenCV release the GIL); :meth:`FlowStage.finish` then writes it. On one core it is
computed at the same point without a thread. Either way the shard's writes come in the same order, so the
bytes do not depend on the core count.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from synthcam.worker_processes import available_cores
from synthcam_core.camera import Intrinsics
from synthcam_core.geometry.flow_np import FlowField, empty_flow, forward_flow, no_flow
from synthcam_shards.shard_file import ShardWriter


class FlowStage:
    """Flow of consecutive frames of one room, written into ``writer`` (created with ``flow=True``)."""

    def __init__(self, writer: ShardWriter, intrinsics: Intrinsics, threaded: bool | None = None):
        self.writer, self.intrinsics = writer, intrinsics
        self.field = empty_flow(intrinsics.height, intrinsics.width)  # reused: written before the next starts
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # clean depth (H, W) m, pose (4, 4)
        self.pending: tuple[int, Future[FlowField] | FlowField] | None = None
        threaded = len(available_cores()) > 1 if threaded is None else threaded
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="synthcam-flow") if threaded else None

    def start(self, index: int, depth: np.ndarray, pose: np.ndarray) -> None:
        """Frame ``index`` was rendered with clean (H, W) float32 ``depth`` (metres) at the (4, 4) ``pose``:
        begin the previous frame's flow to it. Call :meth:`finish` before the next :meth:`start`."""
        if self.previous is not None:
            args = (self.previous[0], depth, self.intrinsics, self.previous[1], pose)
            if self.pool is not None:
                self.pending = (index - 1, self.pool.submit(forward_flow, *args, out=self.field))
            else:
                self.pending = (index - 1, forward_flow(*args, out=self.field))
        self.previous = (depth, pose)

    def finish(self) -> None:
        """Write the flow :meth:`start` began (waits for it)."""
        if self.pending is None:
            return
        index, result = self.pending
        self.pending = None
        field = result.result() if isinstance(result, Future) else result
        self.writer.write_flow(index, field.flow, field.mask)

    def close(self, frames: int) -> None:
        """Write the pending flow and the last frame's (:func:`no_flow`: it has no next frame) of a room of
        ``frames`` frames, and stop the thread."""
        try:
            self.finish()
            last = no_flow(self.intrinsics.height, self.intrinsics.width)
            self.writer.write_flow(frames - 1, last.flow, last.mask)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the thread (after the running flow, if any); idempotent."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
