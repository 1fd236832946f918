"""The FAISS index reaches its recall on clustered data, honours filters, and survives a save and load."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import UsageError
from latentatlas.search.ann import AnnIndex, AnnSettings
from latentatlas.search.exact import ExactIndex


def _clustered(rng, n: int = 3000, d: int = 16, clusters: int = 30) -> np.ndarray:
    centres = rng.normal(scale=3.0, size=(clusters, d))
    return (centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, d))).astype(np.float32)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    matrix = _clustered(rng)
    queries = matrix[rng.choice(len(matrix), 100, replace=False)] + 0.3 * rng.normal(size=(100, 16)).astype(np.float32)
    return matrix, queries


@pytest.fixture(scope="module")
def built(data):
    """Indexes over ``data`` built once per kind and metric: ``built(kind, metric)``."""
    cache = {}

    def get(kind: str, metric: str = "l2") -> AnnIndex:
        if (kind, metric) not in cache:
            ids = np.arange(len(data[0])) * 3 + 7  # positions and ids differ
            cache[kind, metric] = AnnIndex.build(data[0], ids, AnnSettings(kind=kind, metric=metric))
        return cache[kind, metric]

    return get


@pytest.mark.parametrize("kind, metric", [("hnsw", "l2"), ("ivfpq", "l2"), ("hnsw", "cosine"), ("ivfpq", "ip")])
def test_recall_against_exact(data, built, kind, metric, tmp_path):
    matrix, queries = data
    built(kind, metric).save(tmp_path / "ann")
    index = AnnIndex.load(tmp_path / "ann")
    ids = np.arange(len(matrix)) * 3 + 7
    assert index.record.rows == len(matrix) and index.record.max_id == ids[-1] and index.ids.tolist() == ids.tolist()
    rows, distances = index.search(queries, 10, metric)
    truth, truth_distances = ExactIndex(matrix).search(queries, 10, metric)
    assert _recall(rows, truth) >= 0.95
    found = rows == truth  # where the answer agrees, the distance is the exact one
    np.testing.assert_allclose(distances[found], truth_distances[found], rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(distances, axis=1) >= 0)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
@pytest.mark.parametrize("keep", [0.5, 0.05, 0.002])
def test_filtered_searches_return_k_rows_whenever_k_match(data, built, kind, keep):
    matrix, queries = data
    index = built(kind)
    mask = np.random.default_rng(1).random(len(matrix)) < keep
    rows, _ = index.search(queries, 10, "l2", mask)
    want = min(10, int(mask.sum()))
    assert (rows[:, :want] >= 0).all() and (rows[:, want:] == -1).all()
    assert mask[rows[:, :want]].all()
    truth, _ = ExactIndex(matrix).search(queries, 10, "l2", mask)
    assert _recall(rows[:, :want], truth) >= 0.9


def test_a_stored_vector_is_found_at_zero(data, built):
    rows, distances = built("hnsw").search(data[0][[17, 2000]], 3, "sqeuclidean")
    assert rows[:, 0].tolist() == [17, 2000] and (distances[:, 0] == 0.0).all()


def test_an_index_serves_only_its_metric_family(data):
    index = AnnIndex.build(data[0][:500], np.arange(500), AnnSettings(kind="hnsw", metric="sqeuclidean"))
    assert index.record.metric == "l2" and index.serves("l2") and index.serves("sqeuclidean")
    assert not index.serves("cosine")
    with pytest.raises(UsageError, match="serves l2, not cosine"):
        index.search(data[1], 3, "cosine")


@pytest.mark.parametrize("settings, message", [
    ({"kind": "lsh"}, "kind must be one of hnsw, ivfpq"),
    ({"metric": "hamming"}, "metric must be one of"),
    ({"ef_search": 0}, "ef_search must be >= 1"),
    ({"kind": "ivfpq", "pq_m": 5}, "pq_m must divide the code size 16"),
])
def test_bad_settings(data, settings, message):
    with pytest.raises(UsageError, match=message):
        AnnIndex.build(data[0], np.arange(len(data[0])), AnnSettings(**settings))


def test_ivfpq_needs_enough_rows(data):
    with pytest.raises(UsageError, match="ivfpq index needs at least 1,000 rows"):
        AnnIndex.build(data[0][:999], np.arange(999), AnnSettings(kind="ivfpq"))


@pytest.mark.parametrize("keep", [None, 0.3, 0.01])
def test_an_index_that_visits_every_row_answers_as_exact_search(data, keep):
    matrix, queries = data
    ids = np.arange(len(matrix))
    settings = AnnSettings(kind="ivfpq", nlist=8, nprobe=8, refine=len(matrix) // 10)  # every list, every row re-ranked
    index = AnnIndex.build(matrix, ids, settings)
    mask = None if keep is None else np.random.default_rng(2).random(len(matrix)) < keep
    rows, distances = index.search(queries, 10, "l2", mask)
    truth, truth_distances = ExactIndex(matrix).search(queries, 10, "l2", mask)
    assert rows.tolist() == truth.tolist()
    np.testing.assert_allclose(distances, truth_distances, rtol=1e-6, atol=1e-6)


def test_an_index_built_chunk_by_chunk_is_the_index_built_at_once(data):
    from latentatlas.search.ann import training_rows

    matrix, queries = data
    ids = np.arange(len(matrix)) * 2
    settings = AnnSettings(kind="ivfpq")
    whole = AnnIndex.build(matrix, ids, settings)
    chunks = ((ids[s:s + 777], matrix[s:s + 777]) for s in range(0, len(ids), 777))
    chunked = AnnIndex.build_from(chunks, len(ids), matrix[training_rows(len(ids), settings.seed)], settings)
    assert chunked.ids.tolist() == whole.ids.tolist()
    assert chunked.search(queries, 10, "l2")[0].tolist() == whole.search(queries, 10, "l2")[0].tolist()
