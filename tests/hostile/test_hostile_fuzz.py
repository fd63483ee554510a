"""Fuzz pass over the shard readers and ``validate`` (issue 12): Hypothesis mutates a small valid shard
(2 frames of 16x12, written once per module with :class:`ShardWriter`) by byte flips at any offset,
truncations and attribute edits, and checks, for :class:`ShardFile` + ``read_frames``,
:func:`read_shard`, :func:`summarize_shard` and :func:`validate_path`:

1. nothing raises but the project's own error (:class:`SynthcamError`, e.g. ``ShardError``), and
   nothing crashes or hangs the process (each example runs in a forked child; a signal, or no answer
   within 30 s, fails the test);
2. memory stays bounded: the peak of Python and numpy allocations (``tracemalloc``, which sees every
   numpy buffer, h5py's reads included) stays within 10x the mutated file's size (at least 64 KiB,
   for files truncated to almost nothing); HDF5's own C
   allocations, which tracemalloc cannot see, run under ``RLIMIT_AS`` = the child's address space +
   64 MiB, so an allocation driven by a crafted size fails instead of growing, and must surface as a
   project error like any other;
3. nothing damaged passes: whenever ``validate`` passes, every dataset (dtype, shape, chunks, data) and
   every attribute (type and value) of the mutated file reads back equal to the original, and whenever
   a reader returns data, that data equals what it returns for the original. (A byte flip in free
   space or padding changes no stored value, so it may pass: equality is the honest property.)
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import resource
import select
import signal
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from synthcam_core.camera import Intrinsics
from synthcam_core.errors import SynthcamError
from synthcam_shards.shard_file import READ_FIELDS, ShardFile, ShardWriter, read_shard
from synthcam_shards.summary import summarize_shard
from synthcam_shards.validate import validate_path

MEMORY_FACTOR = 10
"""Most Python + numpy bytes (tracemalloc peak) an operation may allocate, as a multiple of the file's size."""
MEMORY_FLOOR = 64 << 10
"""...but at least this many (64 KiB): opening any file and building an error costs a few KiB, even
for a file truncated to nothing. The valid 30 KB shard peaks at about 110 KB (validate)."""
ADDRESS_SPACE_BUDGET = 64 << 20
"""Address space an operation may add to the child process (HDF5's C allocations included)."""
CHILD_TIMEOUT_S = 30
"""An example whose operations take longer than this (all four together, on a 30 KB file) has hung."""
CAM = Intrinsics.nyuv2().scaled(16, 12)
SCENE = {
    "room_type": "office",
    "objects": [
        {"instance_id": 1, "class40": 1, "class_name": "wall", "name": "wall"},
        {"instance_id": 3, "class40": 7, "class_name": "table", "name": "table_0"},
    ],
}


def _write_valid(path: Path) -> Path:
    rng = np.random.default_rng(12)
    with ShardWriter(
        path,
        2,
        CAM,
        {
            "config": {"rooms": 1, "seed": 4},
            "seed": 4,
            "room_index": 0,
            "renderer": "raycast",
            "noise": {"preset": "none"},
        },
        SCENE,
    ) as writer:
        for i in range(2):
            class40 = rng.choice(np.array([0, 1, 7], np.uint8), (12, 16))
            instance = np.select([class40 == 1, class40 == 7], [1, 3], 0).astype(np.uint16)
            depth = rng.integers(300, 4000, (12, 16)).astype(np.float32) / 1000
            pose = np.eye(4)
            pose[:3, 3] = [0.5 * i, 1.0, 1.4]
            writer.write(i, depth, depth * 0.99, class40, instance, pose, i / 30, trajectory_id=0)
        return writer.close()


def _fingerprint(value) -> str:
    """SHA-256 of a nested value of arrays, numbers, strings, dicts, lists and dataclasses (types included)."""
    digest = hashlib.sha256()

    def feed(v):
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            v = np.asarray(v)
            digest.update(f"nd{v.dtype.str}{v.shape}".encode())
            digest.update(repr(v.tolist()).encode() if v.dtype.kind == "O" else np.ascontiguousarray(v).tobytes())
        elif isinstance(v, dict):
            digest.update(b"{")
            for k in sorted(v, key=str):
                feed(str(k))
                feed(v[k])
            digest.update(b"}")
        elif isinstance(v, (list, tuple)):
            digest.update(f"[{type(v).__name__}{len(v)}".encode())
            for item in v:
                feed(item)
        elif hasattr(v, "__dataclass_fields__"):
            feed({k: getattr(v, k) for k in v.__dataclass_fields__})
        else:
            digest.update(f"{type(v).__name__}:{v!r};".encode())

    feed(value)
    return digest.hexdigest()


def _file_snapshot(path: str) -> str:
    """Fingerprint of everything h5py reads back from a file: every attribute and every dataset."""
    with h5py.File(path, "r") as f:
        content = {
            "attrs": dict(f.attrs.items()),
            "datasets": {
                name: {
                    "dtype": f[name].dtype.str,
                    "shape": f[name].shape,
                    "chunks": f[name].chunks,
                    "data": f[name][()],
                    "attrs": dict(f[name].attrs.items()),
                }
                for name in f
            },
        }
    return _fingerprint(content)


def _read_frames(path: str):
    with ShardFile(path) as sf:
        return {
            "frames": sf.read_frames(0, len(sf), READ_FIELDS),
            "header": {
                k: getattr(sf, k)
                for k in (
                    "intrinsics",
                    "class_names",
                    "class13_names",
                    "class37_names",
                    "class40_to_13",
                    "class40_to_37",
                    "poses",
                    "timestamps",
                    "trajectory_ids",
                    "class40_pixels",
                    "attrs",
                    "scene",
                )
            },
        }


def _summary(path: str):
    summary = summarize_shard(path)
    summary.pop("path")
    for d in summary["datasets"].values():
        d.pop("stored_bytes")  # HDF5 bookkeeping, not a stored value
    return summary


OPERATIONS = {
    "ShardFile.read_frames": _read_frames,
    "read_shard": lambda path: {k: v for k, v in vars(read_shard(path)).items() if k != "path"},
    "summarize_shard": _summary,
    "validate_path": lambda path: validate_path(path).ok,
}


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _run_operations(path: str) -> dict:
    """In this (forked) process: every operation on ``path`` with its outcome, allocation peak and
    the fingerprint of what it returned (for validate: of the whole file when it passes)."""
    size = os.path.getsize(path)
    results = {}
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    for name, operation in OPERATIONS.items():
        value = outcome = None
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + ADDRESS_SPACE_BUDGET, hard))
        try:
            value = operation(path)
            outcome = "ok"
        except SynthcamError:
            outcome = "refused"
        except BaseException as exc:  # noqa: BLE001 (reported, the property fails)
            outcome = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
            peak = tracemalloc.get_traced_memory()[1] - start
            tracemalloc.stop()
        if outcome == "ok" and name == "validate_path":
            outcome, value = ("ok", _file_snapshot(path)) if value else ("refused", None)
        elif outcome == "ok":
            value = _fingerprint(value)
        results[name] = {
            "outcome": outcome,
            "peak": peak,
            "limit": max(MEMORY_FACTOR * size, MEMORY_FLOOR),
            "value": value,
        }
    return results


def _in_child(path: str) -> dict:
    """:func:`_run_operations` in a forked child; a crash (signal) is reported as an outcome."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            data = pickle.dumps(_run_operations(path))
            with os.fdopen(write, "wb") as out:
                out.write(data)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(write)
    chunks, deadline = [], time.monotonic() + CHILD_TIMEOUT_S
    with os.fdopen(read, "rb") as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:  # hung: an endless loop is a failure like a crash
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"process": {"outcome": f"hung for {CHILD_TIMEOUT_S} s", "peak": 0, "limit": 1, "value": None}}
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if os.WIFSIGNALED(status) or os.WEXITSTATUS(status) != 0 or not data:
        return {"process": {"outcome": f"child died (status {status:#x})", "peak": 0, "limit": 1, "value": None}}
    return pickle.loads(data)


class Original(tuple):
    """(path of the valid shard, its bytes, what every operation returns for it), with a short repr."""

    def __repr__(self) -> str:
        return f"Original({self[0].name}, {len(self[1])} bytes)"


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """The valid shard: :class:`Original`."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = _write_valid(folder / "room_00000.h5")
    for operation in OPERATIONS.values():  # warm up: lazy imports and caches are not counted in children
        operation(str(path))
    expected = _in_child(str(path))  # the harness itself: the unchanged shard passes within the bounds
    assert all(r["outcome"] == "ok" and r["peak"] <= r["limit"] for r in expected.values()), expected
    assert expected["validate_path"]["value"] == _file_snapshot(str(path))
    return Original((path, path.read_bytes(), expected))


def _check(original, mutated: Path) -> None:
    """The three properties of the module docstring for one mutated file."""
    _, _, expected = original
    results = _in_child(str(mutated))
    for name, result in results.items():
        assert result["outcome"] in ("ok", "refused"), f"{name}: {result['outcome']}"
        assert result["peak"] <= result["limit"], f"{name} allocated {result['peak']} bytes, over {result['limit']}"
        if result["outcome"] == "ok":
            what = "passed validate but a stored value changed" if name == "validate_path" else "returned changed data"
            assert result["value"] == expected[name]["value"], f"{name} {what}"


def _mutated(original, tmp_path_factory) -> Path:
    path = tmp_path_factory.getbasetemp() / "fuzz_mutated" / "room_00000.h5"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(original[1])
    return path


FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


_FLIPS = st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=3)
"""1 to 3 (offset, xor mask) byte flips; offsets wrap around the file, so any byte can be hit."""
_CUT = st.floats(0.0, 1.0, exclude_max=True)
"""A truncation: the fraction of the file kept."""


@settings(FUZZ, max_examples=150)
@given(
    mutation=st.integers(0, 4).flatmap(
        lambda k: _CUT.map(lambda c: ("cut", c)) if k == 0 else _FLIPS.map(lambda f: ("flip", f))
    )
)
def test_byte_flips_anywhere_and_truncations(original, tmp_path_factory, mutation):
    """Four examples in five flip bytes at any offset (header, metadata, heaps, chunks, free space);
    the fifth truncates the file."""
    path = _mutated(original, tmp_path_factory)
    kind, how = mutation
    data = bytearray(original[1])
    if kind == "cut":
        data = data[: int(how * len(data))]
    else:
        for offset, mask in how:
            data[offset % len(data)] ^= mask
    path.write_bytes(bytes(data))
    _check(original, path)


_ROOT_ATTRS = [
    "format",
    "format_version",
    "frame_count",
    "compression",
    "checksum",
    "depth_unit_m",
    "config",
    "seed",
    "room_index",
    "renderer",
    "noise",
    "scene_json",
    "header_sha256",
    "added",
]
_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 2, 3, 10**9, -1, 2**40]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(
        [
            "synthcam-shard",
            "zstd",
            "gzip",
            "crc32",
            '["depth"]',
            "{}",
            "[" * 5000 + "]" * 5000,
            json.dumps({"objects": [{"instance_id": 9, "class40": 3}]}),
            "x" * 100_000,
        ]
    ),
    st.lists(st.integers(-1000, 1000), min_size=0, max_size=64).map(lambda v: np.asarray(v, dtype=np.int64)),
    st.just("DELETE"),
)


@settings(FUZZ, max_examples=100)
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from([("/", a) for a in _ROOT_ATTRS] + [("checksum", "columns"), ("depth", "added")]), _VALUES
        ),
        min_size=1,
        max_size=2,
    )
)
def test_attribute_edits(original, tmp_path_factory, edits):
    path = _mutated(original, tmp_path_factory)
    with h5py.File(path, "r+") as f:
        for (where, name), value in edits:
            attrs = f[where].attrs
            if isinstance(value, str) and value == "DELETE":
                if name in attrs:
                    del attrs[name]
                continue
            try:
                attrs[name] = value
            except (TypeError, ValueError):  # a value h5py cannot store (e.g. a lone surrogate)
                assume(False)
    _check(original, path)
