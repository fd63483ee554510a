"""A training run's generator states, kept apart from its caller's.

A run seeds and draws from torch's global generators (model initialisation, dropout) and may turn
on cuDNN's autotuner; :func:`run_scope` gives it those for its own duration only: the caller's
CPU and CUDA generator states and ``torch.backends.cudnn.benchmark`` are the same after the run
as before it, whether the run ends or raises. :func:`rng_state` and :func:`restore_rng_state`
save and restore the run's states in its checkpoints, so a resumed run draws what an
uninterrupted one would have.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

import torch

from segnet.checkpoint import not_a_checkpoint
from synthcam_core.atomic_file import first_line

P = ParamSpec("P")
R = TypeVar("R")


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


@contextmanager
def run_scope(seed: int, cudnn_benchmark: bool | None = None) -> Iterator[None]:
    """Within the block, the global torch generators start from ``seed`` and cuDNN's autotuner is
    ``cudnn_benchmark`` (None: left as the caller set it); on leaving, the caller's generator states
    (CPU and every CUDA device) and autotuner setting come back."""
    previous = torch.backends.cudnn.benchmark
    with torch.random.fork_rng(devices=_cuda_devices()):
        try:
            if cudnn_benchmark is not None:
                torch.backends.cudnn.benchmark = cudnn_benchmark
            torch.manual_seed(seed)
            yield
        finally:
            torch.backends.cudnn.benchmark = previous


def in_run_scope(seed: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: the function runs inside :func:`run_scope` ``(seed)``, so the caller's generators are
    untouched by whatever it draws."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
            with run_scope(seed):
                return function(*args, **kwargs)

        return scoped

    return decorate


def rng_state() -> dict:
    """The global generator states: ``{"torch": cpu state, "cuda": [state per device]}`` (``cuda``
    only where CUDA is available)."""
    state: dict[str, torch.Tensor | list[torch.Tensor]] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict, path: str | Path) -> None:
    """Restore the generator states of a checked checkpoint; a state torch refuses raises one line.

    A run saved on a machine with more GPUs than this one holds a state per GPU there: the states of
    the GPUs this machine has are restored (the run trains on one of them), the rest are left.
    """
    try:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise not_a_checkpoint(path, f"its rng state does not load: {first_line(exc)}") from None
