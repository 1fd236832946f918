"""Exact search equals a brute-force NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from latentatlas.errors import UsageError
from latentatlas.index import exact_search


@pytest.mark.parametrize("metric, scipy_metric", [("l2", "euclidean"), ("cosine", "cosine")])
def test_matches_brute_force(metric, scipy_metric, rng):
    matrix = rng.normal(size=(500, 12)).astype(np.float32)
    query = rng.normal(size=12).astype(np.float32)
    rows, distances = exact_search(matrix, query, 10, metric)
    reference = cdist(query[None].astype(np.float64), matrix.astype(np.float64), scipy_metric)[0]
    expected = np.argsort(reference, kind="stable")[:10]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(distances, reference[expected], rtol=1e-4, atol=1e-5)


def test_a_stored_vector_is_its_own_nearest_at_zero():
    matrix = np.random.default_rng(1).normal(size=(100, 8)).astype(np.float32) * 100
    rows, distances = exact_search(matrix, matrix[42], 3)
    assert rows[0] == 42 and distances[0] == 0.0 and np.all(np.diff(distances) >= 0)


def test_ties_go_to_the_lower_row_and_k_is_capped():
    matrix = np.zeros((5, 2), np.float32)
    rows, distances = exact_search(matrix, np.zeros(2), 10)
    assert rows.tolist() == [0, 1, 2, 3, 4] and distances.tolist() == [0.0] * 5
    assert exact_search(np.empty((0, 2), np.float32), np.zeros(2), 3)[0].size == 0


def test_unknown_metric():
    with pytest.raises(UsageError, match="metric must be one of l2, sqeuclidean, cosine, ip"):
        exact_search(np.zeros((2, 2), np.float32), np.zeros(2), 1, "manhattan")
