"""Lloyd iterations with Hamerly's bounds compute what plain Lloyd iterations compute."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.cluster.lloyd import bounded_lloyd


def plain_lloyd(X: np.ndarray, centers: np.ndarray, iterations: int) -> np.ndarray:
    """The reference: every distance of every row, every iteration, in float64."""
    centers = centers.astype(np.float64)
    for _ in range(iterations):
        squared = ((X[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(axis=2)
        labels = squared.argmin(axis=1)
        counts = np.bincount(labels, minlength=len(centers))
        assert counts.all(), "the reference does not split empty clusters: choose data without them"
        centers = np.stack([X[labels == j].mean(axis=0) for j in range(len(centers))])
    return centers


@pytest.mark.parametrize("k, d, spread", [(12, 4, 1.0), (5, 16, 8.0), (1, 3, 1.0)])
def test_the_same_centres_as_plain_lloyd(rng, k, d, spread):
    X = (rng.normal(size=(1500, d)) + rng.normal(size=(6, d))[rng.integers(6, size=1500)] * spread).astype(np.float32)
    start = X[rng.choice(len(X), k, replace=False)]
    for iterations in (1, 3, 25):
        ours, n_iter = bounded_lloyd(X, start, iterations, 0.0, np.random.RandomState(0))
        assert 1 <= n_iter <= iterations and ours.dtype == np.float32  # fewer once the centres stand still
        np.testing.assert_allclose(ours, plain_lloyd(X, start, iterations), atol=1e-4)


def test_it_stops_when_the_centres_stop_moving(rng):
    X = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 50].astype(np.float32)
    centers, n_iter = bounded_lloyd(X, X[[0, 1]], 100, 1e-9, np.random.RandomState(0))
    assert n_iter < 10
    np.testing.assert_allclose(np.sort(centers[:, 0]), [X[:200, 0].mean(), X[200:, 0].mean()], atol=1e-4)


def test_an_empty_cluster_takes_half_of_a_large_one(rng):
    X = rng.normal(size=(300, 3)).astype(np.float32)
    far = np.array([[1000.0, 1000.0, 1000.0]], np.float32)  # no row is nearest to it
    centers, _ = bounded_lloyd(X, np.r_[X[:2], far], 5, 0.0, np.random.RandomState(0))
    assert np.abs(centers).max() < 10.0  # it moved into the data
    assert len(np.unique(centers.round(6), axis=0)) == 3
