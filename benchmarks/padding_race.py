"""The paper's padded objective against bucketed batches, each trained for the same wall-clock time: test L_R reached.

Run: python benchmarks/padding_race.py [--seconds 1200] [--evals 4] [--batch 100] [--test-drawings N]
Two models from the same initial weights at the paper's configuration on sheep: `bucket_pool` 0 (random batches, each
run to N_max, the pen loss on every padding row: the paper's objective) and the default `bucket_pool` (batches cut
from sorted pools, each run to its longest drawing). Their steps alternate, so that a change in the machine's load
hits both; each stops when its own steps have taken `--seconds`, and both are judged at `--evals` equal shares of
that time by the paper's exact L_R on the test split (the evaluation's time is not counted).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import machine, sheep_batches, training_step

from sketchlab.data.datasets import StrokeDataset, iter_batches
from sketchlab.data.npz import load_stroke_splits
from sketchlab.data.sources import resolve_data
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig


def test_l_r(model: SketchRNN, test_set: StrokeDataset) -> float:
    """The paper's reconstruction loss on the test split, weighted by batch size."""
    model.eval()
    total = sum(model.evaluate(batch)["l_r"] * len(batch["lengths"]) for batch in iter_batches(test_set, 100))
    model.train()
    return total / len(test_set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1200, help="training time of each variant")
    parser.add_argument("--evals", type=int, default=4, help="test evaluations, at equal shares of --seconds")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-seq-len", type=int, default=250)
    parser.add_argument("--test-drawings", type=int, default=None, help="judge on the first N test drawings only")
    args = parser.parse_args()
    default = SketchRNNConfig(batch_size=args.batch, max_seq_len=args.max_seq_len)
    variants = {"paper (bucket_pool 0)": SketchRNNConfig(**{**default.__dict__, "bucket_pool": 0}),
                f"bucketed (bucket_pool {default.bucket_pool})": default}
    splits, _ = load_stroke_splits(resolve_data("aaron_sheep"), args.max_seq_len)
    runs = {}
    for name, config in variants.items():
        config, batches = sheep_batches(config)
        torch.manual_seed(0)
        model = SketchRNN(config)
        runs[name] = {"model": model, "step": training_step(model, batches), "seconds": 0.0, "steps": 0, "evals": []}
    test = slice(args.test_drawings)
    test_set = StrokeDataset(splits.test[test], splits.test_labels[test], args.max_seq_len, config.scale_factor)
    marks = [args.seconds * (i + 1) / args.evals for i in range(args.evals)]
    print(f"padding race, paper config, batch {args.batch}, N_max {args.max_seq_len}, {args.seconds:.0f} s each, "
          f"{len(test_set)} test sheep: {machine()}")
    while any(run["seconds"] < args.seconds for run in runs.values()):
        for name, run in runs.items():
            if run["seconds"] >= args.seconds:
                continue
            start = time.perf_counter()
            run["step"]()
            run["seconds"] += time.perf_counter() - start
            run["steps"] += 1
            if run["seconds"] >= marks[len(run["evals"])]:
                run["evals"].append((run["seconds"], run["steps"], test_l_r(run["model"], test_set)))
                print(f"  {name:26s} {run['seconds']:7.0f} s  step {run['steps']:5d}  test L_R "
                      f"{run['evals'][-1][2]:.4f}", flush=True)
    (paper, bucketed) = runs.values()
    for (seconds, steps_a, l_r_a), (_, steps_b, l_r_b) in zip(paper["evals"], bucketed["evals"]):
        print(f"  after {seconds:6.0f} s: test L_R paper {l_r_a:.4f} ({steps_a} steps), bucketed {l_r_b:.4f} "
              f"({steps_b} steps), {steps_b / steps_a:.2f}x the steps")


if __name__ == "__main__":
    main()
