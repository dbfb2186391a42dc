"""Training step time of Sketch-RNN with each decoder cell (lstm, layernorm, hyper), relative to the lstm one.

Run: python benchmarks/cell_throughput.py [--batch 100] [--max-seq-len 250] [--repeats 3] [--cells lstm layernorm hyper]
The paper's configuration otherwise (enc 256, dec 512, z 128, M 20, hyper 256/32), real sheep batches, recurrent
dropout 0.1 for the cells that have it (the paper's keep probability 0.9). The models' steps alternate, so that a
change in the machine's load hits all of them.
"""

from __future__ import annotations

import argparse

import torch
from common import interleaved_seconds, machine, sheep_batches, training_step

from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-seq-len", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", nargs="+", default=["lstm", "layernorm", "hyper"])
    args = parser.parse_args()
    steps = {}
    for cell in args.cells:
        dropout = 0.0 if cell == "lstm" else 0.1
        config = SketchRNNConfig(cell=cell, batch_size=args.batch, max_seq_len=args.max_seq_len,
                                 recurrent_dropout=dropout)
        config, batches = sheep_batches(config)  # each model its own stream of the same batches
        torch.manual_seed(0)
        steps[cell] = training_step(SketchRNN(config), batches)
    print(f"training step by decoder cell, batch {args.batch}, N_max {args.max_seq_len}: {machine()}")
    times = interleaved_seconds(steps, args.repeats)
    reference_wall, reference_cpu = times[args.cells[0]]
    for name, (wall, cpu) in times.items():
        print(f"  {name:10s} {wall:7.3f} s/step ({wall / reference_wall:.2f}x)  "
              f"{cpu:7.3f} CPU s/step ({cpu / reference_cpu:.2f}x)")


if __name__ == "__main__":
    main()
