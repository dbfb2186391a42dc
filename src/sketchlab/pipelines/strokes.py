"""Sketch-RNN's verbs as Python functions (the CLI and the studio call these): read stroke data, train, load a
model, pick drawings and their first strokes."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from sketchlab.data.datasets import StrokeBatches, StrokeDataset, iter_batches
from sketchlab.data.npz import StrokeSplits, load_stroke_splits
from sketchlab.data.sources import resolve_data
from sketchlab.data.strokes import scale_factor
from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN, SketchRNNConfig
from sketchlab.training.engine import Trainer, TrainConfig, check_out_dir, seed_everything

log = logging.getLogger("sketchlab")
SPLITS = ("train", "valid", "test")


def load_splits(data: str, max_len: int) -> StrokeSplits:
    """Read the `--data` files, dropping (and reporting) drawings the model cannot use."""
    splits, report = load_stroke_splits(resolve_data(data), max_len)
    if report.skipped:
        log.warning("%s", report)
    if not splits.train:
        raise DataError(f"no usable training drawings in {data}")
    return splits


# What fine-tuning keeps of the model it starts from: its architecture, and the scale its weights were trained at
# (a published Magenta model's scale, or the data's of a sketchlab run), which new data must be read in.
INIT_KEEPS = ("enc_hidden", "dec_hidden", "z_size", "num_mixture", "max_seq_len", "cell", "conditional",
              "hyper_hidden", "hyper_embedding", "scale_factor")


def train_sketch_rnn(data: str, model_config: SketchRNNConfig, train_config: TrainConfig,
                     init: str | Path | None = None) -> SketchRNN:
    """Train (or, with `train_config.resume`, continue training) a Sketch-RNN on stroke-3 data.

    With `init` (a model folder, a zoo name or `magenta:NAME`) the model starts from that model's weights and keeps
    its `INIT_KEEPS` settings; `model_config` then gives only the training settings (learning rate, batch, ...).
    """
    train_config.validate()
    check_out_dir(train_config)  # before the data is read: a run it would overwrite is refused at once
    start = None if init is None else load_model(init)
    if start is not None:
        model_config = dataclasses.replace(model_config, **{key: getattr(start.config, key) for key in INIT_KEEPS})
    model_config.validate()
    splits = load_splits(data, model_config.max_seq_len)
    if start is None:
        # The scale factor is a property of the training data, stored with the model to undo it when drawing.
        model_config = dataclasses.replace(model_config, scale_factor=scale_factor(splits.train))
    seed_everything(train_config.seed)  # the initial weights depend on the seed alone
    model = SketchRNN(model_config)
    if start is not None:
        model.load_state_dict(start.state_dict())
    factor = model_config.scale_factor
    train_set = StrokeDataset(splits.train, splits.train_labels, model_config.max_seq_len, factor)
    valid_set = StrokeDataset(splits.valid, splits.valid_labels, model_config.max_seq_len, factor)
    batches = StrokeBatches(
        train_set, model_config.batch_size, seed=train_config.seed,
        random_scale_factor=model_config.random_scale_factor,
        augment_stroke_prob=model_config.augment_stroke_prob, bucket_pool=model_config.bucket_pool,
    )
    validation = (lambda: iter_batches(valid_set, model_config.batch_size)) if len(valid_set) else None
    Trainer(model, batches, validation, train_config).fit()
    return model


def load_model(path: str | Path, device: str = "cpu") -> SketchRNN:
    """A trained Sketch-RNN from a model folder (`best/` or `last/` of a run, or the run folder itself) or a zoo name."""
    return SketchRNN.from_pretrained(path, map_location=device)


def pick_drawings(data: str, indices: list[int], split: str = "test", max_len: int | None = None) -> list[np.ndarray]:
    """Drawings by index from one split of the `--data` files (all files' drawings in order)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    drawings = getattr(load_splits(data, max_len or 10**9), split)
    for i in indices:
        if not -len(drawings) <= i < len(drawings):
            raise DataError(f"index {i} is out of range: the {split} split has {len(drawings)} drawings")
    return [drawings[i] for i in indices]


def first_strokes(drawing: np.ndarray, keep: float) -> np.ndarray:
    """The beginning of a drawing: its first strokes, `keep` of them as a fraction (at least one)."""
    if not 0 < keep <= 1:
        raise DataError(f"--keep must be in (0, 1], got {keep}")
    ends = np.flatnonzero(drawing[:, 2] == 1)
    if len(ends) == 0:
        return drawing
    strokes = max(1, int(round(keep * len(ends))))
    return drawing[: ends[strokes - 1] + 1]
