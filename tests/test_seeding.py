"""Greedy k-means++ seeding: the seeds of a plain float64 computation, one seed per planted cluster."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.cluster import seeding
from latentatlas.cluster.seeding import kmeans_plusplus


def reference_seeds(X: np.ndarray, k: int, rng: np.random.RandomState) -> np.ndarray:
    """Indices of scikit-learn's greedy k-means++, written plainly in float64 (same draws)."""
    X = X.astype(np.float64)
    trials = 2 + int(np.log(k))
    chosen = [rng.randint(len(X))]
    closest = ((X - X[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(1, k):
        cumulative = np.cumsum(closest)
        candidates = np.minimum(np.searchsorted(cumulative, rng.uniform(size=trials) * cumulative[-1]), len(X) - 1)
        distances = np.minimum(closest[:, None], ((X[:, None, :] - X[candidates][None]) ** 2).sum(axis=2))
        best = int(np.argmin(distances.sum(axis=0)))
        closest = distances[:, best]
        chosen.append(int(candidates[best]))
    return np.array(chosen)


@pytest.mark.parametrize("n", [500, 3 * seeding._BLOCK + 123])  # one block; several blocks, the last partial
def test_seeds_are_those_of_the_plain_computation(rng, n):
    X = rng.normal(size=(n, 5)).astype(np.float32) * rng.uniform(0.5, 3.0, size=5).astype(np.float32)
    seeds = kmeans_plusplus(X, 12, np.random.RandomState(7))
    expected = reference_seeds(X, 12, np.random.RandomState(7))
    assert seeds.dtype == np.float32 and seeds.shape == (12, 5)
    np.testing.assert_array_equal(seeds, X[expected])


def test_one_seed_in_each_planted_cluster(rng):
    centres = rng.normal(size=(8, 16)) * 50.0
    truth = rng.integers(8, size=4000)
    X = (centres[truth] + rng.normal(size=(4000, 16))).astype(np.float32)
    seeds = kmeans_plusplus(X, 8, np.random.RandomState(0))
    nearest = ((seeds[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert sorted(nearest) == list(range(8))


def test_duplicate_rows_never_give_a_negative_weight():
    X = np.repeat(np.arange(6, dtype=np.float32)[:, None] * [1.0, 2.0], 50, axis=0).astype(np.float32) + 1e3
    seeds = kmeans_plusplus(X, 6, np.random.RandomState(1))
    assert len(np.unique(seeds, axis=0)) == 6  # every distinct point, once
