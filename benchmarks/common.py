"""Shared pieces of the benchmarks: real sheep batches, a timer, and the per-timestep LSTMCell baseline."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import sketchlab  # noqa: F401 - sets flush-denormal, as every sketchlab run does
from sketchlab.data.datasets import StrokeBatches, StrokeDataset
from sketchlab.data.npz import load_stroke_splits
from sketchlab.data.sources import resolve_data
from sketchlab.data.strokes import scale_factor
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.training.engine import autocast_dtype


class LoopLSTM(nn.Module):
    """The straightforward implementation: an `nn.LSTMCell` stepped in a Python loop (the flat-state interface)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size, self.state_size = hidden_size, 2 * hidden_size
        self.cell = nn.LSTMCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: torch.Tensor, lengths: torch.Tensor | None = None,
                constant_gates: None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`constant_gates` is never given: an lstm decoder trains on z joined to every input."""
        h, c = state.chunk(2, dim=1)
        outputs, cells = [], []
        for x_t in x.unbind(1):
            h, c = self.cell(x_t, (h, c))
            outputs.append(h)
            cells.append(c)
        outputs = torch.stack(outputs, dim=1)
        if lengths is None:
            return outputs, torch.cat([h, c], dim=1)
        # Straightforwardly, over the padding too, then read each sequence's state at its last real step.
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden_size)
        final = [steps.gather(1, last).squeeze(1) for steps in (outputs, torch.stack(cells, dim=1))]
        real = torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)
        return outputs * real.unsqueeze(-1), torch.cat(final, dim=1)


def with_loop_cells(model: SketchRNN) -> SketchRNN:
    """The same model with every LSTM (encoder both ways, decoder) replaced by a per-timestep LSTMCell loop, trained
    in float32 as the straightforward implementation would be (`--amp auto` then leaves it so)."""
    def loop_like(fused):
        return LoopLSTM(fused.lstm.input_size, fused.hidden_size)

    model.bf16_by_default = False
    model.cell = loop_like(model.cell)
    if model.config.conditional:
        model.encoder.forward_rnn = loop_like(model.encoder.forward_rnn)
        model.encoder.backward_rnn = loop_like(model.encoder.backward_rnn)
    return model


def sheep_batches(config: SketchRNNConfig, data: str = "aaron_sheep") -> tuple[SketchRNNConfig, StrokeBatches]:
    splits, _ = load_stroke_splits(resolve_data(data), config.max_seq_len)
    factor = scale_factor(splits.train)
    config = SketchRNNConfig(**{**config.__dict__, "scale_factor": factor})
    dataset = StrokeDataset(splits.train, splits.train_labels, config.max_seq_len, factor)
    return config, StrokeBatches(dataset, config.batch_size, seed=0, random_scale_factor=config.random_scale_factor,
                                 augment_stroke_prob=config.augment_stroke_prob, bucket_pool=config.bucket_pool)


def training_step(model: SketchRNN, batches: StrokeBatches, amp: str = "auto"):
    """A function that runs one optimiser step of `model`, as the engine does, on the batch given or the next one
    (`amp` as `sketchlab train --amp`: by default what the engine chooses on this machine)."""
    (optimizer, scheduler), = model.configure_optimizers()
    model.train()
    device = next(model.parameters()).device
    dtype = autocast_dtype(amp, model, device)
    autocast = torch.autocast(device.type, dtype) if dtype else contextlib.nullcontext()

    def step(batch=None) -> None:
        with autocast:
            losses = model.training_step(batches.next_batch() if batch is None else batch, 0)
        optimizer.zero_grad()
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), model.grad_clip)
        optimizer.step()
        scheduler.step()

    return step


def interleaved_seconds(fns: dict, repeats: int, warmup: int = 1) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds per call of each function, called in turn so that a change of load hits them all.

    CPU seconds count every thread of the process; with one thread on a shared machine they are the steadier figure.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: tuple(statistics.median(column) for column in zip(*pairs)) for name, pairs in times.items()}


def machine() -> str:
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, " \
           f"LD_PRELOAD={Path(os.environ.get('LD_PRELOAD', 'none')).name}"
