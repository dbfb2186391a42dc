"""A small CNN that classifies rasterized sketches: the judge behind the evaluation metrics (sketchlab.metrics).

Input: bitmaps `(B, 1, S, S)` from `data.raster` (ink bright, `value_range` of the config). Architecture: for each
width a 3x3 conv + BatchNorm + ReLU + 2x2 max-pool, then an adaptive average pool to `pool` x `pool`, a fully
connected penultimate layer (`features`, the embedding the Fréchet distance uses) and the logits.

It follows the engine contract of docs/conventions.md, so `training.engine.Trainer` trains it; batches are
`{"images": FloatTensor (B, 1, S, S), "labels": LongTensor (B,)}` (`data.raster.ImageBatches`). The rendering settings
are part of the config, so `classify(drawings)` renders stroke-3 drawings exactly as the training images were, and
`classify_images` takes a pixel model's 64x64 outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchlab.errors import ConfigError, DataError
from sketchlab.models.pretrained import Pretrained


@dataclass
class ClassifierConfig:
    num_classes: int = 2
    class_names: list[str] | None = None
    image_size: int = 28
    line_width: float = 1.5  # rendering, in pixels of the image_size canvas
    margin: float = 0.05  # rendering: fraction of the side left blank on every side
    value_range: str = "[-1,1]"  # as data.raster.RasterSketchDataset
    widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    pool: int = 2  # spatial size kept before the penultimate layer
    feature_dim: int = 128  # width of the penultimate layer
    dropout: float = 0.2
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 64

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) naming the first absurd setting."""
        for name in ("num_classes", "image_size", "pool", "feature_dim", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if not self.widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.widths):
            raise ConfigError(f"widths must be a non-empty list of positive integers, got {self.widths!r}")
        if self.image_size < 2 ** len(self.widths):
            raise ConfigError(f"image_size {self.image_size} is too small for {len(self.widths)} pooling layers")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ConfigError(f"{len(self.class_names)} class names for {self.num_classes} classes")
        if self.value_range not in ("[-1,1]", "[0,1]"):
            raise ConfigError(f"value_range must be [-1,1] or [0,1], got {self.value_range!r}")
        for name, holds, meaning in (("lr", lambda v: v > 0, "positive"), ("line_width", lambda v: v > 0, "positive"),
                                     ("weight_decay", lambda v: v >= 0, ">= 0"),
                                     ("dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
                                     ("margin", lambda v: 0 <= v < 0.5, "in [0, 0.5)")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not holds(value):
                raise ConfigError(f"{name} must be {meaning}, got {value!r}")


def raster_set(drawings: Sequence, labels, config: ClassifierConfig):
    """Drawings rendered as a classifier of `config` sees them: its training set and everything it judges."""
    from sketchlab.data.raster import RasterSketchDataset  # the network itself knows nothing about strokes

    return RasterSketchDataset(list(drawings), labels, size=config.image_size, line_width=config.line_width,
                               margin=config.margin, value_range=config.value_range, class_names=config.class_names)


class SketchClassifier(Pretrained, nn.Module):
    """Rasterized sketch -> class logits; its penultimate layer is the feature space of the metrics."""

    model_name = "sketch-classifier"
    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        layers: list[nn.Module] = []
        channels = 1
        for width in config.widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        layers.append(nn.AdaptiveAvgPool2d(config.pool))
        self.conv = nn.Sequential(*layers)
        self.penultimate = nn.Linear(channels * config.pool**2, config.feature_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    # ------------------------------------------------------------------ forward

    def features(self, images: Tensor) -> Tensor:
        """Penultimate-layer activations (B, feature_dim): the embedding for Fréchet distance and coverage."""
        return F.relu(self.penultimate(self.conv(images).flatten(1)))

    def forward(self, images: Tensor) -> Tensor:
        """Logits (B, num_classes)."""
        return self.head(self.dropout(self.features(images)))

    @torch.no_grad()
    def predict_proba(self, images: Tensor) -> Tensor:
        """Class probabilities (B, num_classes), in eval mode (the mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            return F.softmax(self(images), dim=-1)
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ engine contract

    def configure_optimizers(self) -> list[tuple[torch.optim.Optimizer, None]]:
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        return [(optimizer, None)]

    def training_step(self, batch: dict[str, Tensor], step: int, optimizer_idx: int = 0) -> dict[str, Tensor]:
        logits = self(batch["images"])
        loss = F.cross_entropy(logits, batch["labels"])
        accuracy = (logits.argmax(-1) == batch["labels"]).float().mean()
        return {"loss": loss, "accuracy": accuracy.detach()}

    @torch.no_grad()
    def evaluate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        logits = self(batch["images"])
        return {"loss": float(F.cross_entropy(logits, batch["labels"])),
                "accuracy": float((logits.argmax(-1) == batch["labels"]).float().mean())}

    def example_input(self) -> Tensor:
        size = self.config.image_size
        return self.head.weight.new_zeros(2, 1, size, size)

    # ------------------------------------------------------------------ drawings and other models' images in

    def images(self, drawings: Sequence) -> Tensor:
        """Stroke-3 drawings rendered exactly as this classifier's training images were (on its device)."""
        rendered = raster_set(drawings, np.zeros(len(drawings), np.int64), self.config)
        return rendered.images(slice(None)).to(self.head.weight.device)

    def prepare_images(self, images: Tensor, source_line_width: float | None = 2.0) -> Tensor:
        """Another model's images (N, C, H, W) in [-1, 1], ink bright (a pixel model's output) as this classifier's
        input: channels averaged to gray, resized to `image_size` by area averaging, mapped to `value_range`.

        Shrinking thins the lines: strokes `source_line_width` pixels wide in the source (2, the rasterizer's
        default, for models trained on rasterized sketches) end up narrower than the classifier's `line_width`,
        a shift in its features that has nothing to do with the drawings (a Fréchet distance of hundreds between
        the same drawings). Their ink is scaled by the ratio of the widths to undo it; None leaves it as it is.
        """
        if images.ndim != 4:
            raise DataError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
        ink = (images.to(self.head.weight.device, torch.float32).mean(dim=1, keepdim=True) + 1) / 2
        size = self.config.image_size
        if ink.shape[-2:] != (size, size):
            shrink = size / ink.shape[-1]
            ink = F.interpolate(ink, size=(size, size), mode="area")
            if source_line_width is not None:
                ink = (ink * self.config.line_width / (source_line_width * shrink)).clamp(0, 1)
        return ink * 2 - 1 if self.config.value_range == "[-1,1]" else ink

    @torch.no_grad()
    def classify(self, drawings: Sequence, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, num_classes) float64 of stroke-3 drawings."""
        return self._batched(drawings, self.images, self.predict_proba, batch_size, self.config.num_classes)

    @torch.no_grad()
    def embed(self, drawings: Sequence, batch_size: int = 256) -> np.ndarray:
        """Penultimate features (N, feature_dim) float64 of stroke-3 drawings."""
        return self._batched(drawings, self.images, self._eval_features, batch_size, self.config.feature_dim)

    @torch.no_grad()
    def classify_images(self, images: Tensor, batch_size: int = 256,
                        source_line_width: float | None = 2.0) -> np.ndarray:
        """Class probabilities (N, num_classes) of images as `prepare_images` takes them (lines
        `source_line_width` pixels wide)."""
        prepare = partial(self.prepare_images, source_line_width=source_line_width)
        return self._batched(images, prepare, self.predict_proba, batch_size, self.config.num_classes)

    @torch.no_grad()
    def embed_images(self, images: Tensor, batch_size: int = 256,
                     source_line_width: float | None = 2.0) -> np.ndarray:
        """Penultimate features (N, feature_dim) of images as `prepare_images` takes them."""
        prepare = partial(self.prepare_images, source_line_width=source_line_width)
        return self._batched(images, prepare, self._eval_features, batch_size, self.config.feature_dim)

    def _eval_features(self, images: Tensor) -> Tensor:
        was_training = self.training
        self.eval()
        try:
            return self.features(images)
        finally:
            self.train(was_training)

    @staticmethod
    def _batched(items, prepare, fn, batch_size: int, width: int) -> np.ndarray:
        parts = [fn(prepare(items[lo : lo + batch_size])).double().cpu().numpy()
                 for lo in range(0, len(items), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, width))
