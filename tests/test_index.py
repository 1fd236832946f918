"""Exact search equals a brute-force NumPy reference, for every metric, with and without filters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from latentatlas.errors import UsageError
from latentatlas.search.exact import METRICS, ExactIndex, exact_search, merge_neighbours


def _reference(matrix: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    x, q = matrix.astype(np.float64), np.atleast_2d(queries).astype(np.float64)
    if metric == "ip":
        return -(q @ x.T)
    return cdist(q, x, {"l2": "euclidean", "sqeuclidean": "sqeuclidean", "cosine": "cosine"}[metric])


def _expected(reference: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    if mask is not None:
        reference = np.where(mask, reference, np.inf)
    rows = np.argsort(reference, axis=1, kind="stable")[:, :min(k, reference.shape[1] if mask is None else mask.sum())]
    return rows, np.take_along_axis(reference, rows, 1)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("keep", [None, 0.6, 0.05])  # no filter, a broad mask, a selective one (gathered)
def test_matches_brute_force(metric, keep, rng):
    matrix = rng.normal(size=(5000, 12)).astype(np.float32)
    queries = rng.normal(size=(7, 12)).astype(np.float32)
    mask = None if keep is None else rng.random(len(matrix)) < keep
    rows, distances = ExactIndex(matrix).search(queries, 10, metric, mask)
    expected_rows, expected_distances = _expected(_reference(matrix, queries, metric), 10, mask)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-5)
    single_rows, single_distances = ExactIndex(matrix).search(queries[3], 10, metric, mask)
    np.testing.assert_array_equal(single_rows, rows[3])
    np.testing.assert_array_equal(single_distances, distances[3])


def test_float16_matches_brute_force_on_the_rounded_codes(rng):
    matrix = rng.normal(size=(3000, 16)).astype(np.float32)
    index = ExactIndex(matrix, dtype="float16")
    assert index.matrix.dtype == np.float16 and index.matrix.nbytes == matrix.nbytes // 2
    rounded = matrix.astype(np.float16).astype(np.float32)
    rows, distances = index.search(rounded[:5], 8)
    expected_rows, expected_distances = _expected(_reference(rounded, rounded[:5], "l2"), 8)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-6)
    assert (distances[:, 0] == 0).all()


def test_a_stored_vector_is_its_own_nearest_at_zero():
    matrix = np.random.default_rng(1).normal(size=(100, 8)).astype(np.float32) * 100 + 1000
    rows, distances = exact_search(matrix, matrix[42], 3)
    assert rows[0] == 42 and distances[0] == 0.0 and np.all(np.diff(distances) >= 0)
    rows, distances = exact_search(matrix, matrix[40:45], 3, "sqeuclidean")
    assert rows[:, 0].tolist() == [40, 41, 42, 43, 44] and (distances[:, 0] == 0.0).all()


def test_ties_go_to_the_lower_row_and_k_is_capped():
    matrix = np.zeros((5, 2), np.float32)
    rows, distances = exact_search(matrix, np.zeros(2), 10)
    assert rows.tolist() == [0, 1, 2, 3, 4] and distances.tolist() == [0.0] * 5
    assert exact_search(np.empty((0, 2), np.float32), np.zeros(2), 3)[0].size == 0


def test_filters_return_k_rows_whenever_k_match(rng):
    matrix = rng.normal(size=(2000, 4)).astype(np.float32)
    for allowed in (0, 3, 10, 400, 2000):
        mask = np.zeros(len(matrix), bool)
        mask[rng.choice(len(matrix), allowed, replace=False)] = True
        rows, _ = ExactIndex(matrix).search(rng.normal(size=(3, 4)), 10, "cosine", mask)
        assert rows.shape == (3, min(10, allowed)) and mask[rows].all()


def test_merge_keeps_the_nearest_and_sorts_empty_slots_last():
    ids = np.array([[5, -1, 2, 9]])
    distances = np.array([[1.0, 0.0, 1.0, 0.5]], np.float32)
    merged, merged_distances = merge_neighbours(ids, distances, 4)
    assert merged.tolist() == [[9, 2, 5, -1]] and merged_distances[0, 3] == np.inf


@pytest.mark.parametrize("call, message", [
    (lambda m: exact_search(m, np.zeros(2), 1, "manhattan"), "metric must be one of l2, sqeuclidean, cosine, ip"),
    (lambda m: exact_search(m, np.zeros(2), 0), "k must be >= 1"),
    (lambda m: exact_search(m, np.zeros(3), 1), "queries have 3 numbers; the matrix rows have 2"),
    (lambda m: ExactIndex(m, dtype="float64"), "dtype must be float32 or float16"),
])
def test_bad_parameters(call, message):
    with pytest.raises(UsageError, match=message):
        call(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("nq", [1, 2, 40])
def test_parallel_scans_give_the_same_answer(monkeypatch, rng, nq):
    import latentatlas.search.exact as index

    matrix = rng.normal(size=(3001, 6)).astype(np.float32)
    queries = rng.normal(size=(nq, 6)).astype(np.float32)
    mask = rng.random(len(matrix)) < 0.7
    serial = ExactIndex(matrix).search(queries, 7, "l2", mask)
    monkeypatch.setattr(index, "_PARALLEL_SCORES", 0)
    monkeypatch.setattr(index, "_threads", lambda: 3)
    parallel = ExactIndex(matrix).search(queries, 7, "l2", mask)
    np.testing.assert_array_equal(parallel[0], serial[0])
    np.testing.assert_array_equal(parallel[1], serial[1])
    np.testing.assert_array_equal(serial[0], _expected(_reference(matrix, queries, "l2"), 7, mask)[0])
