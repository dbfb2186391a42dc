"""The glibc malloc settings made at `import sketchlab` change no number: the paper's exact objective gives the same
losses with and without them (each run in a fresh process, since they must come before the first allocation)."""

import json
import os
import subprocess
import sys

import pytest

TRAIN_A_LITTLE = """
import json, sketchlab, torch
from sketchlab.allocator import tune_glibc_malloc
from sketchlab.data.datasets import StrokeBatches, StrokeDataset
from sketchlab.data.npz import load_npz
from sketchlab.data.strokes import scale_factor
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig

sheep = load_npz(sys.argv[1])["train"][:32]
config = SketchRNNConfig(enc_hidden=16, dec_hidden=32, z_size=8, num_mixture=3, batch_size=16, bucket_pool=0,
                         checkpoint_steps=0, scale_factor=scale_factor(sheep))
batches = StrokeBatches(StrokeDataset(sheep, [0] * len(sheep), 250, config.scale_factor), 16, seed=0,
                        random_scale_factor=0.15, augment_stroke_prob=0.1)
torch.manual_seed(0)
model = SketchRNN(config)
(optimizer, _), = model.configure_optimizers()
losses = []
for step in range(3):
    loss = model.training_step(batches.next_batch(), step)["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(json.dumps({"tuned": tune_glibc_malloc(), "losses": losses}))
"""


def train_a_little(sheep_path, system_malloc: bool) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "SKETCHLAB_SYSTEM_MALLOC"}
    if system_malloc:
        env["SKETCHLAB_SYSTEM_MALLOC"] = "1"
    code = "import sys\n" + TRAIN_A_LITTLE
    output = subprocess.run([sys.executable, "-c", code, str(sheep_path)], env=env, check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the settings are glibc's")
def test_the_exact_objective_gives_the_same_losses_with_and_without_the_malloc_settings(sheep_path):
    tuned, system = train_a_little(sheep_path, False), train_a_little(sheep_path, True)
    assert tuned["tuned"] and not system["tuned"]
    assert len(tuned["losses"]) == 3 and len(set(tuned["losses"])) == 3  # three different batches
    for a, b in zip(tuned["losses"], system["losses"]):
        assert abs(a - b) <= 1e-6
