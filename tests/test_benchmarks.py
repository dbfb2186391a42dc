"""The benchmark scripts still run against the package, at toy sizes: an interface they use that changes must not
leave `make bench` broken (the LSTMCell baseline once was). Their figures are not checked: benchmarks, not timed
tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# Each script with toy-sized arguments, and a line its report must end with (every script checks its own results
# against its baseline, e.g. rasterize's determinism, before it prints).
RUNS = {
    "train_throughput.py": (["--batch", "4", "--repeats", "1"], "speed-up over the LSTMCell loop"),
    "cell_throughput.py": (["--batch", "4", "--max-seq-len", "20", "--repeats", "1"], "hyper"),
    "sample_throughput.py": (["--n", "20", "--baseline-n", "2", "--repeats", "1"], "speed-up of batched decoding"),
    "train_footprint.py": (["--steps", "1", "--batch", "4"], "step time, steps alternated"),
    "raster_throughput.py": (["--n", "60", "--repeats", "1"], "mean |rasterize - render_image|"),
    "padding_race.py": (["--seconds", "1", "--evals", "1", "--batch", "4", "--test-drawings", "8"], "test L_R paper"),
    "device_throughput.py": (["--device", "cpu", "--batch", "4", "--max-batch", "8", "--steps", "1"], "batch      8:"),
    "serve_load.py": (["--flood", "8", "--gave-up", "4", "--give-up-after", "0.5", "--idle-rounds", "1"],
                      "server memory:"),
}


@pytest.mark.parametrize("script", RUNS)
def test_benchmark_runs_at_toy_size(script, data_dir):
    args, last_line = RUNS[script]
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                            timeout=300, cwd=BENCHMARKS,
                            env={**os.environ, "SKETCHLAB_DATA": str(data_dir)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_line in result.stdout.strip().splitlines()[-1]
