"""Evaluation metrics for generated sketches: feature-set distances and classifier recognizability."""

from sketchlab.metrics.frechet import (
    MetricError,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
    precision_recall,
)
from sketchlab.metrics.recognizability import (
    DEFAULT_TEMPERATURES,
    classifier_fn,
    reconstruction_recognizability,
    sample_recognizability,
    sketch_rnn_decode_fn,
    target_recognizability,
)

__all__ = [
    "DEFAULT_TEMPERATURES", "MetricError", "classifier_fn", "feature_statistics", "frechet_distance",
    "frechet_distance_from_statistics", "precision_recall", "reconstruction_recognizability",
    "sample_recognizability", "sketch_rnn_decode_fn", "target_recognizability",
]
