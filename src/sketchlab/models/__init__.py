"""Models: each an nn.Module following the engine contract of docs/conventions.md, registered by name in MODELS."""

from sketchlab.models.began import BEGAN, BEGANConfig
from sketchlab.models.dcgan import DCGAN, DCGANConfig
from sketchlab.models.sketch_rnn import MixtureParams, SketchRNN, SketchRNNConfig, mixture_log_prob
from sketchlab.models.wae import WAE, WAEConfig

MODELS = {"sketch-rnn": SketchRNN, "dcgan": DCGAN, "wae": WAE, "began": BEGAN}

__all__ = [
    "BEGAN", "DCGAN", "MODELS", "WAE", "BEGANConfig", "DCGANConfig", "MixtureParams", "SketchRNN", "SketchRNNConfig",
    "WAEConfig", "mixture_log_prob",
]
