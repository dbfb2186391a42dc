"""The training engine every sketchlab model uses, and its checkpoints."""

from sketchlab.training.checkpoint import load_checkpoint, save_checkpoint
from sketchlab.training.engine import Trainer, TrainConfig, TrainingError

__all__ = ["TrainConfig", "Trainer", "TrainingError", "load_checkpoint", "save_checkpoint"]
