"""Checkpoints: a full round trip, safe loading, and crashes that must never leave half a checkpoint."""

import json
import os
import pickle
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_model
from torch import nn

from sketchlab.errors import CheckpointError
from sketchlab.training import checkpoint
from sketchlab.training.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint


@dataclass
class TinyConfig:
    width: int = 3


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.config = TinyConfig()
        self.linear = nn.Linear(self.config.width, 1)

    def save_pretrained(self, directory) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        save_model(self, str(Path(directory) / "model.safetensors"))
        (Path(directory) / "config.json").write_text(json.dumps(asdict(self.config)))


class Trained:
    """A model with an Adam optimiser, a scheduler and a scaler, all with state after a few steps."""

    def __init__(self, seed: int = 0, steps: int = 3) -> None:
        torch.manual_seed(seed)
        self.model = Tiny()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.1)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.5)
        self.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
        for _ in range(steps):
            self.optimizer.zero_grad()
            self.scaler.scale(self.model.linear(torch.randn(4, 3)).pow(2).mean()).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()

    def save(self, directory, step: int) -> None:
        data = {"generator": torch.Generator().manual_seed(step).get_state(), "cursor": step}
        save_checkpoint(directory, self.model, [self.optimizer], [self.scheduler], [self.scaler], step, [data],
                        extra={"best_loss": 0.5})

    def load(self, directory) -> dict:
        return load_checkpoint(directory, self.model, [self.optimizer], [self.scheduler], [self.scaler])


def test_round_trip_restores_model_optimiser_scheduler_scaler_data_and_rngs(tmp_path):
    saved = Trained(steps=3)
    saved.save(tmp_path / "last", step=3)
    draws = (torch.rand(3), np.random.rand(3), random.random())

    restored = Trained(seed=1, steps=1)
    state = restored.load(tmp_path / "last")

    assert state["step"] == 3 and state["extra"] == {"best_loss": 0.5}
    assert state["data_state"][0]["cursor"] == 3
    assert torch.equal(state["data_state"][0]["generator"], torch.Generator().manual_seed(3).get_state())
    assert torch.equal(restored.model.linear.weight, saved.model.linear.weight)
    assert restored.scheduler.state_dict() == saved.scheduler.state_dict()
    assert restored.scaler.state_dict() == saved.scaler.state_dict()
    for name, value in saved.optimizer.state_dict()["state"][0].items():
        assert torch.equal(restored.optimizer.state_dict()["state"][0][name], value)
    # The RNGs continue where they were when the checkpoint was written.
    assert torch.equal(torch.rand(3), draws[0])
    assert np.array_equal(np.random.rand(3), draws[1])
    assert random.random() == draws[2]
    assert json.loads((tmp_path / "last" / "config.json").read_text()) == {"width": 3}


def test_trainer_state_loads_with_weights_only(tmp_path):
    Trained().save(tmp_path / "last", step=3)
    state = torch.load(tmp_path / "last" / "trainer_state.pt", weights_only=True)
    assert {"step", "optimizers", "schedulers", "scalers", "data_state", "rng", "extra"} <= state.keys()
    assert {"torch", "cuda", "numpy", "python"} <= state["rng"][0].keys()


def crash_in_torch_save(monkeypatch):
    def explode(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", explode)


def crash_in_save_pretrained(monkeypatch):
    def explode(self, directory):
        (Path(directory) / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Tiny, "save_pretrained", explode)


@pytest.mark.parametrize("crash", [crash_in_torch_save, crash_in_save_pretrained])
def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch, crash):
    first = Trained(steps=2)
    first.save(tmp_path / "last", step=2)
    weight = first.model.linear.weight.detach().clone()

    later = Trained(seed=5, steps=4)
    crash(monkeypatch)
    with pytest.raises((OSError, KeyboardInterrupt)):
        later.save(tmp_path / "last", step=4)
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no temporary folder left behind
    assert Trained(seed=9).load(tmp_path / "last")["step"] == 2
    restored = Trained(seed=9)
    restored.load(tmp_path / "last")
    assert torch.equal(restored.model.linear.weight, weight)


def test_a_crash_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    Trained().save(tmp_path / "last", step=2)
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old checkpoint is aside, the new one not yet in place
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        Trained(seed=5).save(tmp_path / "last", step=4)
    monkeypatch.undo()

    assert not (tmp_path / "last").exists()
    assert find_checkpoint(tmp_path / "last") == tmp_path / "last"
    assert Trained(seed=9).load(tmp_path / "last")["step"] == 2
    Trained(seed=5).save(tmp_path / "last", step=4)  # the next save goes through and tidies up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    assert Trained(seed=9).load(tmp_path / "last")["step"] == 4


def test_find_checkpoint_is_none_without_one(tmp_path):
    assert find_checkpoint(tmp_path / "last") is None


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda folder: (folder / "trainer_state.pt").unlink(), "no checkpoint"),
        (lambda folder: (folder / "trainer_state.pt").write_bytes(b"\x00garbage"), "cannot load checkpoint"),
        (lambda folder: (folder / "trainer_state.pt").write_bytes(pickle.dumps(Payload(), protocol=2)), "cannot load checkpoint"),
        (lambda folder: torch.save({"step": 1}, folder / "trainer_state.pt"), "cannot load checkpoint"),
        (lambda folder: (folder / "model.safetensors").write_bytes(b"{}"), "cannot load checkpoint"),
    ],
    ids=["missing", "garbage", "pickled-code", "incomplete", "bad-weights"],
)
def test_a_missing_or_corrupt_checkpoint_is_a_one_line_error(tmp_path, damage, reason):
    Trained().save(tmp_path / "last", step=3)
    damage(tmp_path / "last")
    with pytest.raises(CheckpointError, match=reason) as caught:
        Trained().load(tmp_path / "last")
    assert "\n" not in str(caught.value)


def test_a_checkpoint_that_does_not_fit_is_a_one_line_error(tmp_path):
    Trained().save(tmp_path / "last", step=3)
    model = Tiny()
    with pytest.raises(CheckpointError, match="1 optimiser") as caught:
        load_checkpoint(tmp_path / "last", model)  # no optimiser to restore into
    assert "\n" not in str(caught.value)
    with pytest.raises(CheckpointError, match="1 process"):
        trained = Trained()
        load_checkpoint(tmp_path / "last", trained.model, [trained.optimizer], [trained.scheduler], [trained.scaler],
                        rank=1, world_size=2)
