"""One training loop for every sketchlab model (Sketch-RNN now, GANs later); it knows nothing about strokes or pixels.

The model follows the contract of docs/conventions.md: `configure_optimizers`, `training_step`, `evaluate`,
`save_pretrained`, a `config` dataclass, and optionally `grad_clip`, `log_images`, `example_input` (arguments for
the TensorBoard graph) and `training_state` / `load_training_state` (state outside the weights that later steps
depend on, e.g. a GAN's history of generated images: checkpointed per process so that a resumed run goes on
exactly). The training data has `next_batch`, `state_dict` and `load_state_dict`, and optionally
`shard(rank, world_size)`; the validation data is a callable returning a fresh finite iterable of batches, or None.

Step numbers: `training_step` receives the number of updates done before it (0 for the first); logs, checkpoints and
best.json count the updates done after it, as TensorBoard shows them.

Outputs in `out_dir`: `last/` (checkpoint, see checkpoint.py), `best/` (model with the lowest validation loss and its
best.json; the final model when there is no validation), `metrics.jsonl` and `tb/` (TensorBoard).

Under torchrun (WORLD_SIZE > 1) every process trains a shard of each batch with DistributedDataParallel; only rank 0
validates, logs and writes.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from sketchlab.devices import cpu_has_native_bf16, resolve_device
from sketchlab.errors import SketchlabError
from sketchlab.training.checkpoint import (
    atomic_directory,
    find_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)

Batch = dict[str, Any]
AMP_DTYPES = {"auto": None, "none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(amp: str, model: nn.Module, device: torch.device) -> torch.dtype | None:
    """The dtype a run's forward passes autocast to (None: float32 throughout); see `TrainConfig.amp`. auto stays
    float32 on a GPU: the models' bf16 training there is not measured."""
    if amp == "auto":
        native = device.type == "cpu" and cpu_has_native_bf16()
        return torch.bfloat16 if native and getattr(model, "bf16_by_default", False) else None
    return AMP_DTYPES[amp]


class TrainingError(SketchlabError):
    """Training cannot go on: a non-finite loss or an unusable setting."""


@dataclass
class TrainConfig:
    out_dir: str
    steps: int
    device: str = "auto"  # auto -> cuda if available else cpu; or "cpu", "cuda", "cuda:1"
    seed: int = 0
    log_every: int = 10  # progress bar postfix + TensorBoard scalars + metrics.jsonl line
    eval_every: int = 500  # validation on the full valid source; 0 disables
    image_every: int = 500  # model.log_images(step) -> TensorBoard images; 0 disables
    save_every: int = 500  # checkpoint 'last'; also always at the end
    resume: bool = False  # continue the run in out_dir from its last/ checkpoint
    overwrite: bool = False  # start over in an out_dir that holds a run: its best/, last/, metrics and tb/ are deleted
    # auto | none | bf16 | fp16. auto: bf16 where the model says it trains as well in it (`bf16_by_default`: the
    # Sketch-RNN, measured in benchmarks/README.md) and the CPU multiplies bf16 in hardware, else none (float32).
    # fp16 uses a GradScaler; on a CPU for pixel models only (benchmarks/).
    amp: str = "auto"
    compile: bool = False  # torch.compile the model's step (on a CPU no faster for Sketch-RNN: benchmarks/README.md)
    tensorboard: bool = True
    progress: bool = True

    def validate(self) -> None:
        """Raise a one-line TrainingError on a setting no run can use."""
        if type(self.steps) is not int or self.steps < 1:
            raise TrainingError(f"steps must be a whole number of updates, at least 1; got {self.steps}")
        for name in ("log_every", "eval_every", "image_every", "save_every"):
            if getattr(self, name) < 0:
                raise TrainingError(f"{name} must be 0 (never) or more, got {getattr(self, name)}")
        if self.amp not in AMP_DTYPES:
            raise TrainingError(f"unknown amp {self.amp!r}: use one of {', '.join(AMP_DTYPES)}")
        if self.resume and self.overwrite:
            raise TrainingError("--resume continues the run in the output folder and --overwrite deletes it: "
                                "give one of them")


def _run_paths(out_dir: Path) -> list[Path]:
    """What a run leaves in its folder, a checkpoint swap cut short by a crash included."""
    named = [out_dir / name for name in ("best", "last", "metrics.jsonl", "tb")]
    return [path for path in named if path.exists()] + sorted(out_dir.glob(".best.*")) + sorted(out_dir.glob(".last.*"))


def check_out_dir(config: TrainConfig) -> None:
    """Refuse an output folder that is a file, or that holds a run neither continued (resume) nor started over
    (overwrite): a second `train` into it would silently replace its models and metrics."""
    out_dir = Path(config.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainingError(f"the output folder {out_dir} is a file")
    found = _run_paths(out_dir) if out_dir.is_dir() else []
    if found and not (config.resume or config.overwrite):
        raise TrainingError(f"{out_dir} already holds a training run ({', '.join(p.name for p in found)}): "
                            "--resume continues it, --overwrite deletes it and starts over")


def _delete_run(out_dir: Path) -> None:
    for path in _run_paths(out_dir):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def average_evaluation(model: nn.Module, batches: Iterable[Batch],
                       prepare: Callable[[Batch], Batch] = lambda batch: batch) -> dict[str, float]:
    """Mean of `model.evaluate` over `batches`, weighted by batch size, in eval mode without gradients.

    `prepare` moves each batch where the model is. The model's mode is restored afterwards; no batches give {}.
    """
    totals: Counter[str] = Counter()
    count = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                batch = prepare(batch)
                n = batch_size(batch)
                for key, value in model.evaluate(batch).items():
                    totals[key] += float(value) * n
                count += n
    finally:
        model.train(was_training)
    return {key: total / count for key, total in totals.items()} if count else {}


class TrainingStep(nn.Module):
    """The model's `training_step` as a module's forward.

    DistributedDataParallel hooks `forward` to all-reduce gradients in backward; the contract calls `training_step`,
    so this wrapper (as Lightning does) is what DDP and torch.compile wrap. It owns the model's parameters.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, step: int, optimizer_idx: int) -> dict[str, torch.Tensor]:
        return self.model.training_step(batch, step, optimizer_idx)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also every CUDA device


def every(done: int, interval: int) -> bool:
    return interval > 0 and done % interval == 0


def batch_size(batch: Batch) -> int:
    """The length of the batch's first tensor."""
    return next(len(value) for value in batch.values() if isinstance(value, torch.Tensor))


def _logged_step(line: str) -> int | None:
    """The step of one metrics.jsonl line, or None if the line is damaged."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if type(step) is int else None


class Trainer:
    """Trains `model` on `train_data`, validating on `valid_data`, as `config` says. Call `fit()`."""

    def __init__(
        self,
        model: nn.Module,
        train_data: Any,
        valid_data: Callable[[], Iterable[Batch]] | None,
        config: TrainConfig,
    ) -> None:
        config.validate()
        check_out_dir(config)
        self.model, self.train_data, self.valid_data, self.config = model, train_data, valid_data, config
        self.out_dir = Path(config.out_dir)
        self._setup_distributed()
        self.amp_dtype = autocast_dtype(config.amp, model, self.device)
        self.model.to(self.device)
        pairs = model.configure_optimizers()
        self.optimizers = [optimizer for optimizer, _ in pairs]
        self.schedulers = [scheduler for _, scheduler in pairs]
        # One scaler per optimiser: each player of a GAN keeps its own loss scale. Disabled scalers pass through.
        self.scalers = [
            torch.amp.GradScaler(self.device.type, enabled=config.amp == "fp16") for _ in self.optimizers
        ]
        self.training_step = self._wrap_step()
        self.best_loss = math.inf
        self.writer = None
        self.progress = None

    # ----------------------------------------------------------------------------------------------- set-up

    def _setup_distributed(self) -> None:
        """Rank, world size and device; under torchrun, join the process group and take this process's GPU."""
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.device = resolve_device(self.config.device)
        self.owns_group = self.world_size > 1 and not dist.is_initialized()
        if self.world_size > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if self.owns_group:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.rank = dist.get_rank() if self.world_size > 1 else 0
        self.is_main = self.rank == 0
        if self.world_size > 1 and hasattr(self.train_data, "shard"):
            self.train_data.shard(self.rank, self.world_size)

    def _wrap_step(self) -> nn.Module:
        step: nn.Module = TrainingStep(self.model)
        if self.world_size > 1:
            # Each player's step of a GAN leaves the other's parameters out: then DDP must look for unused ones
            # (an extra graph traversal, so only then; with one optimiser every parameter must take part).
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            step = DistributedDataParallel(
                step, device_ids=device_ids, find_unused_parameters=len(self.optimizers) > 1
            )
        if self.config.compile:
            import torch._inductor.config as inductor_config

            # Random draws inside the compiled step (a VAE's noise, dropout) then come from torch's generator as in
            # eager mode, so a compiled run gives an eager run's losses and resumes exactly.
            inductor_config.fallback_random = True
            step = torch.compile(step)
        return step

    def _start(self) -> int:
        """Seed, resume from `last/` when asked and present, open the logs; returns the number of updates done."""
        seed_everything(self.config.seed + self.rank)
        if self.config.overwrite and self.is_main:
            _delete_run(self.out_dir)
        last = self._checkpoint_to_resume()
        start = self._resume(last) if last is not None else 0
        if self.is_main:
            self._open_logs(start)
            if start == 0:
                self._log_graph()
        return start

    def _checkpoint_to_resume(self) -> Path | None:
        if not self.config.resume:
            return None
        if self.is_main:
            find_checkpoint(self.out_dir / "last")  # finishes an interrupted swap before the others look
        if self.world_size > 1:
            dist.barrier()
        last = self.out_dir / "last"
        return last if last.exists() else None

    def _resume(self, last: Path) -> int:
        """Every process restores the model, optimisers, its own data position and RNGs (continuing exactly)."""
        state = load_checkpoint(
            last, self.model, self.optimizers, self.schedulers, self.scalers, self.rank, self.world_size
        )
        self.train_data.load_state_dict(state["data_state"][self.rank])
        self.best_loss = state["extra"].get("best_loss", math.inf)
        # Checkpoints written before a model kept training state have none: it then starts empty, as it once did.
        if hasattr(self.model, "load_training_state") and "model_state" in state["extra"]:
            self.model.load_training_state(state["extra"]["model_state"][self.rank])
        return state["step"]

    def _open_logs(self, start: int) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._trim_metrics(start)
        if self.config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported here: it is slow and only training needs it

            # purge_step hides what an earlier or crashed run logged after the step this one starts from.
            self.writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=start + 1)
        self.progress = tqdm(
            total=self.config.steps, initial=start, desc="train", disable=not self.config.progress, dynamic_ncols=True
        )

    def _trim_metrics(self, start: int) -> None:
        """Keep the metrics of the updates the checkpoint holds: none when starting afresh. The checkpoint is the
        source of truth, so damaged lines (a kill's partial last line, a blank one) are dropped and counted."""
        path = self.out_dir / "metrics.jsonl"
        lines = path.read_text(errors="replace").splitlines() if start and path.exists() else []
        steps = [_logged_step(line) for line in lines]
        damaged = steps.count(None)
        if damaged:
            warnings.warn(f"{path}: dropped {damaged} damaged line(s); resuming from the checkpoint at step {start}",
                          stacklevel=2)
        path.write_text("".join(f"{line}\n" for line, step in zip(lines, steps) if step is not None and step <= start))

    def _log_graph(self) -> None:
        """Add the model's graph to TensorBoard once; a model the tracer cannot follow only costs a warning."""
        if self.writer is None or not hasattr(self.model, "example_input"):
            return
        saved = rng_state()  # tracing runs the model (dropout, sampling): leave the RNGs as they were
        try:
            args = self.model.example_input()  # a tensor or a tuple of tensors
            args = tuple(a.to(self.device) for a in args) if isinstance(args, tuple) else args.to(self.device)
            # The tracer warns about every Python branch it freezes and prints its own errors: keep them out.
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                self.writer.add_graph(self.model, args)
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            warnings.warn(f"TensorBoard graph skipped: {reason}", stacklevel=2)
        finally:
            set_rng_state(saved)

    def _to_device(self, batch: Batch) -> Batch:
        return {
            key: value.to(self.device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()
        }

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    # ----------------------------------------------------------------------------------------------- training

    def fit(self) -> list[dict[str, float]]:
        """Train until `config.steps` updates; returns this process's logged metrics, one dict per logged step."""
        try:
            start = self._start()
            return self._loop(start)
        finally:
            self._close()

    def _loop(self, start: int) -> list[dict[str, float]]:
        config, history = self.config, []
        self.model.train()
        for step in range(start, config.steps):
            batch = self._to_device(self.train_data.next_batch())
            outputs = [self._update(batch, step, idx) for idx in range(len(self.optimizers))]
            done = step + 1
            last = done == config.steps
            record: dict[str, float] = {}
            if every(done, config.log_every) or last:
                record.update(self._train_metrics(outputs))
            if self.is_main and self._validates() and (every(done, config.eval_every) or last):
                record.update(self._validate(done))
            if self.is_main and not self._validates() and last:
                self._save_best(done, {})  # no validation: best/ is the final model, so best/ always exists
            if self.is_main and self.writer is not None and every(done, config.image_every):
                self._log_images(done)
            if record:
                self._log(done, record)
                history.append({"step": done, **record})
            if self.is_main:
                self.progress.update()
            if every(done, config.save_every) or last:
                self._save(done)
        if self.world_size > 1:
            dist.barrier()  # no process returns before rank 0 has written the final checkpoint
        return history

    def _update(self, batch: Batch, step: int, idx: int) -> dict[str, torch.Tensor]:
        """One optimiser's update: forward under autocast, backward (scaled for fp16), clip, step."""
        optimizer, scheduler, scaler = self.optimizers[idx], self.schedulers[idx], self.scalers[idx]
        optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.training_step(batch, step, idx)
        self._check_finite(outputs["loss"], step + 1, idx)
        scaler.scale(outputs["loss"]).backward()
        clip = getattr(self.model, "grad_clip", None)
        if clip:
            scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
            params = [p for group in optimizer.param_groups for p in group["params"]]
            outputs = {**outputs, "grad_norm": torch.nn.utils.clip_grad_norm_(params, clip)}
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        return outputs

    def _check_finite(self, loss: torch.Tensor, done: int, idx: int) -> None:
        """Stop before a non-finite loss reaches the weights, so no checkpoint ever holds NaNs.

        This waits for the GPU once per step; a corrupt run costs more than that.
        """
        finite = torch.isfinite(loss.detach()).all().float()
        if self.world_size > 1:
            # All processes must stop together, or the others would wait forever in the gradient all-reduce.
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not finite.item():
            raise TrainingError(
                f"the loss of optimiser {idx} is not finite at step {done}: "
                "try a lower learning rate, a gradient clip, or bf16 instead of fp16"
            )

    def _train_metrics(self, outputs: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """Floats of every step output and learning rate; names that several optimisers share get `_<idx>`."""
        counts = Counter(key for out in outputs for key in out)
        metrics = {}
        for idx, out in enumerate(outputs):
            for key, value in out.items():
                metrics[f"train/{key}" if counts[key] == 1 else f"train/{key}_{idx}"] = torch.as_tensor(value).item()
        for idx, optimizer in enumerate(self.optimizers):
            name = "train/lr" if len(self.optimizers) == 1 else f"train/lr_{idx}"
            metrics[name] = float(optimizer.param_groups[0]["lr"])
        return metrics

    def _validates(self) -> bool:
        return self.valid_data is not None and self.config.eval_every > 0

    def _validate(self, done: int) -> dict[str, float]:
        """Mean of `evaluate` over the whole validation data, weighted by batch size; keeps the best model."""
        with self._autocast():
            metrics = average_evaluation(self.model, self.valid_data(), self._to_device)
        if not metrics:
            return {}
        if metrics["loss"] < self.best_loss:
            self._save_best(done, metrics)
        return {f"valid/{key}": value for key, value in metrics.items()}

    def _save_best(self, done: int, metrics: dict[str, float]) -> None:
        self.best_loss = metrics.get("loss", self.best_loss)
        with atomic_directory(self.out_dir / "best") as tmp:
            self.model.save_pretrained(tmp)
            (tmp / "best.json").write_text(json.dumps({"step": done, "metrics": metrics}, indent=2) + "\n")

    def _log_images(self, done: int) -> None:
        if not hasattr(self.model, "log_images"):
            return
        self.model.eval()
        with torch.no_grad():
            images = self.model.log_images(done)
        self.model.train()
        for name, image in images.items():
            self.writer.add_image(f"images/{name}", image, done, dataformats="HWC")

    def _log(self, done: int, record: dict[str, float]) -> None:
        """Progress bar, TensorBoard and a metrics.jsonl line, on rank 0."""
        if not self.is_main:
            return
        self.progress.set_postfix(
            {key.removeprefix("train/").replace("/", "_"): f"{value:.4g}" for key, value in record.items()
             if not key.startswith("train/lr")},
            refresh=False,
        )
        if self.writer is not None:
            for key, value in record.items():
                self.writer.add_scalar(key, value, done)
        with open(self.out_dir / "metrics.jsonl", "a") as file:
            file.write(json.dumps({"step": done, **record}) + "\n")

    def _save(self, done: int) -> None:
        """Checkpoint `last/` on rank 0, with every process's data position, RNG states and model training state."""
        data_states, rng_states = self._gather(self.train_data.state_dict()), self._gather(rng_state())
        extra = {"best_loss": self.best_loss}
        if hasattr(self.model, "training_state"):
            extra["model_state"] = self._gather(self.model.training_state())  # each process has its own
        if self.is_main:
            save_checkpoint(
                self.out_dir / "last", self.model, self.optimizers, self.schedulers, self.scalers, done,
                data_states, extra=extra, rng_states=rng_states,
            )

    def _gather(self, value: Any) -> list[Any]:
        """`value` of every process, by rank."""
        if self.world_size == 1:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def _close(self) -> None:
        if self.progress is not None:
            self.progress.close()
        if self.writer is not None:
            self.writer.close()
        if self.owns_group:
            # Free DDP first: a process group whose last owner is DDP's reducer is destroyed holding the GIL, which
            # deadlocks with gloo's threads (pytorch#56297); destroy_process_group releases the GIL.
            self.training_step = None
            dist.destroy_process_group()
            self.owns_group = False
