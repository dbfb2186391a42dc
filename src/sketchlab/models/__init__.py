"""Models: each an nn.Module following the engine contract of docs/conventions.md, registered by name in MODELS."""

from sketchlab.models.sketch_rnn import MixtureParams, SketchRNN, SketchRNNConfig, mixture_log_prob

MODELS = {"sketch-rnn": SketchRNN}

__all__ = ["MODELS", "MixtureParams", "SketchRNN", "SketchRNNConfig", "mixture_log_prob"]
