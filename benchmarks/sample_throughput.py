"""Batched sampling throughput against one-sketch-at-a-time decoding with a per-timestep nn.LSTMCell.

Run: python benchmarks/sample_throughput.py [--model RUN_DIR] [--n 1000] [--baseline-n 20]
With --model, a trained model draws; without, a paper-sized random model whose end-of-sketch logit is biased so
sketches last about 100 steps, like real sheep, up to N_max 250. Both ways decode the same weights, each sketch
stopping at its own end-of-sketch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import LoopLSTM, machine

from sketchlab import sampling
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.pipelines.strokes import load_model


def random_model(temperature: float) -> SketchRNN:
    torch.manual_seed(0)
    model = SketchRNN(SketchRNNConfig())
    with torch.no_grad():  # constant pen logits: at this temperature, end-of-sketch has probability 1/100 per step
        model.head.weight[:3].zero_()
        model.head.bias[:3] = temperature * torch.tensor([0.70, 0.29, 0.01]).log()
    return model.eval()


@torch.no_grad()
def one_at_a_time(model: SketchRNN, n: int, temperature: float) -> list[int]:
    """The plain way: each sketch decoded alone, an LSTMCell step per point (the same weights as the fused cell)."""
    lstm = model.cell.lstm
    cell = LoopLSTM(lstm.input_size, lstm.hidden_size).cell
    cell.load_state_dict({"weight_ih": lstm.weight_ih_l0, "weight_hh": lstm.weight_hh_l0,
                          "bias_ih": lstm.bias_ih_l0, "bias_hh": lstm.bias_hh_l0})
    lengths = []
    for _ in range(n):
        z = sampling.prior_latents(model, 1)
        h, c = model.initial_state(z, 1).chunk(2, dim=1)
        point = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])
        for t in range(model.config.max_seq_len):
            x = point if z is None else torch.cat([point, z], dim=1)
            h, c = cell(x, (h, c))
            point = sampling.next_points(model.split_params(model.head(h)), temperature, None)
            if point[0, 4] == 1:
                break
        lengths.append(t)
    return lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--baseline-n", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3, help="batched runs; the median is reported")
    args = parser.parse_args()
    model = load_model(args.model) if args.model else random_model(args.temperature)
    print(f"sampling {args.n} sketches, N_max {model.config.max_seq_len}: {machine()}")
    sampling.sample(model, 100, args.temperature, seed=1)  # warm-up: the first call pays for allocations and oneDNN
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        drawings = sampling.sample(model, args.n, args.temperature, seed=0)
        runs.append(time.perf_counter() - start)
    batched = statistics.median(runs)
    start = time.perf_counter()
    lengths = one_at_a_time(model, args.baseline_n, args.temperature)
    single = time.perf_counter() - start
    print(f"  batched           {batched:7.2f} s for {args.n}  {args.n / batched:8.1f} sketches/s "
          f"(mean length {np.mean([len(d) for d in drawings]):.0f}; runs {', '.join(f'{r:.2f}' for r in runs)} s)")
    print(f"  one at a time     {single:7.2f} s for {args.baseline_n}  {args.baseline_n / single:8.1f} sketches/s "
          f"(mean length {np.mean(lengths):.0f})")
    print(f"  speed-up of batched decoding: {(args.n / batched) / (args.baseline_n / single):.1f}x")


if __name__ == "__main__":
    main()
