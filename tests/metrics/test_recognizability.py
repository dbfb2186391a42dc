"""The recognizability protocol: a perfect decoder scores what the classifier gives the inputs; hand-made cases."""

import numpy as np
import pytest

from sketchlab.metrics import (
    MetricError,
    classifier_fn,
    reconstruction_recognizability,
    sample_recognizability,
    target_recognizability,
)
from sketchlab.metrics.recognizability import histogram


def test_a_perfect_decoder_scores_what_the_classifier_gives_the_inputs(shape_classifier, shape_splits):
    model, _ = shape_classifier
    drawings, labels = shape_splits.test, shape_splits.test_labels
    result = reconstruction_recognizability(lambda d, t: d, classifier_fn(model), drawings, labels)
    probs = model.classify(drawings)
    true = probs[np.arange(len(labels)), labels]
    assert result["mean"] == pytest.approx(true.mean())
    assert result["variance"] == pytest.approx(true.var())
    assert result["fraction_correct"] == pytest.approx((probs.argmax(1) == labels).mean())
    assert sum(result["histogram"].values()) == len(drawings)
    assert (result["best_temperature"] == 0.1).all()  # every temperature ties: the lowest is kept
    assert set(result["by_temperature"]) == set(result["temperatures"])


def test_the_best_temperature_per_drawing_is_kept():
    # Two drawings (labels 0 and 1) in two classes; the "decoder" tags each output with its temperature.
    table = {0.2: [[0.3, 0.7], [0.4, 0.6]], 0.6: [[0.8, 0.2], [0.9, 0.1]]}
    result = reconstruction_recognizability(
        lambda drawings, t: [t] * len(drawings), lambda outputs: np.array(table[outputs[0]]), ["a", "b"], [0, 1],
        temperatures=[0.2, 0.6])
    np.testing.assert_allclose(result["best_prob"], [0.8, 0.6])
    np.testing.assert_allclose(result["best_temperature"], [0.6, 0.2])
    np.testing.assert_array_equal(result["correct"], [True, True])
    assert result["mean"] == pytest.approx(0.7) and result["variance"] == pytest.approx(0.01)
    assert result["histogram"]["0.8-0.9"] == 1 and result["histogram"]["0.6-0.7"] == 1
    assert result["by_temperature"][0.2] == {"mean": pytest.approx(0.45), "fraction_correct": 0.5}


def test_histogram_bins():
    counts = histogram(np.array([0.0, 0.49, 0.5, 0.59, 0.6, 0.95, 1.0]))
    assert counts == {"<0.5": 2, "0.5-0.6": 2, "0.6-0.7": 1, "0.7-0.8": 0, "0.8-0.9": 0, "0.9-1.0": 2}


def test_samples_are_scored_against_the_trained_categories():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    one = target_recognizability(probs, [0])
    assert one["mean"] == pytest.approx(0.3) and one["fraction_correct"] == pytest.approx(1 / 3)
    two = target_recognizability(probs, [0, 1])  # a two-category model: either counts
    assert two["mean"] == pytest.approx((0.9 + 0.5 + 0.2) / 3) and two["fraction_correct"] == pytest.approx(1 / 3)
    per_t = sample_recognizability({0.5: ["x", "y", "z"]}, lambda s: probs, [2])
    assert per_t[0.5]["fraction_correct"] == pytest.approx(2 / 3)
    with pytest.raises(MetricError):
        target_recognizability(probs, [3])
    with pytest.raises(MetricError, match="decode_fn returned"):
        reconstruction_recognizability(lambda d, t: d[:1], lambda d: probs, ["a", "b"], [0, 1])
