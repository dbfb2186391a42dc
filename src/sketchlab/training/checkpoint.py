"""Training checkpoints: all it takes to continue a run exactly, written so that a crash never leaves half of one.

A checkpoint is a folder:
- `model.safetensors` + `config.json`, written by the model's own `save_pretrained` (so `last/` is a usable model);
- `trainer_state.pt`: the step, optimisers, schedulers, gradient scalers, the training data's state, each
  process's random number generator states and `extra` (the engine's best loss, each process's model training
  state such as a CycleGAN's image pools). It holds only tensors and plain Python values so that
  `torch.load(..., weights_only=True)` reads it: loading a checkpoint never runs pickled code.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model
from torch import nn

from sketchlab.errors import CheckpointError

MODEL_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"


def rng_state() -> dict[str, Any]:
    """This process's random number generator states as tensors and lists, so `weights_only` loading accepts them."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        # A CUDA generator that was never initialised still holds its seed, which seeding at start recreates.
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": [torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached_gaussian],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back random number generator states taken by `rng_state`."""
    torch.set_rng_state(state["torch"])
    for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
        torch.cuda.set_rng_state(cuda_state, device)
    keys, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached_gaussian))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _sibling(directory: Path, tag: str) -> Path:
    # Hidden and next to the target: the same file system, so renames are atomic.
    return directory.parent / f".{directory.name}.{tag}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_directory(directory: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces `directory` whole, on error it is removed.

    The files are flushed to disk before the swap. `os.replace` cannot move a folder onto a non-empty one, so the
    old folder is renamed aside first: at every instant a complete old or new folder exists (see `find_checkpoint`).
    """
    final = Path(directory)
    tmp, old = _sibling(final, "tmp"), _sibling(final, "old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for file in tmp.rglob("*"):
            _fsync(file)
        _fsync(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(directory: str | Path) -> Path | None:
    """`directory` if it exists, after finishing a swap that a crash cut between its two renames; else None."""
    final = Path(directory)
    old = _sibling(final, "old")
    if not final.exists() and old.exists():
        os.replace(old, final)
    return final if final.exists() else None


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer],
    schedulers: Sequence[torch.optim.lr_scheduler.LRScheduler | None],
    scalers: Sequence[torch.amp.GradScaler],
    step: int,
    data_state: Any,
    extra: dict[str, Any] | None = None,
    rng_states: list[dict[str, Any]] | None = None,
) -> None:
    """Write a checkpoint atomically: a crash leaves the previous one intact.

    `data_state` and `extra` must hold only tensors and plain Python values. `rng_states` has one entry per process
    (see `rng_state`); by default this process's alone.
    """
    state = {
        "step": step,
        "optimizers": [optimizer.state_dict() for optimizer in optimizers],
        "schedulers": [None if scheduler is None else scheduler.state_dict() for scheduler in schedulers],
        "scalers": [scaler.state_dict() for scaler in scalers],
        "data_state": data_state,
        "rng": rng_states if rng_states is not None else [rng_state()],
        "extra": extra or {},
    }
    with atomic_directory(directory) as tmp:
        model.save_pretrained(tmp)
        torch.save(state, tmp / STATE_FILE)


def load_checkpoint(
    directory: str | Path,
    model: nn.Module,
    optimizers: Sequence[torch.optim.Optimizer] = (),
    schedulers: Sequence[torch.optim.lr_scheduler.LRScheduler | None] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    rank: int = 0,
    world_size: int = 1,
) -> dict[str, Any]:
    """Restore a checkpoint into these objects and this process's RNGs (those process `rank` saved).

    Returns {"step", "data_state", "extra"}. Raises a one-line CheckpointError when the folder is missing, corrupt,
    or does not fit: other models or optimisers, or a run with another number of processes.
    """
    folder = Path(directory)
    if not (folder / MODEL_FILE).is_file() or not (folder / STATE_FILE).is_file():
        raise CheckpointError(f"no checkpoint at {folder}: expected {MODEL_FILE} and {STATE_FILE}")
    try:
        state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
        load_model(model, folder / MODEL_FILE)
        counts = (len(state["optimizers"]), len(state["schedulers"]), len(state["scalers"]), len(state["rng"]))
        if counts != (len(optimizers), len(schedulers), len(scalers), world_size):
            raise ValueError(
                f"it holds {counts[0]} optimiser(s) from {counts[3]} process(es), "
                f"this run has {len(optimizers)} from {world_size}"
            )
        for optimizer, optimizer_state in zip(optimizers, state["optimizers"]):
            optimizer.load_state_dict(optimizer_state)
        for scheduler, scheduler_state in zip(schedulers, state["schedulers"]):
            if scheduler is not None:
                scheduler.load_state_dict(scheduler_state)
        for scaler, scaler_state in zip(scalers, state["scalers"]):
            scaler.load_state_dict(scaler_state)
        set_rng_state(state["rng"][rank])
    except Exception as error:  # any failure to read or fit the files means an unusable checkpoint
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"cannot load checkpoint {folder}: {reason}") from error
    return {"step": state["step"], "data_state": state["data_state"], "extra": state["extra"]}
