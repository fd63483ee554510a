"""Reusable shared memory for the batches a DataLoader worker sends to the main process.

torch sends each tensor a worker returns through a new shared-memory segment, whose pages the
kernel allocates and zeroes for every batch: on a 2-vCPU VM that costs about 0.8 ms per compact
640x480 frame, nearly as much as reading the frame. Here each worker keeps a few segments
(:class:`SegmentPool`) and reuses one once the main process has dropped every tensor of the batch
it carried. A batch travels as a :class:`PooledBatch`: the segment's file descriptor and the
tensors' layout; the main process maps each segment once (:func:`_rebuild`) and a finalizer on the
batch's storage marks the segment free again, so a worker never writes into memory that a tensor
of the main process can still see. When every segment is in use (the main process keeps many
batches alive), :func:`pooled_empty` returns None and the caller falls back to torch's own path.
"""

from __future__ import annotations

import mmap
import os
import weakref
from collections import OrderedDict
from multiprocessing.reduction import DupFd
from typing import Protocol

import numpy as np
import torch

HEADER = 64
"""Bytes before the tensors of a segment; byte 0 is 1 while a batch in it may still be in use."""
ALIGN = 64
MAX_SEGMENTS = 8
"""Segments per worker: enough for prefetching plus the batches the main process holds."""
MAX_MAPPED = 64
"""Segments the main process keeps mapped (those of exited workers are dropped first)."""

Layout = tuple[tuple[str, tuple[int, ...], torch.dtype, int], ...]  # (key, shape, dtype, byte offset)


class _Segment:
    """One memfd-backed segment of a worker: capacity bytes after the header."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.fd = os.memfd_create("synthcam-batch", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, HEADER + capacity)
        self.map = mmap.mmap(self.fd, HEADER + capacity)
        self.flag = np.frombuffer(self.map, dtype=np.uint8, count=1)
        self.token = int.from_bytes(os.urandom(8), "little")  # names this segment to the main process

    def release(self) -> None:
        os.close(self.fd)  # the mapping goes with the last tensor that views it


class SegmentPool:
    """The segments of one worker process (see the module docstring)."""

    def __init__(self, max_segments: int | None = None):
        self.max_segments = MAX_SEGMENTS if max_segments is None else max_segments
        self.segments: list[_Segment] = []

    def take(self, nbytes: int) -> _Segment | None:
        """A free segment of at least ``nbytes``, marked in use; None when all are in use."""
        free = [s for s in self.segments if s.flag[0] == 0]
        for segment in free:
            if segment.capacity >= nbytes:
                segment.flag[0] = 1
                return segment
        if len(self.segments) >= self.max_segments:
            if not free:
                return None
            self.segments.remove(free[0])  # too small for this batch: replace it
            free[0].release()
        segment = _Segment(nbytes)
        segment.flag[0] = 1
        self.segments.append(segment)
        return segment


_POOL: tuple[int, SegmentPool] | None = None


def _pool() -> SegmentPool:
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():  # never share a pool inherited through fork
        _POOL = (os.getpid(), SegmentPool())
    return _POOL[1]


class PooledBatch(dict):
    """A batch dict whose tensors live in a pooled segment; pickles as (descriptor, layout)."""

    def __init__(self, segment: _Segment, layout: Layout, tensors: dict[str, torch.Tensor]):
        super().__init__(tensors)
        self.segment, self.layout = segment, layout

    def __reduce__(self):
        s = self.segment
        return _rebuild, (DupFd(s.fd), s.token, os.getpid(), HEADER + s.capacity, self.layout)


def _views(buffer: torch.Tensor, layout: Layout) -> dict[str, torch.Tensor]:
    out = {}
    for key, shape, dtype, offset in layout:
        nbytes = int(np.prod(shape)) * dtype.itemsize
        out[key] = buffer[offset : offset + nbytes].view(dtype).view(shape)
    return out


def _layout(spec: dict[str, tuple[tuple[int, ...], torch.dtype]]) -> tuple[Layout, int]:
    layout, offset = [], 0
    for key, (shape, dtype) in spec.items():
        layout.append((key, tuple(int(n) for n in shape), dtype, offset))
        offset += -(-int(np.prod(shape)) * dtype.itemsize // ALIGN) * ALIGN
    return tuple(layout), offset


def pooled_empty(spec: dict[str, tuple[tuple[int, ...], torch.dtype]]) -> PooledBatch | None:
    """Uninitialised tensors ``{key: (shape, dtype)}`` in one free segment of this process's pool,
    or None when every segment is still in use by the main process."""
    if not hasattr(os, "memfd_create"):  # Linux only; elsewhere torch's own path
        return None
    layout, nbytes = _layout(spec)
    segment = _pool().take(nbytes)
    if segment is None:
        return None
    data = np.frombuffer(segment.map, dtype=np.uint8, count=nbytes, offset=HEADER)
    return PooledBatch(segment, layout, _views(torch.from_numpy(data), layout))


_MAPPED: OrderedDict[int, tuple[int, mmap.mmap]] = OrderedDict()  # token -> (worker pid, mapping), main process


def mapped_segments() -> int:
    """How many workers' shared-memory segments the main process holds mapped now (at most :data:`MAX_MAPPED`)."""
    return len(_MAPPED)


received = 0
"""Batches this process has received through pooled segments (a diagnostic)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SharedFd(Protocol):
    """What :func:`multiprocessing.reduction.DupFd` gives (a file descriptor passed to another process)."""

    def detach(self) -> int:
        """The descriptor, duplicated into this process."""
        ...


def _mapping(dup: SharedFd, token: int, pid: int, size: int) -> mmap.mmap:
    fd = dup.detach()
    try:
        entry = _MAPPED.get(token)
        if entry is None or len(entry[1]) != size:
            for old in [t for t, (p, _) in _MAPPED.items() if not _alive(p)]:
                del _MAPPED[old]  # tensors still viewing them keep their memory
            while len(_MAPPED) >= MAX_MAPPED:
                _MAPPED.popitem(last=False)
            entry = _MAPPED[token] = (pid, mmap.mmap(fd, size))
        _MAPPED.move_to_end(token)
        return entry[1]
    finally:
        os.close(fd)


def _release(flag: np.ndarray, owner: int, token: int, pid: int) -> None:
    if os.getpid() != owner:  # a forked child dropping an inherited batch: the parent still has it
        return
    flag[0] = 0
    if not _alive(pid):  # its worker has exited: nothing will come through this segment again
        _MAPPED.pop(token, None)


def _rebuild(dup: SharedFd, token: int, pid: int, size: int, layout: Layout) -> dict[str, torch.Tensor]:
    """Main process: the batch's tensors as views of the mapped segment; the segment is released
    when the last of them (or of their views) is gone."""
    global received
    mapping = _mapping(dup, token, pid, size)
    received += 1
    data = np.frombuffer(mapping, dtype=np.uint8, count=size - HEADER, offset=HEADER)
    weakref.finalize(data, _release, np.frombuffer(mapping, dtype=np.uint8, count=1), os.getpid(), token, pid)
    return _views(torch.from_numpy(data), layout)  # the storage holds ``data`` until its last view dies
