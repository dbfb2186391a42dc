"""Distances between two sets of feature vectors (e.g. a classifier's penultimate features of real and generated
sketches): the Fréchet distance of FID, and k-NN manifold precision / recall (Kynkäänniemi et al. 2019).

Features are arrays `(N, D)`; a 1-D array `(N,)` is taken as N one-dimensional features.
"""

from __future__ import annotations

import warnings

import numpy as np

from sketchlab.errors import SketchlabError

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_from_statistics", "precision_recall"]


class MetricError(SketchlabError, ValueError):
    """Features that a metric cannot use: too few, of different widths, not finite."""


def _as_features(feats, what: str, minimum: int = 2) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise MetricError(f"{what} must be an (N, D) array of features, got shape {x.shape}")
    if len(x) < minimum:
        raise MetricError(f"{what} needs at least {minimum} feature vectors, got {len(x)}")
    if not np.isfinite(x).all():
        raise MetricError(f"{what} contains NaN or infinite values")
    return x


def feature_statistics(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), N >= 2."""
    x = _as_features(feats, "features")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)): the Fréchet (2-Wasserstein) distance of two Gaussians.

    The matrix square root is scipy.linalg.sqrtm; a singular product gets `eps` added to the diagonals (as
    pytorch-fid does), and the numerical noise of an imaginary part is discarded.
    """
    try:
        from scipy import linalg
    except ImportError as error:  # pragma: no cover - scipy is a dependency of the metrics
        raise MetricError("the Fréchet distance needs scipy: pip install scipy") from error
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise MetricError(f"feature statistics of different shapes: {mu1.shape}/{sigma1.shape} "
                          f"and {mu2.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # Fewer samples than feature dimensions make the product singular; its square root is still right.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(len(mu1)) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.abs(covmean).max()))
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * scale):
            raise MetricError(f"the covariance square root has an imaginary part of "
                              f"{np.abs(covmean.imag).max():.3g}: too few samples for the feature width?")
        covmean = covmean.real
    distance = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    return max(distance, 0.0)  # rounding can leave -1e-12 for identical sets


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N_a, D) and (N_b, D) (FID's formula)."""
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"features of different widths: {a.shape[1]} and {b.shape[1]}")
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b), eps=eps)


def _kth_neighbour_radii(x: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Distance of each row to its k-th nearest other row."""
    radii = np.empty(len(x))
    for lo in range(0, len(x), chunk):
        d = _distances(x[lo : lo + chunk], x)
        radii[lo : lo + chunk] = np.partition(d, k, axis=1)[:, k]  # column 0 of the sorted row is the point itself
    return radii


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0))


def _coverage(manifold: np.ndarray, radii: np.ndarray, queries: np.ndarray, chunk: int) -> float:
    """Fraction of `queries` inside at least one ball (centre a manifold point, radius its k-NN distance)."""
    inside = np.empty(len(queries), dtype=bool)
    for lo in range(0, len(queries), chunk):
        inside[lo : lo + chunk] = (_distances(queries[lo : lo + chunk], manifold) <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(real, fake, k: int = 3, chunk: int = 1024) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of `fake` features against `real` ones.

    Each set's manifold is the union of balls around its points reaching their k-th nearest neighbour; precision
    is the fraction of fake points inside the real manifold (fidelity), recall the fraction of real points inside
    the fake manifold (diversity). Needs more than k points in each set.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MetricError(f"k must be a positive integer, got {k!r}")
    real, fake = _as_features(real, "real", k + 1), _as_features(fake, "fake", k + 1)
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"features of different widths: {real.shape[1]} and {fake.shape[1]}")
    real_radii, fake_radii = _kth_neighbour_radii(real, k, chunk), _kth_neighbour_radii(fake, k, chunk)
    return {"precision": _coverage(real, real_radii, fake, chunk), "recall": _coverage(fake, fake_radii, real, chunk)}
