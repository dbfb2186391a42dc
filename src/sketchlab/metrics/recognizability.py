"""How recognizable a generative model's drawings are to a classifier.

Reconstruction protocol: each test drawing is encoded and decoded at several temperatures (0.1 ... 1.0 by
default); every output is classified and the highest probability of the drawing's true class is kept. Reported:
the mean and variance of those kept probabilities, the fraction of drawings whose kept output is classified as
the true class (arg-max), and a histogram over the bins <0.5, 0.5-0.6, ..., 0.9-1.0.

The functions take callables, so any model and classifier fit (and tests can pass a perfect decoder):
`decode_fn(drawings, temperature) -> drawings` (same count and order) and `classify_fn(drawings) -> (N, C)`
probabilities. `sketch_rnn_decode_fn` and `classifier_fn` make them from sketchlab models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sketchlab.metrics.frechet import MetricError

__all__ = [
    "BIN_EDGES", "BIN_LABELS", "DEFAULT_TEMPERATURES", "classifier_fn", "reconstruction_recognizability",
    "sample_recognizability", "sketch_rnn_decode_fn", "summarize_probabilities", "target_recognizability",
]

DEFAULT_TEMPERATURES = tuple(round(0.1 * i, 1) for i in range(1, 11))
BIN_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
BIN_LABELS = ("<0.5", "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1.0")

DecodeFn = Callable[[list, float], Sequence]
ClassifyFn = Callable[[list], np.ndarray]


def _probabilities(classify_fn: ClassifyFn, drawings: list, what: str) -> np.ndarray:
    probs = np.asarray(classify_fn(drawings), dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(drawings):
        raise MetricError(f"classify_fn must return ({len(drawings)}, C) probabilities for {what}, "
                          f"got shape {probs.shape}")
    return probs


def histogram(values: np.ndarray) -> dict[str, int]:
    """Counts per bin of BIN_LABELS: [0, 0.5), [0.5, 0.6), ..., [0.9, 1.0] (1.0 falls into the last bin)."""
    index = np.clip(np.searchsorted(BIN_EDGES, values, side="right") - 1, 0, len(BIN_LABELS) - 1)
    counts = np.bincount(index, minlength=len(BIN_LABELS))
    return {label: int(count) for label, count in zip(BIN_LABELS, counts)}


def summarize_probabilities(probs: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Mean, variance, fraction correct and histogram of per-drawing correct-class probabilities."""
    probs, correct = np.asarray(probs, np.float64), np.asarray(correct, bool)
    n = len(probs)
    return {
        "count": n,
        "mean": float(probs.mean()) if n else float("nan"),
        "variance": float(probs.var()) if n else float("nan"),
        "fraction_correct": float(correct.mean()) if n else float("nan"),
        "histogram": histogram(probs),
    }


def reconstruction_recognizability(decode_fn: DecodeFn, classify_fn: ClassifyFn, drawings: Sequence, labels,
                                   temperatures: Sequence[float] = DEFAULT_TEMPERATURES) -> dict[str, Any]:
    """The reconstruction protocol (see the module): decode every drawing at every temperature, keep per drawing
    the output with the highest true-class probability.

    Returns `summarize_probabilities` of the kept probabilities (mean, variance, fraction_correct, histogram,
    count) plus per-drawing arrays `best_prob` (N,), `best_temperature` (N,) and `correct` (N,), the
    `temperatures` used and `by_temperature` (each temperature's mean true-class probability and fraction
    classified correctly, before keeping the best). Ties keep the lowest temperature.
    """
    drawings = list(drawings)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != len(drawings):
        raise MetricError(f"{len(drawings)} drawings but {len(labels)} labels")
    temperatures = [float(t) for t in temperatures]
    if not temperatures:
        raise MetricError("no temperatures given")
    rows = np.arange(len(drawings))
    best = np.full(len(drawings), -np.inf)
    best_temperature = np.full(len(drawings), np.nan)
    correct = np.zeros(len(drawings), dtype=bool)
    by_temperature = {}
    for temperature in temperatures:
        outputs = list(decode_fn(drawings, temperature))
        if len(outputs) != len(drawings):
            raise MetricError(f"decode_fn returned {len(outputs)} drawings for {len(drawings)}")
        probs = _probabilities(classify_fn, outputs, f"temperature {temperature}")
        if len(drawings) and labels.max() >= probs.shape[1]:
            raise MetricError(f"label {labels.max()} but the classifier knows {probs.shape[1]} classes")
        true = probs[rows, labels]
        right = probs.argmax(axis=1) == labels
        by_temperature[temperature] = {"mean": float(true.mean()) if len(true) else float("nan"),
                                       "fraction_correct": float(right.mean()) if len(right) else float("nan")}
        better = true > best
        best[better], best_temperature[better], correct[better] = true[better], temperature, right[better]
    return {**summarize_probabilities(best, correct), "best_prob": best, "best_temperature": best_temperature,
            "correct": correct, "temperatures": temperatures, "by_temperature": by_temperature}


def target_recognizability(probs: np.ndarray, targets: Sequence[int]) -> dict[str, Any]:
    """How much of each drawing's class probability lies on the `targets` classes (the categories a model was
    trained on), summarised; a drawing counts as correct when its most probable class is one of them."""
    probs = np.asarray(probs, dtype=np.float64)
    targets = np.unique(np.asarray(targets, dtype=np.int64))
    if len(targets) == 0:
        raise MetricError("no target classes given")
    if probs.ndim != 2 or targets.min() < 0 or targets.max() >= probs.shape[1]:
        raise MetricError(f"target classes {targets.tolist()} do not fit probabilities of shape {probs.shape}")
    return summarize_probabilities(probs[:, targets].sum(axis=1), np.isin(probs.argmax(axis=1), targets))


def sample_recognizability(samples_by_temperature: Mapping[float, Sequence], classify_fn: ClassifyFn,
                           targets: Sequence[int]) -> dict[float, dict[str, Any]]:
    """For unconditional samples: per temperature, `target_recognizability` of the samples (the fraction classified
    as the trained category, or one of the trained categories)."""
    return {float(temperature): target_recognizability(
                _probabilities(classify_fn, list(samples), f"temperature {temperature}"), targets)
            for temperature, samples in samples_by_temperature.items()}


# ---------------------------------------------------------------------- adapters for sketchlab models


def sketch_rnn_decode_fn(model, seed: int | None = 0) -> DecodeFn:
    """`decode_fn` of a Sketch-RNN: encode each drawing, decode it at the temperature (seeded, reproducible)."""

    def decode(drawings: list, temperature: float) -> list:
        return [row[0] for row in model.reconstruct(drawings, [temperature], seed=seed)]

    return decode


def classifier_fn(classifier, batch_size: int = 256) -> ClassifyFn:
    """`classify_fn` of a SketchClassifier: stroke-3 drawings -> probabilities (N, C)."""

    def classify(drawings: list) -> np.ndarray:
        return classifier.classify(drawings, batch_size=batch_size)

    return classify
