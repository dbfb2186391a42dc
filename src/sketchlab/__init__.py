"""sketchlab: teach machines to draw."""

import torch

# Saturated LSTM gates produce denormal floats; on CPU they make every step 3-5x slower and erratic.
torch.set_flush_denormal(True)

from sketchlab.models import SketchRNN, SketchRNNConfig  # noqa: E402 - after the flag, which must come first

__version__ = "0.1.0"
__all__ = ["SketchRNN", "SketchRNNConfig", "__version__"]
