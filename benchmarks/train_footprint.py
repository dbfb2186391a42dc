"""Peak memory (RSS) of training, and the data pipeline's share of a training step.

Run: python benchmarks/train_footprint.py [--steps 3] [--batch 100] [--recompute none]
Each model trains in a fresh process at the paper's configuration (enc 256, dec 512, z 128, M 20, batch 100,
N_max 250) on real sheep batches, so that one's peak cannot hide another's: sketchlab's model as it trains by
default (`--amp auto`: bf16 on a CPU with native bf16, float32 elsewhere), the same with another `recompute`
(none: every activation kept for the backward pass), and the same model with every LSTM replaced by a per-timestep
`nn.LSTMCell` loop (float32). The steps run on the epoch's batches of the longest drawings, where memory peaks. The
issue's targets: peak RSS <= 1 GB, batch preparation < 5% of the step.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_RSS_MB, TARGET_PREP_SHARE = 1024, 0.05


def measure(steps: int, batch: int, recompute: str | None, baseline: bool) -> dict:
    """In this process: train `steps` steps on the longest batches of an epoch (`recompute` None: the default); time
    batch preparation apart from the step it feeds."""
    import torch
    from common import sheep_batches, training_step, with_loop_cells

    from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

    chosen = {} if recompute is None else {"recompute": recompute}
    config, batches = sheep_batches(SketchRNNConfig(batch_size=batch, **chosen))
    torch.manual_seed(0)
    model = SketchRNN(config)
    step = training_step(with_loop_cells(model) if baseline else model, batches)
    epoch = len(batches.dataset) // batch
    longest = sorted(range(epoch), key=lambda i: -int(batches.next_batch()["lengths"].max()))[:steps]
    batches.position = 0  # the same epoch again, batch by batch
    prep_seconds = step_seconds = 0.0
    for i in range(max(longest) + 1):
        start = time.perf_counter()
        batch_ready = batches.next_batch()
        prepared = time.perf_counter()
        if i not in longest:
            continue
        step(batch_ready)
        prep_seconds += prepared - start
        step_seconds += time.perf_counter() - prepared
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux reports KiB
            "prep_s": prep_seconds / steps, "step_s": step_seconds / steps}


def in_fresh_process(steps: int, batch: int, recompute: str | None = None, baseline: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--steps", str(steps), "--batch", str(batch)]
    command += [] if recompute is None else ["--recompute", recompute]
    output = subprocess.run(command + (["--baseline"] if baseline else []), check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--recompute", default=None,
                        help="the other setting to measure (default: none, every activation kept)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.steps, args.batch, args.recompute, args.baseline)))
        return
    from common import machine

    print(f"training footprint, paper config, batch {args.batch}, {args.steps} steps: {machine()}")
    other = args.recompute or "none"
    runs = {"sketchlab": in_fresh_process(args.steps, args.batch),
            f"recompute {other}": in_fresh_process(args.steps, args.batch, other),
            "LSTMCell loop": in_fresh_process(args.steps, args.batch, baseline=True)}
    loop = runs["LSTMCell loop"]
    for name, figures in runs.items():
        share = figures["prep_s"] / (figures["prep_s"] + figures["step_s"])
        print(f"  {name:15s} peak RSS {figures['peak_rss_mb']:6.0f} MB ({figures['peak_rss_mb'] / loop['peak_rss_mb']:.2f}x"
              f" the loop's, target <= {TARGET_RSS_MB} MB: {'met' if figures['peak_rss_mb'] <= TARGET_RSS_MB else 'not met'})"
              f"   batch preparation {figures['prep_s'] * 1000:5.1f} ms of a {figures['step_s']:.2f} s step "
              f"({share:.1%}, target < {TARGET_PREP_SHARE:.0%}: {'met' if share < TARGET_PREP_SHARE else 'not met'})")

    print(f"  recompute {other} step time, steps alternated with the default model's: "
          f"{recompute_time_ratio(args.batch, other, args.steps):.2f}x")


def recompute_time_ratio(batch: int, recompute: str, repeats: int) -> float:
    """Wall time of a step with `recompute` over a default one, alternated so that a change of load hits both
    (the same stream of batches for each)."""
    import torch
    from common import interleaved_seconds, sheep_batches, training_step

    from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

    steps = {}
    for name, chosen in (("default", {}), ("other", {"recompute": recompute})):
        config, batches = sheep_batches(SketchRNNConfig(batch_size=batch, **chosen))
        torch.manual_seed(0)
        steps[name] = training_step(SketchRNN(config), batches)
    times = interleaved_seconds(steps, repeats)
    return times["other"][0] / times["default"][0]


if __name__ == "__main__":
    main()
