"""Fine-tuning a published model: `train_sketch_rnn(..., init="magenta:bear")` starts from its weights, keeps its
architecture and scale factor, and a few steps on a handful of shared bear drawings lower their loss."""

import numpy as np
import torch

from sketchlab.data.quickdraw import build_npz
from sketchlab.evaluation import sketch_rnn_test_losses
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.pipelines.strokes import load_splits, train_sketch_rnn
from sketchlab.training.engine import TrainConfig


def test_a_few_steps_from_magenta_bear_lower_the_loss_of_shared_bears(mirror, data_dir, tmp_path):
    mirror(data_dir / "magenta")
    bears = tmp_path / "bears.npz"
    build_npz([data_dir / "quickdraw" / "simplified" / "bear.ndjson"], bears, valid_fraction=0, test_fraction=0,
              limit=8)
    drawings = load_splits(str(bears), 10**9).train
    labels = np.zeros(len(drawings), dtype=np.int64)
    published = SketchRNN.from_pretrained("magenta:bear")
    before = sketch_rnn_test_losses(published, drawings, labels)["l_r"]
    # The flags a user gives with --init: training settings only; the sizes given here must not matter.
    config = SketchRNNConfig(dec_hidden=64, num_mixture=5, batch_size=8, learning_rate=1e-4, random_scale_factor=0,
                             augment_stroke_prob=0)
    tuned = train_sketch_rnn(str(bears), config, TrainConfig(out_dir=str(tmp_path / "run"), steps=6, device="cpu",
                                                             eval_every=0, image_every=0, tensorboard=False,
                                                             progress=False),
                             init="magenta:bear")
    for name in ("dec_hidden", "num_mixture", "max_seq_len", "scale_factor", "cell", "conditional"):
        assert getattr(tuned.config, name) == getattr(published.config, name), name
    assert (tuned.config.learning_rate, tuned.config.batch_size) == (1e-4, 8)
    after = sketch_rnn_test_losses(tuned.eval(), drawings, labels)["l_r"]
    assert after < before - 0.02, (before, after)
    # it started from the published weights: six small steps moved them only a little
    drift = max((a - b).abs().max().item() for a, b in zip(tuned.state_dict().values(),
                                                          published.state_dict().values()))
    assert 0 < drift < 0.01
    reloaded = SketchRNN.from_pretrained(tmp_path / "run")
    torch.testing.assert_close(reloaded.head.weight, tuned.head.weight)
