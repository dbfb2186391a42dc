"""Models: each an nn.Module following the engine contract of docs/conventions.md, registered by name in MODELS."""

import torch

# Saturated LSTM gates produce denormal floats; on CPU they make every step 3-5x slower and erratic. Set here, where
# every model comes from, rather than on `import sketchlab`, which stays light (the command line's help needs no torch).
torch.set_flush_denormal(True)

from sketchlab.models.began import BEGAN, BEGANConfig  # noqa: E402
from sketchlab.models.dcgan import DCGAN, DCGANConfig  # noqa: E402
from sketchlab.models.sketch_rnn import MixtureParams, SketchRNN, SketchRNNConfig, mixture_log_prob  # noqa: E402
from sketchlab.models.wae import WAE, WAEConfig  # noqa: E402

MODELS = {"sketch-rnn": SketchRNN, "dcgan": DCGAN, "wae": WAE, "began": BEGAN}

__all__ = [
    "BEGAN", "DCGAN", "MODELS", "WAE", "BEGANConfig", "DCGANConfig", "MixtureParams", "SketchRNN", "SketchRNNConfig",
    "WAEConfig", "mixture_log_prob",
]
