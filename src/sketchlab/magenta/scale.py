"""Which size of drawing an imported model expects: the likelihood of real drawings, in the drawings' own units,
as they are magnified by a range of factors.

A model scores offsets in its own units u = k x / S (x the drawing's offsets, k the magnification tried, S the
file's scale factor), so a density over x carries the Jacobian (k / S)^2 per point: log p(x) = log p(u) +
2 log(k / S). Without it a larger k would always look better (the offsets shrink towards the mixture's peaks).
The pen states do not depend on k. The k that maximises the mean log-likelihood per drawing is the size the model
was trained on, relative to the drawings given; docs/magenta.md has the measurement behind `format.PIXEL_FACTOR`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sketchlab.data.datasets import StrokeDataset, make_batch
from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN, mixture_log_prob


@torch.no_grad()
def log_likelihoods(model: SketchRNN, drawings: list[np.ndarray], magnification: float) -> np.ndarray:
    """Each drawing's log-likelihood (nats, offsets in the drawing's units) after magnifying it by `magnification`:
    the offsets' log densities with their Jacobian plus the pen states' log probabilities, over its real rows."""
    if model.config.conditional:
        raise DataError("the likelihood of a conditional model needs a latent code: give an unconditional one")
    units = magnification / model.config.scale_factor  # model units per drawing unit
    magnified = [np.concatenate([d[:, :2] * magnification, d[:, 2:]], axis=1) for d in drawings]
    data = StrokeDataset(magnified, np.zeros(len(drawings), dtype=np.int64), model.config.max_seq_len,
                         model.config.scale_factor)
    batch = make_batch(data.strokes, data.lengths, data.labels)
    strokes, lengths = batch["strokes"], batch["lengths"]
    params = model.split_params(model(strokes, lengths))
    targets = strokes[:, 1:]
    real = torch.arange(targets.shape[1]) < lengths.unsqueeze(1)
    offsets = mixture_log_prob(params, targets[..., 0], targets[..., 1]) + 2 * math.log(units)
    pens = (torch.log_softmax(params.pen_logits, dim=-1) * targets[..., 2:]).sum(-1)
    return torch.where(real, offsets + pens, 0.0).sum(1).numpy()
