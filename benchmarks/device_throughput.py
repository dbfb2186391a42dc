"""Training and sampling sketches/s on one device, at batch 100 and at the largest batch that fits, with the share of
the device's peak arithmetic they reach: issue 6's GPU table.

Run: python benchmarks/device_throughput.py [--device cuda] [--amp none|bf16] [--peak-tflops X Y] [--max-batch N]
The paper's configuration (enc 256, dec 512, z 128, M 20, N_max 250, lstm decoder) on real sheep batches. Each batch
size is timed over `--steps` training steps after a warm-up step, and by sampling as many sketches from the prior at
temperature 0.5, each stopping at its own end. Batch sizes double from `--batch` until the device runs out of memory
or passes `--max-batch`. A step's arithmetic is counted from the model's sizes: 2 FLOP a multiply-add of every matrix
product, a training step three times its forward pass.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import sheep_batches, training_step
from sample_throughput import random_model

from sketchlab import sampling
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

# Dense peaks from NVIDIA's data sheets, TFLOP/s: (float32 without tensor cores, TF32 tensor cores, bf16 tensor cores).
# cuDNN's LSTM may use TF32 for float32 (torch allows it for cuDNN by default), so both float32 figures are shown.
PEAKS = {"H100 PCIe": (51.2, 378.0, 756.0), "H100": (66.9, 494.7, 989.4), "H200": (66.9, 494.7, 989.4)}


def training_flops(config: SketchRNNConfig, batch: int, mean_length: float) -> float:
    """FLOP of one training step: the decoder over all N_max steps, the encoder over the sketches' real rows."""
    h, e, m = config.dec_hidden, config.enc_hidden, config.num_mixture
    decoder = config.max_seq_len * 2 * ((5 + config.z_size) * 4 * h + h * 4 * h + h * (6 * m + 3))
    encoder = 2 * mean_length * 2 * (5 * 4 * e + e * 4 * e)  # two directions
    return 3 * batch * (decoder + encoder)


def sampling_flops(config: SketchRNNConfig, steps: int, sketches: int) -> float:
    """FLOP of decoding `steps` sketch-steps in all: z's gates and the initial state once a sketch, then each step."""
    h, z, m = config.dec_hidden, config.z_size, config.num_mixture
    return 2 * (sketches * (z * 4 * h + z * 2 * h) + steps * (5 * 4 * h + h * 4 * h + h * (6 * m + 3)))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(config: SketchRNNConfig, batch: int, steps: int, device: torch.device,
                  amp: str) -> tuple[float, float]:
    """Seconds a step and the batches' mean length, over `steps` steps after a warm-up step."""
    config, batches = sheep_batches(SketchRNNConfig(**{**config.__dict__, "batch_size": batch}))
    torch.manual_seed(0)
    optimizer_step = training_step(SketchRNN(config).to(device), batches, amp)
    lengths = []

    def step() -> None:
        batch_data = {key: value.to(device, non_blocking=True) for key, value in batches.next_batch().items()}
        lengths.append(float(batch_data["lengths"].float().mean()))
        optimizer_step(batch_data)

    step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps, float(np.mean(lengths))


def time_sampling(n: int, device: torch.device) -> tuple[float, int]:
    """Seconds to sample `n` sketches and their number of decoded steps in all, after a small warm-up: the
    paper-sized random model of sample_throughput.py, whose sketches end after about 100 points."""
    model = random_model(0.5).to(device)
    sampling.sample(model, min(n, 16), 0.5, seed=1)
    synchronize(device)
    start = time.perf_counter()
    drawings = sampling.sample(model, n, 0.5, seed=0)
    synchronize(device)
    return time.perf_counter() - start, sum(len(d) + 1 for d in drawings)  # + 1: the end-of-sketch step


def until_out_of_memory(measure, first: int, largest: int):
    """(batch, figures) for batch sizes doubling from `first`, until the device runs out of memory or `largest`."""
    batch = first
    while batch <= largest:
        try:
            yield batch, measure(batch)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            print(f"  batch {batch}: out of memory")
            return
        batch *= 2


def share_of_peak(tflops: float, peaks: tuple[float, ...] | None) -> str:
    if not peaks:
        return "peak unknown (--peak-tflops)"
    return ", ".join(f"{tflops / peak:.1%} of {peak:g}" for peak in peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", choices=["none", "bf16"], default="none")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--max-batch", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, nargs="+", default=None,
                        help="the device's peak TFLOP/s to compare with (default: a known GPU's data sheet figures)")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    known = next((peaks for key, peaks in PEAKS.items() if key in name), None)  # "H100 PCIe" is listed first
    if args.peak_tflops:
        peaks = tuple(args.peak_tflops)
    elif known:
        peaks = known[:2] if args.amp == "none" else known[2:]
    else:
        peaks = None
    config = SketchRNNConfig()
    print(f"{name}, torch {torch.__version__}, amp {args.amp}; peaks compared (TFLOP/s): {peaks or 'unknown'}")
    print("training (paper config, lstm decoder)")
    for batch, (seconds, mean_length) in until_out_of_memory(
            lambda b: time_training(config, b, args.steps, device, args.amp), args.batch, args.max_batch):
        tflops = training_flops(config, batch, mean_length) / seconds / 1e12
        print(f"  batch {batch:6d}: {seconds:8.3f} s/step {batch / seconds:10.1f} sketches/s "
              f"{tflops:7.2f} TFLOP/s ({share_of_peak(tflops, peaks)})")
    print("sampling (temperature 0.5, about 100 points a sketch)")
    for n, (seconds, steps) in until_out_of_memory(lambda b: time_sampling(b, device), args.batch,
                                                   args.max_batch):
        tflops = sampling_flops(config, steps, n) / seconds / 1e12
        print(f"  batch {n:6d}: {seconds:8.3f} s {n / seconds:10.1f} sketches/s "
              f"{tflops:7.2f} TFLOP/s ({share_of_peak(tflops, peaks)})")


if __name__ == "__main__":
    main()
