"""Tiny randomly initialised Sketch-RNNs saved with save_pretrained, for the studio's API and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.pipelines.strokes import load_model

END_OF_SKETCH_LOGIT = 2  # index of p3 among the decoder's pen logits


def tiny_model(conditional: bool, seed: int = 0, max_seq_len: int = 60) -> SketchRNN:
    """A small random model that rarely stops early, so its drawings have strokes to look at."""
    torch.manual_seed(seed)
    config = SketchRNNConfig(enc_hidden=16, dec_hidden=32, z_size=8, num_mixture=3, max_seq_len=max_seq_len,
                             conditional=conditional, scale_factor=12.0)
    model = SketchRNN(config)
    with torch.no_grad():
        model.head.bias[END_OF_SKETCH_LOGIT] = -6.0
    return model


def save_tiny(folder: Path, conditional: bool, seed: int = 0, max_seq_len: int = 60) -> Path:
    tiny_model(conditional, seed, max_seq_len).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def save_tiny_model():
    """`save_tiny` for tests that need models of their own."""
    return save_tiny


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("studio-models")
    return {
        "tiny": save_tiny(root / "tiny", conditional=True),
        "decoder": save_tiny(root / "decoder", conditional=False, seed=1),
    }


@pytest.fixture(scope="session")
def models(model_dirs) -> dict[str, SketchRNN]:
    """The saved models loaded back as the server loads them (from_pretrained)."""
    return {name: load_model(path) for name, path in model_dirs.items()}
