"""sketchlab: teach machines to draw."""

import torch

# Saturated LSTM gates produce denormal floats; on CPU they make every step 3-5x slower and erratic.
torch.set_flush_denormal(True)

__version__ = "0.1.0"
