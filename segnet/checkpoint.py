"""Run files of training: checkpoints read without running code from them, and atomic writes.

A checkpoint is a torch zip archive (``torch.save``) of a dict that holds only tensors and plain
values (dicts, lists, tuples, strings, numbers, booleans, None); :func:`segnet.train.train` writes
it and :func:`segnet.train.load_checkpoint` checks its fields. This module is the layer below:

- :func:`read_state` opens a file with torch's weights-only unpickler and nothing else, so a file
  that asks for any other Python object (and with it, code to run) is refused before anything of it
  runs. Before torch sees the file, its zip directory is checked: every member stored uncompressed
  and all members together no larger than the file, so reading never allocates more than about the
  file's size. Every tensor read must lie inside its own storage (no view that claims more elements
  than the file holds).
- :func:`write_atomic` writes a run file under a fresh temporary name of its own, created
  exclusively (never an existing file, never through a symbolic link), and renames it over the
  target when complete: a crash leaves the previous file or the new one, never a half file, and no
  file the tool did not create is ever written into.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import secrets
import warnings
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable

import torch

from synthcam.errors import SynthcamError

TEMP_SUFFIX = ".synthcam-partial"
"""Suffix of a run file being written (``.last.pt.<pid>-<random>.synthcam-partial``); a name of
this form is created exclusively by :func:`write_atomic` and renamed or removed by it."""

HINT = "pass a .pt file written by 'synthcam train'"
"""What to do about a file that is not a checkpoint; the end of every such message."""


def not_a_checkpoint(path: str | Path, reason: str) -> SynthcamError:
    """The one-line error for a file that is not a checkpoint this version can use."""
    return SynthcamError(f"{path} is not a synthcam checkpoint ({reason}); {HINT}")


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of an exception's message, at most ``limit`` characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_archive(path: Path) -> None:
    """Refuse a file that is not an uncompressed zip archive whose members fit in the file."""
    size = path.stat().st_size
    if size == 0:
        raise not_a_checkpoint(path, "the file is empty")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except PermissionError:
        raise SynthcamError(f"cannot read checkpoint {path}: permission denied; {HINT} that you may read") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise not_a_checkpoint(path, "it is not a torch zip archive") from None
    if any(m.compress_type != zipfile.ZIP_STORED for m in members):
        raise not_a_checkpoint(path, "it holds compressed members, which torch never writes")
    if sum(m.file_size for m in members) > size:
        raise not_a_checkpoint(path, "its members claim more bytes than the file holds")
    if not any(m.filename.endswith("/data.pkl") or m.filename == "data.pkl" for m in members):
        raise not_a_checkpoint(path, "it is a zip archive without torch data")


def _refusal(exc: Exception) -> str:
    """Why torch's weights-only reader refused a file, in a few words."""
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        named = f": it names {found.group(1)}" if found else ""
        return f"loading it would need Python objects beyond tensors and plain values{named}; such files are refused"
    return f"torch cannot read it: {first_line(exc)}"


def read_state(path: str | Path) -> object:
    """The object stored in ``path`` by ``torch.save``, read with the weights-only unpickler on CPU.

    A missing path, a directory, a file that is not a torch zip archive, one whose reading would
    need anything beyond tensors and plain values, or a tensor that claims more than its storage
    raises a one-line :class:`SynthcamError`. Nothing from the file is ever executed.
    """
    path = Path(path)
    if not path.exists():
        raise SynthcamError(f"checkpoint {path} does not exist; {HINT}")
    if not path.is_file():
        raise not_a_checkpoint(path, "it is a directory" if path.is_dir() else "it is not a regular file")
    _check_archive(path)
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle headers: the refusal below says it in one line
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch makes of a foreign file is a user error here
        raise not_a_checkpoint(path, _refusal(exc)) from None
    check_tensors(state, path, path.stat().st_size)
    return state


def _tensor_fits(tensor: torch.Tensor) -> bool:
    """Whether a loaded tensor is a plain strided tensor whose elements lie inside its storage."""
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
        return False
    if tensor.numel() == 0:
        return True
    if any(s < 0 for s in tensor.stride()):
        return False
    last = tensor.storage_offset() + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride()))
    needed = tensor.numel() * tensor.element_size()
    storage = tensor.untyped_storage().nbytes()
    return (last + 1) * tensor.element_size() <= storage and needed <= storage


def check_tensors(state: object, path: str | Path, budget: int) -> None:
    """Refuse ``state`` when any tensor inside it (at any depth) is not plain or claims more
    elements than its storage holds (an expanded view, say), or when its tensors together claim more
    than ``budget`` bytes (the file's size: many views of one storage would multiply every later pass
    over them), so all later work stays bounded by the file's size. Walks iteratively (nesting depth
    does not matter) and visits a shared value once."""
    stack, seen, claimed = [state], set(), 0
    while stack:
        item = stack.pop()
        if isinstance(item, (torch.Tensor, dict, list, tuple)):
            if id(item) in seen:  # shared nesting could otherwise take exponential time
                continue
            seen.add(id(item))
        if isinstance(item, torch.Tensor):
            if not _tensor_fits(item):
                raise not_a_checkpoint(path, "it holds a tensor that is not a plain array of its own stored values")
            claimed += item.numel() * item.element_size()
            if claimed > budget:
                raise not_a_checkpoint(path, "its tensors claim more bytes than the file holds")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)`` under a fresh temporary name, then rename it over ``path``.

    The temporary file is created exclusively (``O_EXCL | O_NOFOLLOW``) next to ``path``, flushed to
    disk before the rename, and removed if writing fails; an existing ``path`` is replaced only by
    the rename (a symbolic link at ``path`` is replaced, never written through). A failure to write
    raises a one-line :class:`SynthcamError`.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = None, -1
    for _ in range(8):
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise SynthcamError(f"cannot write {path}: {exc.strerror}; choose a writable --out") from None
    if fd < 0:
        raise SynthcamError(f"cannot create a temporary file next to {path}; remove stale {TEMP_SUFFIX} files there")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write (disk full) as RuntimeError
        tmp.unlink(missing_ok=True)
        what = "it is a directory" if path.is_dir() else getattr(exc, "strerror", None) or first_line(exc)
        raise SynthcamError(f"cannot write {path}: {what}; free disk space or choose another --out") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_state(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: torch.save(state, file))


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda file: file.write(text.encode("utf-8")))


# ------------------------------------------------------------------ optimizer and scheduler state

_PLAIN = (int, float, bool, str, type(None))


def _plain_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (booleans count as plain flags, not numbers)."""
    if isinstance(value, bool):
        return True
    return isinstance(value, (int, float)) and math.isfinite(value)


def _plain_value(value: object) -> bool:
    """A setting of an optimizer group or scheduler: a finite number, flag, string, None, or a short
    list/tuple of those."""
    if isinstance(value, (list, tuple)):
        return len(value) <= 64 and all(not isinstance(v, (list, tuple)) and _plain_value(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isfinite(value)
    return isinstance(value, _PLAIN)


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: object, path: str | Path) -> None:
    """Load a checkpoint's optimizer state into ``optimizer`` after checking that it fits.

    The saved groups must hold the same parameters, only settings this optimizer knows (finite
    numbers, flags, strings), and per-parameter state tensors of the parameter's shape (or scalars);
    anything else raises a one-line :class:`SynthcamError` naming ``path``.
    """
    own = optimizer.state_dict()
    if not isinstance(saved, dict) or set(saved) != {"state", "param_groups"}:
        raise not_a_checkpoint(path, "its optimizer state is not a dict of state and param_groups")
    groups, state = saved["param_groups"], saved["state"]
    if not isinstance(groups, list) or len(groups) != len(own["param_groups"]) or not isinstance(state, dict):
        raise not_a_checkpoint(path, "its optimizer state does not fit this model and optimizer")
    shapes = {}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for group, own_group in zip(groups, own["param_groups"]):
        if not isinstance(group, dict) or group.get("params") != own_group["params"]:
            raise not_a_checkpoint(path, "its optimizer state does not fit this model and optimizer")
        unknown = set(group) - set(own_group) - {"initial_lr"}
        if unknown:
            raise not_a_checkpoint(path, f"its optimizer has setting {sorted(map(str, unknown))[0]!r}, which --optimizer "
                                         "of its config does not know")
        for key, value in group.items():
            if key != "params" and not _plain_value(value):
                raise not_a_checkpoint(path, f"its optimizer setting {key!r} is not a finite plain value")
        for index in own_group["params"]:
            shapes[index] = params[len(shapes)].shape
    for index, entry in state.items():
        if index not in shapes or not isinstance(entry, dict):
            raise not_a_checkpoint(path, "its optimizer state names a parameter this model lacks")
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                fits = value.dim() == 0 or value.shape == shapes[index]
                if not fits or not (value.is_floating_point() or value.dim() == 0):
                    raise not_a_checkpoint(path, f"its optimizer state {key!r} of parameter {index} does not fit the model")
            elif not _plain_value(value):
                raise not_a_checkpoint(path, f"its optimizer state {key!r} is not a tensor or plain value")
    try:
        optimizer.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise not_a_checkpoint(path, f"its optimizer state does not load: {first_line(exc)}") from None


def load_scheduler_state(scheduler: object, saved: object, path: str | Path) -> None:
    """Load a checkpoint's learning-rate scheduler state after checking it holds only the settings
    (of the same kinds) that ``scheduler`` itself saves: a scheduler loads by assigning every
    saved entry as an attribute, so an unknown or mistyped entry would break later steps."""
    own = scheduler.state_dict()
    if not isinstance(saved, dict):
        raise not_a_checkpoint(path, "its scheduler state is not a dict")
    for key, value in saved.items():
        if key not in own:
            raise not_a_checkpoint(path, f"its scheduler state has unknown entry {str(key)[:40]!r}")
        mine = own[key]
        if isinstance(mine, (list, tuple)):
            ok = isinstance(value, (list, tuple)) and len(value) == len(mine) and all(
                v is None or _plain_number(v) for v in value)
        elif isinstance(mine, bool):
            ok = isinstance(value, bool)
        elif isinstance(mine, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= -1
        elif isinstance(mine, float):
            ok = _plain_number(value) and not isinstance(value, bool)
        else:
            ok = _plain_value(value) and not isinstance(value, (list, tuple))
        if not ok:
            raise not_a_checkpoint(path, f"its scheduler entry {key!r} is not of the kind this scheduler saves")
    try:
        scheduler.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise not_a_checkpoint(path, f"its scheduler state does not load: {first_line(exc)}") from None
