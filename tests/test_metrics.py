"""Every metric of the one metric table: exact scan against a float64 reference, the FAISS index against exact."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from latentatlas.errors import UsageError
from latentatlas.search.ann import AnnIndex, AnnSettings
from latentatlas.search.exact import ExactIndex
from latentatlas.search.metrics import METRICS, get_metric

REFERENCE = {  # float64 definitions written independently of the table
    "l2": lambda q, x: cdist(q, x, "euclidean"),
    "sqeuclidean": lambda q, x: cdist(q, x, "sqeuclidean"),
    "cosine": lambda q, x: cdist(q, x, "cosine"),
    "ip": lambda q, x: -(q @ x.T),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=3.0, size=(20, 12))
    matrix = (centres[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 12))).astype(np.float32)
    queries = (matrix[:40] + 0.2 * rng.normal(size=(40, 12))).astype(np.float32)
    return matrix, queries


def test_the_reference_covers_every_metric():
    assert set(REFERENCE) == set(METRICS)


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_exact_and_indexed(data, name):
    matrix, queries = data
    metric = get_metric(name)
    reference = REFERENCE[name](queries.astype(np.float64), matrix.astype(np.float64))
    np.testing.assert_allclose(metric.distance(matrix[None], queries)[0], reference[0], rtol=1e-5, atol=1e-5)

    rows, distances = ExactIndex(matrix).search(queries, 10, name)
    expected = np.sort(reference, axis=1)[:, :10]
    np.testing.assert_allclose(distances, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(reference, rows, 1), distances, rtol=1e-5, atol=1e-5)

    index = AnnIndex.build(matrix, np.arange(len(matrix)), AnnSettings(kind="hnsw", metric=name))
    assert index.serves(name) and index.record.metric == metric.family
    found, found_distances = index.search(queries, 10, name)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, rows)])
    assert recall >= 0.95
    same = found == rows
    np.testing.assert_allclose(found_distances[same], distances[same], rtol=1e-5, atol=1e-5)


def test_an_unknown_metric_is_named():
    with pytest.raises(UsageError, match="metric must be one of l2, sqeuclidean, cosine, ip, got 'hamming'"):
        get_metric("hamming")
