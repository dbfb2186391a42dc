"""Training throughput (sketches/s) of Sketch-RNN against a per-timestep nn.LSTMCell loop, same model, same batches.

Run: python benchmarks/train_throughput.py [--cell lstm] [--batch 100] [--repeats 3]
Defaults are the paper's configuration (enc 256, dec 512, z 128, M 20, batch 100, N_max 250) on real sheep batches.
The two models' steps alternate, so that a change in the machine's load hits both.
"""

from __future__ import annotations

import argparse

import torch
from common import interleaved_seconds, machine, sheep_batches, training_step, with_loop_cells

from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # Each model its own stream of the same batches: the encoder's cost now depends on the sketches' lengths.
    (config, batches), (_, same_batches) = (sheep_batches(SketchRNNConfig(cell=args.cell, batch_size=args.batch))
                                            for _ in range(2))
    print(f"training step, paper config, cell={args.cell}, batch {args.batch}: {machine()}")
    torch.manual_seed(0)
    ours = training_step(SketchRNN(config), batches)
    torch.manual_seed(0)
    baseline = training_step(with_loop_cells(SketchRNN(config)), same_batches)
    times = interleaved_seconds({"sketchlab": ours, "LSTMCell loop": baseline}, args.repeats)
    for name, (wall, cpu) in times.items():
        print(f"  {name:14s} {wall:7.3f} s/step  {args.batch / wall:7.1f} sketches/s  {cpu:7.3f} CPU s/step")
    (ours_wall, ours_cpu), (base_wall, base_cpu) = times.values()
    print(f"  speed-up over the LSTMCell loop: {base_wall / ours_wall:.2f}x wall, {base_cpu / ours_cpu:.2f}x CPU")


if __name__ == "__main__":
    main()
