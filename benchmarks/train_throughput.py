"""Training throughput (sketches/s) of Sketch-RNN against a per-timestep nn.LSTMCell loop, same model, same batches.

Run: python benchmarks/train_throughput.py [--cell lstm] [--batch 100] [--repeats 3]
Defaults are the paper's configuration (enc 256, dec 512, z 128, M 20, batch 100, N_max 250) on real sheep batches.
"""

from __future__ import annotations

import argparse

import torch
from common import machine, median_seconds, sheep_batches, with_loop_cells

from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


def step_seconds(model: SketchRNN, batches, repeats: int) -> float:
    (optimizer, scheduler), = model.configure_optimizers()
    model.train()

    def step():
        losses = model.training_step(batches.next_batch(), 0)
        optimizer.zero_grad()
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), model.grad_clip)
        optimizer.step()
        scheduler.step()

    return median_seconds(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config, batches = sheep_batches(SketchRNNConfig(cell=args.cell, batch_size=args.batch))
    print(f"training step, paper config, cell={args.cell}, batch {args.batch}: {machine()}")
    torch.manual_seed(0)
    ours = step_seconds(SketchRNN(config), batches, args.repeats)
    torch.manual_seed(0)
    baseline = step_seconds(with_loop_cells(SketchRNN(config)), batches, args.repeats)
    for name, seconds in (("sketchlab (fused)", ours), ("LSTMCell loop", baseline)):
        print(f"  {name:18s} {seconds:7.3f} s/step  {args.batch / seconds:7.1f} sketches/s")
    print(f"  speed-up over the LSTMCell loop: {baseline / ours:.2f}x")


if __name__ == "__main__":
    main()
