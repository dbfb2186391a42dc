"""The training engine on toy models that follow the model contract: no strokes, no pixels, a few seconds."""

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_model
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.nn import functional as F

from sketchlab.errors import ConfigError
from sketchlab.training import Trainer, TrainConfig, TrainingError, engine

DIM = 4
TRUE_W = torch.tensor([1.0, -2.0, 0.5, 3.0])


class Crash(Exception):
    """Stands for a killed process."""


@dataclass
class ToyConfig:
    dropout: float = 0.1
    lr: float = 0.1


class Toy(nn.Module):
    """Linear regression with dropout (so the RNG matters), Adam and a step-decay schedule."""

    def __init__(self, config: ToyConfig | None = None, nan_at: int | None = None) -> None:
        super().__init__()
        self.config = config or ToyConfig()
        self.linear = nn.Linear(DIM, 1)
        self.dropout = nn.Dropout(self.config.dropout)
        self.grad_clip = 5.0
        self.nan_at = nan_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x)).squeeze(-1)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr)
        return [(optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9))]

    def training_step(self, batch, step, optimizer_idx=0):
        error = self(batch["x"]) - batch["y"]
        loss = error.pow(2).mean()  # a mean, so that DDP's averaged gradients equal the full batch's
        if step + 1 == self.nan_at:
            loss = loss * float("nan")
        return {"loss": loss, "mae": error.abs().mean().detach()}

    def evaluate(self, batch):
        return {"loss": F.mse_loss(self(batch["x"]), batch["y"]).item()}

    def log_images(self, step):
        # Uses the RNG on purpose: an exact resume must account for everything that draws random numbers.
        return {"noise": (torch.rand(8, 8, 3) * 255).to(torch.uint8).numpy()}

    def example_input(self):
        return torch.zeros(2, DIM)

    def save_pretrained(self, directory) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        save_model(self, str(Path(directory) / "model.safetensors"))
        (Path(directory) / "config.json").write_text(json.dumps(asdict(self.config)))


class ToyData:
    """An endless source of regression batches with its own generator; `crash_at` kills it at that call."""

    def __init__(self, batch_size: int = 8, seed: int = 1, crash_at: int | None = None) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.batch_size, self.crash_at = batch_size, crash_at
        self.calls = 0
        self.shards: list[tuple[int, int]] = []
        self.rank, self.world_size = 0, 1

    def next_batch(self):
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash
        x = torch.randn(self.batch_size, DIM, generator=self.generator)
        y = x @ TRUE_W + 0.1 * torch.randn(self.batch_size, generator=self.generator)
        # Every process draws the same global batch and keeps its own rows.
        return {"x": x[self.rank :: self.world_size], "y": y[self.rank :: self.world_size]}

    def shard(self, rank: int, world_size: int) -> None:
        self.shards.append((rank, world_size))
        self.rank, self.world_size = rank, world_size

    def state_dict(self):
        return {"generator": self.generator.get_state(), "calls": self.calls}

    def load_state_dict(self, state) -> None:
        self.generator.set_state(state["generator"])
        self.calls = state["calls"]


def valid_data(sizes=(5, 3)):
    generator = torch.Generator().manual_seed(99)
    batches = []
    for n in sizes:
        x = torch.randn(n, DIM, generator=generator)
        batches.append({"x": x, "y": x @ TRUE_W})
    return lambda: iter(batches)


def make_config(out_dir, **overrides) -> TrainConfig:
    settings = dict(steps=20, device="cpu", log_every=1, eval_every=5, image_every=3, save_every=7, progress=False)
    return TrainConfig(out_dir=str(out_dir), **{**settings, **overrides})


def make_toy(seed: int = 0, **kwargs) -> Toy:
    torch.manual_seed(seed)
    return Toy(**kwargs)


def read_metrics(out_dir) -> list[dict]:
    return [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]


def without_validation(records: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if not key.startswith("valid/")} for record in records]


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "model.safetensors"))


def test_loss_falls_and_every_log_is_written(tmp_path):
    run = tmp_path / "run"
    history = Trainer(make_toy(), ToyData(), valid_data(), make_config(run, steps=60, log_every=5, eval_every=10)).fit()

    losses = [record["train/loss"] for record in history]
    assert np.mean(losses[-3:]) < 0.3 * np.mean(losses[:3])
    assert [record["step"] for record in history] == list(range(5, 61, 5))
    assert read_metrics(run) == history
    assert {"train/loss", "train/mae", "train/grad_norm", "train/lr"} <= history[0].keys()
    assert "valid/loss" in history[1] and "valid/loss" not in history[0]  # eval_every=10, log_every=5
    assert history[-1]["train/lr"] == pytest.approx(0.1 * 0.9**6)

    events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "train/mae", "train/lr", "valid/loss"} <= set(tags["scalars"])
    assert [event.step for event in events.Scalars("train/loss")] == list(range(5, 61, 5))
    assert tags["images"] == ["images/noise"] and tags["graph"]

    assert (run / "last" / "model.safetensors").is_file() and (run / "last" / "trainer_state.pt").is_file()
    assert json.loads((run / "best" / "best.json").read_text())["step"] == 60


def test_validation_is_weighted_by_batch_size(tmp_path):
    model = make_toy()
    history = Trainer(model, ToyData(), valid_data((5, 1)), make_config(tmp_path / "run", steps=10)).fit()

    model.eval()
    with torch.no_grad():
        per_batch = [F.mse_loss(model(b["x"]), b["y"]).item() for b in valid_data((5, 1))()]
    assert history[-1]["valid/loss"] == pytest.approx((5 * per_batch[0] + 1 * per_batch[1]) / 6)
    assert history[-1]["valid/loss"] != pytest.approx(np.mean(per_batch))


def test_resume_after_a_crash_continues_bit_identically(tmp_path):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    Trainer(make_toy(), ToyData(), valid_data(), make_config(straight)).fit()

    # Dies while fetching the 17th batch: the checkpoint holds 14 steps, metrics.jsonl already 16.
    with pytest.raises(Crash):
        Trainer(make_toy(), ToyData(crash_at=17), valid_data(), make_config(crashed)).fit()
    assert len(read_metrics(crashed)) == 16
    # A fresh process: other initial weights, a data source at its start, RNGs elsewhere.
    history = Trainer(make_toy(seed=123), ToyData(), valid_data(), make_config(crashed, resume=True)).fit()

    assert [record["step"] for record in history] == list(range(15, 21))
    assert read_metrics(crashed) == read_metrics(straight)  # float equality: bitwise
    for name, tensor in weights(straight / "last").items():
        assert torch.equal(tensor, weights(crashed / "last")[name])
    assert (straight / "best" / "best.json").read_text() == (crashed / "best" / "best.json").read_text()


def test_resume_skips_and_counts_damaged_metrics_lines(tmp_path):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    Trainer(make_toy(), ToyData(), valid_data(), make_config(straight)).fit()
    with pytest.raises(Crash):
        Trainer(make_toy(), ToyData(crash_at=17), valid_data(), make_config(crashed)).fit()
    metrics = crashed / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    # a blank line, and the partial last line a kill mid-write leaves: both raised JSONDecodeError on --resume
    metrics.write_text("".join(lines[:3]) + "\n" + "".join(lines[3:]) + lines[0][:9])
    with pytest.warns(UserWarning, match="dropped 2 damaged line"):
        Trainer(make_toy(seed=123), ToyData(), valid_data(), make_config(crashed, resume=True)).fit()
    assert read_metrics(crashed) == read_metrics(straight)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    history = Trainer(make_toy(), ToyData(), None, make_config(tmp_path / "run", steps=3, resume=True)).fit()
    assert [record["step"] for record in history] == [1, 2, 3]
    # Without validation best/ is the final model, so that best/ always exists after training.
    assert json.loads((tmp_path / "run" / "best" / "best.json").read_text()) == {"step": 3, "metrics": {}}


class ScriptedValidation(Toy):
    """Validation losses given in advance; remembers the weights each validation saw."""

    def __init__(self, losses) -> None:
        super().__init__()
        self.losses = iter(losses)
        self.seen: list[dict[str, torch.Tensor]] = []

    def evaluate(self, batch):
        self.seen.append({name: value.clone() for name, value in self.state_dict().items()})
        return {"loss": next(self.losses), "other": 7.0}


def test_best_is_the_model_with_the_lowest_validation_loss(tmp_path):
    torch.manual_seed(0)
    model = ScriptedValidation([3.0, 1.0, 2.0, 4.0])  # validations at steps 5, 10, 15, 20
    run = tmp_path / "run"
    history = Trainer(model, ToyData(), valid_data((4,)), make_config(run)).fit()

    assert [r["valid/loss"] for r in history if "valid/loss" in r] == [3.0, 1.0, 2.0, 4.0]
    assert json.loads((run / "best" / "best.json").read_text()) == {"step": 10, "metrics": {"loss": 1.0, "other": 7.0}}
    best = weights(run / "best")
    for name, value in model.seen[1].items():
        assert torch.equal(best[name], value)
    assert not torch.equal(best["linear.weight"], model.linear.weight.detach())


def test_non_finite_loss_stops_with_a_training_error_and_no_corrupt_checkpoint(tmp_path):
    run = tmp_path / "run"
    model = make_toy(nan_at=5)
    with pytest.raises(TrainingError, match="not finite at step 5") as caught:
        Trainer(model, ToyData(), valid_data(), make_config(run, save_every=2)).fit()
    assert "\n" not in str(caught.value)
    assert torch.isfinite(model.linear.weight).all()
    assert torch.load(run / "last" / "trainer_state.pt", weights_only=True)["step"] == 4
    assert all(torch.isfinite(tensor).all() for tensor in weights(run / "last").values())
    assert [record["step"] for record in read_metrics(run)] == [1, 2, 3, 4]


class TwoPlayers(nn.Module):
    """GAN-like: player a's loss also runs through player b, as a generator's runs through its critic."""

    def __init__(self) -> None:
        super().__init__()
        self.config = ToyConfig(dropout=0.0)
        self.a, self.b = nn.Linear(DIM, 1), nn.Linear(DIM, 1)

    def configure_optimizers(self):
        return [
            (torch.optim.SGD(self.a.parameters(), lr=0.05), None),
            (torch.optim.SGD(self.b.parameters(), lr=0.05), None),
        ]

    def training_step(self, batch, step, optimizer_idx=0):
        x, y = batch["x"], batch["y"]
        if optimizer_idx == 0:
            return {"loss": F.mse_loss((self.a(x) + self.b(x)).squeeze(-1), y), "only_a": torch.tensor(1.0)}
        return {"loss": F.mse_loss(self.b(x).squeeze(-1), -y)}

    def evaluate(self, batch):
        return {"loss": 0.0}

    def save_pretrained(self, directory) -> None:
        Toy.save_pretrained(self, directory)


def test_two_optimizers_each_step_their_own_player(tmp_path):
    torch.manual_seed(0)
    model = TwoPlayers()
    b_start = {name: value.clone() for name, value in model.b.state_dict().items()}
    history = Trainer(model, ToyData(), None, make_config(tmp_path / "run", steps=15)).fit()

    assert {"train/loss_0", "train/loss_1", "train/only_a", "train/lr_0", "train/lr_1"} <= history[0].keys()
    assert history[-1]["train/loss_0"] < history[0]["train/loss_0"]
    # Player b must move on its own loss alone: the gradients a's loss left in b are not used.
    reference = nn.Linear(DIM, 1)
    reference.load_state_dict(b_start)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.05)
    data = ToyData()
    for _ in range(15):
        batch = data.next_batch()
        optimizer.zero_grad()
        F.mse_loss(reference(batch["x"]).squeeze(-1), -batch["y"]).backward()
        optimizer.step()
    torch.testing.assert_close(model.b.weight, reference.weight, rtol=0, atol=1e-6)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # fp16 skips overflowing steps
def test_mixed_precision_trains_on_cpu(tmp_path, amp):
    history = Trainer(make_toy(), ToyData(), valid_data(), make_config(tmp_path / "run", amp=amp, steps=30)).fit()
    losses = [record["train/loss"] for record in history]
    assert all(np.isfinite(losses)) and np.mean(losses[-3:]) < np.mean(losses[:3])


@pytest.mark.parametrize("native, says, device, expected", [
    (True, True, "cpu", torch.bfloat16), (False, True, "cpu", None), (True, False, "cpu", None),
    (True, True, "cuda", None)])
def test_amp_auto_takes_bf16_only_for_a_model_that_says_so_on_a_cpu_with_native_bf16(monkeypatch, native, says,
                                                                                     device, expected):
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: native)
    model = make_toy()
    if says:
        model.bf16_by_default = True
    assert engine.autocast_dtype("auto", model, torch.device(device)) is expected
    assert engine.autocast_dtype("none", model, torch.device(device)) is None
    assert engine.autocast_dtype("bf16", make_toy(), torch.device(device)) is torch.bfloat16


def test_amp_auto_runs_the_forward_pass_under_the_chosen_autocast(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: True)
    seen = []
    model = make_toy()
    model.bf16_by_default = True
    model.register_forward_pre_hook(lambda module, args: seen.append(torch.get_autocast_dtype("cpu")
                                                                      if torch.is_autocast_enabled("cpu") else None))
    config = make_config(tmp_path / "run", steps=2, eval_every=0, image_every=0, tensorboard=False)
    Trainer(model, ToyData(), None, config).fit()  # amp's default: auto
    assert seen == [torch.bfloat16] * 2  # the training steps' forward passes


def test_bad_settings_are_one_line_errors(tmp_path):
    with pytest.raises(TrainingError, match="unknown amp"):
        Trainer(make_toy(), ToyData(), None, make_config(tmp_path, amp="fp8"))
    with pytest.raises(ConfigError, match="unknown device"):
        Trainer(make_toy(), ToyData(), None, make_config(tmp_path, device="gpu0"))
    with pytest.raises(TrainingError, match="steps must be .* at least 1; got 0"):  # exited 0, naming best/
        Trainer(make_toy(), ToyData(), None, make_config(tmp_path, steps=0))
    with pytest.raises(TrainingError, match="give one of them"):
        Trainer(make_toy(), ToyData(), None, make_config(tmp_path, resume=True, overwrite=True))
    (tmp_path / "a file").write_text("")
    with pytest.raises(TrainingError, match="is a file"):
        Trainer(make_toy(), ToyData(), None, make_config(tmp_path / "a file"))


def test_a_run_is_never_silently_overwritten(tmp_path):
    run = tmp_path / "run"
    Trainer(make_toy(), ToyData(), valid_data(), make_config(run, steps=6)).fit()
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    with pytest.raises(TrainingError, match="already holds a training run .*--resume continues it, --overwrite"):
        Trainer(make_toy(seed=5), ToyData(), valid_data(), make_config(run, steps=3))
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before  # nothing touched
    # --overwrite starts over: the old metrics, best/ and last/ give way to a 3-step run's
    history = Trainer(make_toy(seed=5), ToyData(), valid_data(), make_config(run, steps=3, overwrite=True)).fit()
    assert [record["step"] for record in read_metrics(run)] == [record["step"] for record in history] == [1, 2, 3]
    assert json.loads((run / "best" / "best.json").read_text())["step"] == 3
    assert torch.load(run / "last" / "trainer_state.pt", weights_only=True)["step"] == 3


class Untraceable(Toy):
    def example_input(self):
        return "not a tensor"


def test_a_graph_the_tracer_cannot_follow_only_warns(tmp_path):
    with pytest.warns(UserWarning, match="TensorBoard graph skipped"):
        history = Trainer(Untraceable(), ToyData(), None, make_config(tmp_path / "run", steps=3)).fit()
    assert len(history) == 3


# ---------------------------------------------------------------------------------------------- distributed


def _ddp_worker(rank: int, world_size: int, runs: list[tuple[int, str, dict, dict]]) -> None:
    """A torchrun-like process: one Trainer per (port, out_dir, toy options, config options) of `runs`, in order."""
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    for port, out_dir, toy, options in runs:
        os.environ["MASTER_PORT"] = str(port)  # a fresh process group per run, as torchrun would give
        data = ToyData(batch_size=16)
        Trainer(make_toy(**toy), data, valid_data(), make_config(out_dir, tensorboard=False, **options)).fit()
        assert data.shards == [(rank, world_size)]


def free_ports(n: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


NO_DROPOUT = dict(config=ToyConfig(dropout=0.0))  # dropout masks could not match a single process's


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory) -> Path:
    """Two processes, started once (each start costs seconds): all the runs the DDP tests look at."""
    root = tmp_path_factory.mktemp("ddp")
    runs = [
        ("sharded", NO_DROPOUT, dict(steps=12)),
        ("straight", {}, dict(steps=12)),
        ("resumed", {}, dict(steps=6)),
        ("resumed", {}, dict(steps=12, resume=True)),
    ]
    ports = free_ports(len(runs))
    runs = [(port, str(root / name), toy, options) for port, (name, toy, options) in zip(ports, runs)]
    mp.spawn(_ddp_worker, args=(2, runs), nprocs=2, join=True)
    return root


def test_ddp_on_shards_equals_one_process_on_the_global_batch(tmp_path, ddp_runs):
    single, sharded = tmp_path / "single", ddp_runs / "sharded"
    Trainer(make_toy(**NO_DROPOUT), ToyData(batch_size=16), valid_data(), make_config(single, steps=12)).fit()

    assert [r["step"] for r in read_metrics(sharded)] == list(range(1, 13))  # rank 0 alone logs
    for name, tensor in weights(single / "last").items():
        torch.testing.assert_close(weights(sharded / "last")[name], tensor, rtol=0, atol=1e-6)
    assert torch.load(sharded / "last" / "trainer_state.pt", weights_only=True)["data_state"][1]["calls"] == 12


def test_ddp_resume_continues_every_process_exactly(ddp_runs):
    # Dropout draws differ by rank: each process must get its own RNG state back, not rank 0's.
    straight, resumed = read_metrics(ddp_runs / "straight"), read_metrics(ddp_runs / "resumed")
    assert without_validation(resumed) == without_validation(straight)  # the 6-step run also validated at its end
    for name, tensor in weights(ddp_runs / "straight" / "last").items():
        assert torch.equal(weights(ddp_runs / "resumed" / "last")[name], tensor)
