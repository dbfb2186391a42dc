"""Fréchet distance and precision/recall: hand computations, the zero of a set with itself, and growth with damage."""

import numpy as np
import pytest

from sketchlab.metrics import MetricError, frechet_distance, precision_recall


def test_one_dimensional_gaussians_by_hand():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, 500), rng.normal(-0.5, 0.5, 400)
    # For 1-D Gaussians the distance is (m1 - m2)^2 + (s1 - s2)^2 (sample statistics, unbiased variances).
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_diagonal_covariances_by_hand():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (2000, 3)) * [1.0, 2.0, 0.5]
    b = rng.normal(0, 1, (2000, 3)) * [3.0, 1.0, 0.5] + [1, 0, 2]
    # Independent coordinates: the distance is the sum of the 1-D distances (up to the tiny sample correlations).
    expected = sum((a[:, i].mean() - b[:, i].mean()) ** 2 + (a[:, i].std(ddof=1) - b[:, i].std(ddof=1)) ** 2
                   for i in range(3))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_a_set_with_itself_is_zero_and_damage_makes_it_grow(shape_classifier, shape_splits):
    """In real classifier features: ~0 for the same drawings, then larger the more the drawings are jittered."""
    model, _ = shape_classifier
    drawings = shape_splits.train
    features = model.embed(drawings)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    distances = []
    for noise in (0.1, 0.4, 1.2):
        damaged = []
        for d in drawings:
            d = d.copy()
            d[:, :2] += rng.normal(0, noise * np.abs(d[:, :2]).mean(), size=d[:, :2].shape)
            damaged.append(d)
        distances.append(frechet_distance(features, model.embed(damaged)))
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_precision_recall_by_hand():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    # k = 1: each real point's ball reaches its nearest neighbour, radius 1, so the real manifold is [-1, 4].
    fake = np.array([[0.5], [3.9], [10.0], [11.0]])
    result = precision_recall(real, fake, k=1)
    assert result["precision"] == pytest.approx(0.5)  # 0.5 and 3.9 are inside, 10 and 11 are not
    # Fake balls: 0.5 (radius 3.4 to 3.9), 3.9 (radius 3.4), 10 and 11 (radius 1): every real point is covered.
    assert result["recall"] == pytest.approx(1.0)
    same = precision_recall(real, real, k=1)
    assert same == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(real, real + 100, k=1)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_bad_features_are_refused():
    with pytest.raises(MetricError, match="widths"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(MetricError, match="NaN"):
        frechet_distance(np.array([[0.0], [np.nan]]), np.zeros((3, 1)))
    with pytest.raises(MetricError, match="at least"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(MetricError, match="at least"):
        precision_recall(np.zeros((3, 2)), np.zeros((5, 2)), k=3)
