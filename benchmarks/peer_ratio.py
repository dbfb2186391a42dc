"""Training sketches/s of `sketchlab train` as a user starts it, against public Sketch-RNN ports run beside it.

Run: python benchmarks/peer_ratio.py --alexis-jacq /tmp/peer-alexis --rfeinman /tmp/peer-rfeinman [--rounds 3]
Each implementation trains at the paper's configuration (enc 256, dec LSTM 512, z 128, M 20, batch 100, N_max 250)
on real sheep, in a fresh process per round, the implementations in turn within each round, so that a change in the
machine's load hits them all. Nothing of the peers is in this file: each peer is a checkout given on the command line
(prepared as benchmarks/peer_ratio.md says) and driven through its own training step.

- sketchlab: the default configuration and `--amp auto` (bf16 autocast on a CPU with native bf16), no LD_PRELOAD,
  no environment variable; and the same in float32 (`--amp none`). A step's time depends on the batch's longest
  drawing (much so with `bucket_pool` > 0): each round times `--steps` batches of the epoch picked at evenly spaced
  quantiles of their longest drawing, whose mean step stands for the epoch's.
- the peers at their best: flush-to-zero on, tcmalloc preloaded when installed (Debian's libtcmalloc-minimal4).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_FILE = "aaron_sheep.npz"
MARK = "PEER_RATIO "


def sketchlab_steps(_: str, count: int, amp: str = "auto"):
    """The default model and batches; `count` batches at quantiles of their longest drawing, one warm-up batch."""
    import sketchlab  # noqa: F401 - its import sets the allocator, as for every user
    sys.path.insert(0, str(HERE))
    import torch
    from common import sheep_batches, training_step

    from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

    config, batches = sheep_batches(SketchRNNConfig())
    torch.manual_seed(0)
    step = training_step(SketchRNN(config), batches, amp)
    epoch = [batches.next_batch() for _ in range(len(batches.dataset) // config.batch_size)]
    epoch.sort(key=lambda batch: int(batch["lengths"].max()))
    picked = [epoch[int((i + 0.5) * len(epoch) / count)] for i in range(count)]
    return [lambda batch=batch: step(batch) for batch in [epoch[len(epoch) // 2], *picked]]


def alexis_jacq_steps(path: str, count: int):
    """alexis-jacq/Pytorch-Sketch-RNN: its module loads the data at import; `Model.train(epoch)` is one step (epochs
    that are multiples of 100 also draw a sample, so they are skipped)."""
    import torch

    torch.set_flush_denormal(True)
    os.chdir(path)
    sys.path.insert(0, path)
    import sketch_rnn

    model = sketch_rnn.Model()
    return [lambda epoch=epoch: model.train(epoch) for epoch in range(1, count + 2)]


def rfeinman_steps(path: str, count: int):
    """rfeinman/Sketch-RNN: its data set, collation, model and `model_step`, with its train loop's optimiser step."""
    import torch

    torch.set_flush_denormal(True)
    sys.path.insert(0, path)
    from sketch_rnn.dataset import SketchRNNDataset, collate_drawings, load_strokes
    from sketch_rnn.hparams import hparams
    from sketch_rnn.model import SketchRNN, model_step

    hps = hparams(dec_model="lstm", r_dropout=0.0, data_set=DATA_FILE)
    train, _, _ = load_strokes(str(data_dir()), hps)
    data = SketchRNNDataset(train, max_len=hps.max_seq_len, random_scale_factor=hps.random_scale_factor,
                            augment_stroke_prob=hps.augment_stroke_prob)
    loader = iter(torch.utils.data.DataLoader(data, batch_size=hps.batch_size, shuffle=True, num_workers=0,
                                              collate_fn=lambda x: collate_drawings(x, hps.max_seq_len)))
    torch.manual_seed(0)
    model = SketchRNN(hps)
    optimizer = torch.optim.Adam(model.parameters(), lr=hps.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, hps.lr_decay)

    def step() -> None:
        strokes, lengths = next(loader)
        optimizer.zero_grad()
        model_step(model, strokes, lengths).backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), hps.grad_clip)
        optimizer.step()
        scheduler.step()

    return [step] * (count + 1)


IMPLEMENTATIONS = {"sketchlab": sketchlab_steps, "alexis-jacq": alexis_jacq_steps, "rfeinman": rfeinman_steps,
                   # sketchlab in float32 (`--amp none`): its speed where the CPU has no native bf16
                   "sketchlab-float32": lambda path, count: sketchlab_steps(path, count, "none")}


def data_dir() -> Path:
    return Path(os.environ.get("SKETCHLAB_DATA", HERE.parent.parent / "shared" / "data")) / "sketchrnn"


def child(name: str, path: str, count: int) -> None:
    """In this process: one warm-up step, then `count` timed steps; prints wall and CPU seconds and the peak RSS."""
    warmup, *timed = IMPLEMENTATIONS[name](path, count)
    warmup()
    walls, cpus = [], []
    for step in timed:
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(MARK + json.dumps({"wall": walls, "cpu": cpus,
                             "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(name: str, path: str, count: int) -> dict:
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("SKETCHLAB_SYSTEM_MALLOC", None)
    tcmalloc = glob.glob("/usr/lib/*/libtcmalloc_minimal.so.4")
    if not name.startswith("sketchlab") and tcmalloc:
        env["LD_PRELOAD"] = tcmalloc[0]
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--path", path, "--steps", str(count)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(next(line for line in output.splitlines()[::-1] if line.startswith(MARK))[len(MARK):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alexis-jacq", help="a prepared checkout of alexis-jacq/Pytorch-Sketch-RNN")
    parser.add_argument("--rfeinman", help="a checkout of rfeinman/Sketch-RNN")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process, after one warm-up step")
    parser.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.steps)
        return
    runs = {"sketchlab": "", "sketchlab-float32": ""}
    runs.update({name: path for name, path in (("alexis-jacq", args.alexis_jacq), ("rfeinman", args.rfeinman)) if path})
    results = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name, path in runs.items():
            results[name].append(run_child(name, path, args.steps))
            print(f"  round {round_ + 1} {name}: {' '.join(f'{s:.2f}' for s in results[name][-1]['wall'])} s",
                  flush=True)
    print(f"paper config, batch 100, sheep, {args.rounds} rounds x {args.steps} steps, {os.cpu_count()} CPUs, "
          f"peers with LD_PRELOAD={'tcmalloc' if glob.glob('/usr/lib/*/libtcmalloc_minimal.so.4') else 'none'}")
    # Each process's mean step (sketchlab's over the quantile batches), then the median over rounds.
    step = {name: statistics.median(statistics.mean(r["wall"]) for r in rounds) for name, rounds in results.items()}
    for name, rounds in results.items():
        cpu = statistics.median(statistics.mean(r["cpu"]) for r in rounds)
        spread = [statistics.mean(r["wall"]) for r in rounds]
        print(f"  {name:24s} {step[name]:6.2f} s/step (rounds {min(spread):.2f}-{max(spread):.2f})"
              f"  {100 / step[name]:6.1f} sketches/s  {cpu:6.2f} CPU s/step"
              f"  peak RSS {max(r['peak_rss_mb'] for r in rounds):5.0f} MB"
              f"  sketchlab's speed {step[name] / step['sketchlab']:.2f}x")


if __name__ == "__main__":
    main()
