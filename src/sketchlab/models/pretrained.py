"""Model folders shared by every sketchlab model: `model.safetensors` + `config.json` (the config dataclass plus a
"model" name), written by `save_pretrained` and read back by `from_pretrained` without ever unpickling anything."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_model
from torch import Tensor

from sketchlab.devices import resolve_device
from sketchlab.errors import CheckpointError

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# The largest model a folder may describe (4 GiB of float32): the zoo's models have 0.2-25 million parameters.
MAX_PARAMETERS = 1 << 30


class Pretrained:
    """Mixin for an `nn.Module` built as `cls(config)`: set `model_name` and `config_class` on the subclass.

    The config dataclass must have a `validate()` that raises ValueError on absurd settings.
    """

    model_name: ClassVar[str]
    config_class: ClassVar[type]

    def save_pretrained(self, directory: str | Path) -> None:
        """Write model.safetensors and config.json (the config plus "model": `model_name`) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_model(self, str(directory / MODEL_FILE))
        config = {"model": self.model_name, **dataclasses.asdict(self.config)}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu") -> Any:
        """Load a model written by `save_pretrained` (safetensors only: loading never runs pickled code), in eval
        mode; a training run's folder stands for its `best/` model (its `last/` one before the first validation),
        and a name of the zoo (`sketchlab models list`) for the shipped model."""
        from sketchlab.zoo import resolve_model_path

        device = resolve_device(map_location)  # an unknown or absent device fails here, in one line
        directory = kept_model_folder(resolve_model_path(directory))
        if not directory.is_dir():
            raise CheckpointError(f"no model folder at {directory}")
        config = read_config(directory / CONFIG_FILE, cls.model_name, cls.config_class)
        weights_path = directory / MODEL_FILE
        if not weights_path.is_file():
            raise CheckpointError(f"no {MODEL_FILE} in {directory}")
        # shapes first, from the config on the meta device and from the file's header: nothing is allocated yet
        check_weights(config_shapes(cls, config, directory / CONFIG_FILE), stored_shapes(weights_path), weights_path)
        model = cls(config)
        model.load_state_dict(read_finite_weights(weights_path))
        return model.eval().to(device)


def kept_model_folder(directory: Path) -> Path:
    """The model folder a path stands for: itself, or a training run's `best/`, else its `last/`."""
    if (directory / CONFIG_FILE).is_file():
        return directory
    for kept in ("best", "last"):
        if (directory / kept / MODEL_FILE).is_file():
            return directory / kept
    return directory


def read_config(path: Path, model_name: str, config_class: type) -> Any:
    """The validated config of a model folder; any problem is a one-line CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"no {path.name} in {path.parent}")
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error})") from error
    if not isinstance(values, dict) or values.pop("model", None) != model_name:
        raise CheckpointError(f"{path} does not describe a {model_name} model")
    try:
        config = config_class(**values)
        config.validate()
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {error}") from error
    return config


def model_kind(directory: str | Path) -> str | None:
    """The "model" name in a model folder's config.json, or None when there is no readable one."""
    try:
        values = json.loads((Path(directory) / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return values.get("model") if isinstance(values, dict) else None


def saved_model_kind(path: str | Path) -> tuple[Path, str | None]:
    """The model folder of `path` (a folder or a zoo name) and the "model" name in the config.json of the model it
    stands for (`kept_model_folder`); CheckpointError when there is nothing at `path`."""
    from sketchlab.zoo import resolve_model_path

    folder = resolve_model_path(path)
    return folder, model_kind(kept_model_folder(folder))


def load_saved(path: str | Path, classes: dict[str, Any], wanted: str, map_location: str | torch.device = "cpu"):
    """The model at `path` when its config.json names one of `classes` (model name -> class), in eval mode; else a
    one-line CheckpointError saying what the folder holds and that `wanted` was asked for."""
    folder, kind = saved_model_kind(path)
    if kind not in classes:
        what = f"a {kind} model" if kind else "no readable config.json"
        raise CheckpointError(f"{path} holds {what}, not {wanted}")
    return classes[kind].from_pretrained(folder, map_location=map_location)


def config_shapes(cls: type, config: Any, path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes of `cls(config)`, built on the meta device (no memory), at most MAX_PARAMETERS in all."""
    try:
        with torch.device("meta"):
            state = cls(config).state_dict()
    except RuntimeError as error:  # sizes whose storage would overflow
        raise CheckpointError(f"{path} describes an impossible model ({error})") from None
    total = sum(tensor.numel() for tensor in state.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(f"{path} describes a model of {total:,} parameters, more than the {MAX_PARAMETERS:,} "
                              "sketchlab loads")
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def stored_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file holds, read from its header alone."""
    try:
        with safe_open(str(path), framework="pt") as file:
            return {name: tuple(file.get_slice(name).get_shape()) for name in file.keys()}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None


def read_finite_weights(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file; a CheckpointError if one holds NaN or infinity (it would draw nothing)."""
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(f"{path} holds {bad} NaN or infinite values in {name}: the model is broken")
    return weights


def check_weights(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], path: Path) -> None:
    """Raise a one-line CheckpointError unless `found` has exactly the tensor names and shapes of `expected`."""
    problem = None
    if missing := sorted(expected.keys() - found.keys()):
        problem = f"{len(missing)} tensors missing (first: {missing[0]})"
    elif unexpected := sorted(found.keys() - expected.keys()):
        problem = f"{len(unexpected)} unexpected tensors (first: {unexpected[0]})"
    else:
        for name, shape in expected.items():
            if found[name] != shape:
                problem = f"{name} is {found[name]} in the file, {shape} for the config"
                break
    if problem:
        raise CheckpointError(f"{path} does not match its {CONFIG_FILE}: {problem}")
