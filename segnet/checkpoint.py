"""Checkpoints read without running code from them, every entry checked.

A checkpoint is a torch zip archive (``torch.save``) of a dict that holds only tensors and plain
values (dicts, lists, tuples, strings, numbers, booleans, None); :func:`segnet.train.train` writes
it (atomically, :mod:`segnet.runfiles`). Reading it here goes in three layers:

- :func:`read_state` opens a file with torch's weights-only unpickler and nothing else, so a file
  that asks for any other Python object (and with it, code to run) is refused before anything of it
  runs. Before torch sees the file, its zip directory is checked: every member stored uncompressed
  and all members together no larger than the file, so reading never allocates more than about the
  file's size. Every tensor read must lie inside its own storage (no view that claims more elements
  than the file holds).
- :func:`load_checkpoint` checks the entries of a run's checkpoint (:data:`CHECKPOINT_KEYS`,
  :data:`OPTIONAL_KEYS`): its config (:meth:`segnet.config.TrainConfig.from_dict`), model spec,
  finite weights, epoch, history, class weights, generator states and validation split.
  :func:`model_from_checkpoint` and :func:`init_from_checkpoint` put its weights into a model.
- :func:`load_optimizer_state` and :func:`load_scheduler_state` check a resumed run's optimizer and
  scheduler state against the ones the run builds before loading it.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from segnet.config import TrainConfig
from segnet.encodings import check_encoding
from segnet.limits import MAX_EPOCHS
from segnet.models import ModelSpec, build
from synthcam_core.atomic_file import first_line
from synthcam_core.errors import SynthcamError

HINT = "pass a .pt file written by 'synthcam train'"
"""What to do about a file that is not a checkpoint; the end of every such message."""


def not_a_checkpoint(path: str | Path, reason: str) -> SynthcamError:
    """The one-line error for a file that is not a checkpoint this version can use."""
    return SynthcamError(f"{path} is not a synthcam checkpoint ({reason}); {HINT}")


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


# ------------------------------------------------------------------ optimizer and scheduler state

_PLAIN = (int, float, bool, str, type(None))


def _as_float(value: object) -> float | None:
    """``value`` as a float when it is an int or float (not a bool) that a float can hold, else None.

    A checkpoint may hold an integer of hundreds of digits: every later use of it as a number
    (``math.isfinite``, a learning rate, a plot) would raise OverflowError instead of a message.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _finite(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool) that is a finite float."""
    number = _as_float(value)
    return number is not None and math.isfinite(number)


def _plain_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (booleans count as plain flags, not numbers)."""
    return isinstance(value, bool) or _finite(value)


def _plain_value(value: object) -> bool:
    """A setting of an optimizer group or scheduler: a finite number, flag, string, None, or a short
    list/tuple of those."""
    if isinstance(value, (list, tuple)):
        return len(value) <= 64 and all(not isinstance(v, (list, tuple)) and _plain_value(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _finite(value)
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
    shapes: dict[int, torch.Size] = {}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for group, own_group in zip(groups, own["param_groups"]):
        if not isinstance(group, dict) or group.get("params") != own_group["params"]:
            raise not_a_checkpoint(path, "its optimizer state does not fit this model and optimizer")
        unknown = set(group) - set(own_group) - {"initial_lr"}
        if unknown:
            raise not_a_checkpoint(
                path,
                f"its optimizer has setting {sorted(map(str, unknown))[0]!r}, which --optimizer "
                "of its config does not know",
            )
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
                    raise not_a_checkpoint(
                        path, f"its optimizer state {key!r} of parameter {index} does not fit the model"
                    )
            elif not _plain_value(value):
                raise not_a_checkpoint(path, f"its optimizer state {key!r} is not a tensor or plain value")
    _load_into(optimizer, saved, path, "optimizer")


def load_scheduler_state(scheduler: torch.optim.lr_scheduler.LRScheduler, saved: object, path: str | Path) -> None:
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
            ok = (
                isinstance(value, (list, tuple))
                and len(value) == len(mine)
                and all(v is None or _plain_number(v) for v in value)
            )
        elif isinstance(mine, bool):
            ok = isinstance(value, bool)
        elif isinstance(mine, int):
            ok = isinstance(value, int) and _finite(value) and value >= -1
        elif isinstance(mine, float):
            ok = _plain_number(value) and not isinstance(value, bool)
        else:
            ok = _plain_value(value) and not isinstance(value, (list, tuple))
        if not ok:
            raise not_a_checkpoint(path, f"its scheduler entry {key!r} is not of the kind this scheduler saves")
    _load_into(scheduler, saved, path, "scheduler")


def _load_into(
    target: torch.optim.Optimizer | torch.optim.lr_scheduler.LRScheduler, saved: dict, path: str | Path, what: str
) -> None:
    """``target.load_state_dict(saved)``; whatever torch refuses raises one line naming ``what``."""
    try:
        target.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise not_a_checkpoint(path, f"its {what} state does not load: {first_line(exc)}") from None


# ------------------------------------------------------------------ run checkpoints

CHECKPOINT_KEYS = (
    "model",
    "optimizer",
    "scheduler",
    "epoch",
    "config",
    "model_spec",
    "class_weights",
    "history",
    "best",
    "rng",
)
"""The entries of every checkpoint :func:`segnet.train.train` writes."""

OPTIONAL_KEYS = ("data_split",)
"""Entries of newer checkpoints that older ones lack: ``data_split``, the frames the run validated
on (:func:`check_data_split`). :func:`load_checkpoint` accepts these and :data:`CHECKPOINT_KEYS`,
nothing else."""

MAX_SPLIT_ENTRIES = 10_000_000
"""Most shard names or frame positions a ``data_split`` may list."""


def check_data_split(value: object, path: str | Path) -> dict:
    """``value`` as a checkpoint's ``data_split``: ``{"data": absolute path of the training data
    ("" for the synthetic rooms), "val_shards": [shard file names]}`` for shards, or ``{"data": ...,
    "val_frames": [positions in the training split]}``; anything else raises a one-line error."""
    if (
        not isinstance(value, dict)
        or "data" not in value
        or len(value) != 2
        or not (set(value) == {"data", "val_shards"} or set(value) == {"data", "val_frames"})
    ):
        raise not_a_checkpoint(path, "its data_split is not a dict of data and val_shards or val_frames")
    if not isinstance(value["data"], str) or len(value["data"]) > 4096:
        raise not_a_checkpoint(path, "its data_split's data is not a path")
    entries = value.get("val_shards", value.get("val_frames"))
    if not isinstance(entries, list) or len(entries) > MAX_SPLIT_ENTRIES:
        raise not_a_checkpoint(path, "its data_split's list is not a list of names or positions")
    if "val_shards" in value:
        ok = all(isinstance(n, str) and 0 < len(n) <= 255 and "/" not in n and n not in (".", "..") for n in entries)
    else:
        ok = all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**40 for i in entries)
    if not ok:
        raise not_a_checkpoint(path, "its data_split lists something that is not a shard file name or frame position")
    return value


def spec_of(config: TrainConfig) -> ModelSpec:
    """The model a run with ``config`` trains."""
    return ModelSpec(config.model, check_encoding(config.encoding), config.classes, config.model_width, config.dropout)


def _check_model_weights(weights: object, path: Path) -> None:
    """Refuse a model state that is not a dict of named tensors, or holds non-finite weights."""
    if not isinstance(weights, dict) or not weights:
        raise not_a_checkpoint(path, "its model entry is not a dict of named tensors")
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise not_a_checkpoint(path, "its model entry is not a dict of named tensors")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise not_a_checkpoint(path, f"its weight {key[:60]} holds NaN or infinite values (a diverged run)")


def _check_run_entries(state: dict, config: TrainConfig, path: Path) -> None:
    """Refuse epoch, best, class weights, history and RNG entries of the wrong kind or range."""
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= MAX_EPOCHS:
        raise not_a_checkpoint(path, f"its epoch must be an integer in 0..{MAX_EPOCHS}")
    best = _as_float(state["best"])
    if best is None or math.isnan(best):
        raise not_a_checkpoint(path, "its best metric is not a number")
    weights = state["class_weights"]
    if (
        not isinstance(weights, list)
        or len(weights) != config.classes
        or not all(_finite(w) and w > 0 for w in weights)
    ):
        raise not_a_checkpoint(path, f"its class_weights must be {config.classes} positive finite numbers")
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        raise not_a_checkpoint(path, "its history must list one record per completed epoch")
    for record in history:
        if (
            not isinstance(record, dict)
            or not {"epoch", "train_loss", "train_acc"} <= set(record)
            or not all(isinstance(k, str) and _as_float(v) is not None for k, v in record.items())
        ):
            raise not_a_checkpoint(path, "its history records must map names to numbers")
    rng = state["rng"]
    reference = torch.get_rng_state()
    if (
        not isinstance(rng, dict)
        or not set(rng) <= {"torch", "cuda"}
        or not _is_rng(rng.get("torch"), reference.numel())
    ):
        raise not_a_checkpoint(path, "its rng entry is not a torch generator state")
    cuda = rng.get("cuda", [])
    if not isinstance(cuda, list) or not all(_is_rng(s, None) for s in cuda):
        raise not_a_checkpoint(path, "its rng entry is not a torch generator state")
    for key in ("optimizer", "scheduler"):
        if not isinstance(state[key], dict):
            raise not_a_checkpoint(path, f"its {key} entry is not a dict")


def _is_rng(value: object, size: int | None) -> bool:
    """Whether ``value`` is a 1-D uint8 generator state (of ``size`` bytes when given)."""
    return (
        isinstance(value, torch.Tensor)
        and value.dtype == torch.uint8
        and value.dim() == 1
        and (size is None or value.numel() == size)
    )


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint dict written by :func:`segnet.train.train`, every entry checked; ``config`` is
    returned as the checked settings (a plain dict, see :meth:`TrainConfig.from_dict`).

    Read with torch's weights-only reader (:func:`read_state`): nothing in the
    file can run code. A missing file, a file that is not a checkpoint, a missing or unknown entry,
    a config of wrong types, unknown settings or values out of range, a model_spec that is not the
    config's model, or NaN/infinite weights raise a one-line :class:`SynthcamError`.
    """
    path = Path(path)
    state = read_state(path)
    if not isinstance(state, dict):
        raise not_a_checkpoint(path, f"it holds a {type(state).__name__}, not a dict of run state")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        raise not_a_checkpoint(path, f"it lacks the entry {missing[0]!r}")
    unknown = [str(key) for key in state if key not in CHECKPOINT_KEYS + OPTIONAL_KEYS]
    if unknown:
        raise not_a_checkpoint(path, f"it has an unknown entry {unknown[0][:40]!r}")
    try:
        config = TrainConfig.from_dict(state["config"])
    except SynthcamError as exc:
        raise not_a_checkpoint(path, f"its config: {exc}") from None
    if not isinstance(state["model_spec"], dict) or state["model_spec"] != spec_of(config).as_dict():
        raise not_a_checkpoint(path, "its model_spec is not the model its config describes")
    _check_model_weights(state["model"], path)
    _check_run_entries(state, config, path)
    if "data_split" in state:
        check_data_split(state["data_split"], path)
    state["config"] = asdict(config)
    state["model_spec"] = spec_of(config).as_dict()
    return state


def load_weights(model: torch.nn.Module, weights: dict, path: str | Path) -> None:
    """``model.load_state_dict(weights)`` (strict); a mismatch raises a one-line SynthcamError."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise not_a_checkpoint(path, f"its weights do not fit its model: {first_line(exc)}") from None


def model_from_checkpoint(state: dict, path: str | Path = "checkpoint") -> torch.nn.Module:
    """The model of a checkpoint (from :func:`load_checkpoint`) with its weights loaded (CPU, eval mode)."""
    model = build(ModelSpec(**state["model_spec"]))
    load_weights(model, state["model"], path)
    return model.eval()


def init_from_checkpoint(model: torch.nn.Module, path: str | Path, state: dict | None = None) -> list[str]:
    """Load a checkpoint's weights for fine-tuning; returns the names of re-initialised tensors.

    The architecture must match, except the final classifier: when the class count differs (e.g.
    40 -> 13 classes), the classifier keeps its fresh initialisation. Any other mismatch raises.
    ``state``: the checkpoint at ``path`` when already read with :func:`load_checkpoint`.
    """
    source = (state if state is not None else load_checkpoint(path))["model"]
    own = model.state_dict()
    skipped = []
    for key, value in source.items():
        if key not in own:
            raise SynthcamError(
                f"--init {path}: its model has tensor {key[:60]} that this model lacks; "
                "use the same --model and --width"
            )
        if own[key].shape != value.shape:
            if key.startswith("classifier."):
                skipped.append(key)
                continue
            raise SynthcamError(
                f"--init {path}: {key} has shape {tuple(value.shape)} there but {tuple(own[key].shape)} here; "
                "use the same --model, --width and --encoding"
            )
        if own[key].dtype != value.dtype:
            raise SynthcamError(
                f"--init {path}: {key} is {value.dtype} there but {own[key].dtype} here; "
                "pass a checkpoint written by 'synthcam train'"
            )
        own[key] = value
    missing = set(own) - set(source)
    if missing:
        raise SynthcamError(f"--init {path}: the checkpoint lacks {sorted(missing)[0]}; use the same --model")
    model.load_state_dict(own)
    return skipped
