"""Search over an atlas: filters, time windows, the index and its freshness, batches and duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError
from latentatlas.search.neighbours import parse_window
from latentatlas.store import ImageRow


def _ids(result) -> list[int]:
    return [hit.id for hit in result.hits]


def test_exclude_within_drops_the_window_and_still_returns_k(vector_atlas):
    with Atlas.open(vector_atlas, read_only=True) as atlas:
        result = atlas.search(id=300, k=20, exclude_within="1d")
        assert len(result.hits) == 20 and result.query["exclude_within"] == "1d"
        query_time = datetime(2024, 1, 1) + timedelta(hours=300)
        assert all(abs(hit.time - query_time) > timedelta(days=1) for hit in result.hits)
        unfiltered = atlas.search(id=300, k=200)
        expected = [hit.id for hit in unfiltered.hits if abs(hit.time - query_time) > timedelta(days=1)][:20]
        assert _ids(result) == expected
        with pytest.raises(UsageError, match="needs a query with a time"):
            atlas.search(vector=np.zeros(8), exclude_within="1d")


@pytest.mark.parametrize("text, seconds", [("1d", 86400), ("6h", 21600), ("1d12h", 129600), ("30min", 1800),
                                           ("90s", 90), ("2w", 1209600), (" 1.5h ", 5400)])
def test_parse_window(text, seconds):
    assert parse_window(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["1 day", "d", "-1d", "0h", "1d2", "5y"])
def test_parse_window_refuses(text):
    with pytest.raises(UsageError, match="exclude_within must be"):
        parse_window(text)


@pytest.mark.parametrize("kind", [None, "hnsw", "ivfpq"])
def test_where_returns_k_rows_whenever_k_match(vector_atlas, kind):
    with Atlas.open(vector_atlas, read_only=True) as atlas:
        if kind:
            atlas.index(kind)
        for where, matching in [("label = '3'", None), ("id % 97 = 0", 13), ("id IN (5, 9)", 2), ("false", 0)]:
            result = atlas.search(id=1, k=10, where=where)
            matching = matching if matching is not None else atlas.sql(f"SELECT count(*) FROM images WHERE {where}").rows[0][0]
            assert len(result.hits) == min(10, matching)
            exact = atlas.search(id=1, k=10, where=where, exact=True)
            assert _ids(result) == _ids(exact)


def test_a_stale_index_plus_new_rows_still_finds_the_new_rows(vector_atlas):
    with Atlas.open(vector_atlas) as atlas:
        report = atlas.index("hnsw")
        assert report.rows == 1200 and report.max_id == 1199
        query = atlas.store.vectors(np.array([10]))[1][0]
        near = query + np.float32(1e-3)
        rows = [ImageRow(uri=f"/new/{i}.png", sha256=f"new{i}", width=8, height=8) for i in range(3)]
        atlas.store.add(rows, np.stack([near, near * 2, near]))
        result = atlas.search(vector=query, k=4)
        assert result.query["engine"] == "hnsw"
        assert _ids(result)[:3] == [10, 1200, 1202]
        assert _ids(result) == _ids(atlas.search(vector=query, k=4, exact=True))
        assert [h.distance for h in result.hits] == [h.distance for h in atlas.search(vector=query, k=4, exact=True).hits]


def test_an_index_of_another_model_is_not_used(vector_atlas):
    with Atlas.open(vector_atlas) as atlas:
        atlas.index("hnsw")
        assert atlas.search(id=3, k=2).query["engine"] == "hnsw"
        atlas.store.set_setting("model_fingerprint", "retrained")
        assert atlas.search(id=3, k=2).query["engine"] == "exact"
        assert atlas.search(id=3, k=2, metric="cosine").query["engine"] == "exact"
        assert atlas.remove_index() and not atlas.remove_index()


def test_batch_search_equals_single_searches(vector_atlas, tmp_path):
    import pyarrow.parquet as pq

    with Atlas.open(vector_atlas, read_only=True) as atlas:
        out = tmp_path / "graph" / "neighbours.parquet"
        batch = atlas.search_batch(k=5, out=out, exclude_within="12h", where="label <> '0'")
        table = pq.read_table(out).to_pydict()
        assert set(table) == {"query_id", "rank", "id", "distance"} and len(table["id"]) == 1200 * 5
        for row in (0, 123, 1199):
            single = atlas.search(id=row, k=5, exclude_within="12h", where="label <> '0'")
            assert batch.ids[row].tolist() == _ids(single)
            np.testing.assert_allclose(batch.distances[row], [h.distance for h in single.hits])
        some = atlas.search_batch([4, 8], k=3, exclude_self=True)
        assert some.query_ids.tolist() == [4, 8] and 4 not in some.ids[0] and 8 not in some.ids[1]
        with pytest.raises(UsageError, match="unknown ids 1300, 1301"):
            atlas.search_batch([1, 1300, 1301])


def test_duplicates_finds_planted_copies_and_nothing_else(vector_atlas):
    with Atlas.open(vector_atlas) as atlas:
        assert atlas.duplicates(0.05).groups == []
        _, vectors = atlas.store.vectors(np.array([10, 20]))
        rows = [
            ImageRow(uri="/copy/10.png", sha256=f"{10:064x}", width=8, height=8),  # the same file elsewhere
            ImageRow(uri="/near/20.png", sha256="near20", width=8, height=8),     # a slightly changed image
        ]
        atlas.store.add(rows, np.stack([vectors[0], vectors[1] + np.float32(0.01)]))
        report = atlas.duplicates(0.05)
        assert [(g.kind, g.ids) for g in report.groups] == [("exact", [10, 1200]), ("near", [20, 1201])]
        assert report.groups[1].distance == pytest.approx(0.01 * np.sqrt(8), rel=1e-3)


def test_float16_codes_give_the_same_neighbours_here(vector_atlas):
    with Atlas.open(vector_atlas, read_only=True) as atlas:
        half = atlas.search(id=42, k=5, dtype="float16")
        full = atlas.search(id=42, k=5)
        assert _ids(half) == _ids(full) and half.hits[0].distance == 0.0
        np.testing.assert_allclose([h.distance for h in half.hits], [h.distance for h in full.hits], rtol=2e-3)
        with pytest.raises(UsageError, match="dtype must be one of float32, float16"):
            atlas.search(id=42, dtype="float64")


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_exact_scans_read_the_codes_from_a_fresh_index_or_the_table_alike(vector_atlas, metric):
    from latentatlas.search.engine import Engine

    with Atlas.open(vector_atlas) as atlas:
        from_table = atlas.search_batch([1, 2, 3], k=6, metric="ip", exact=True)
        atlas.index("hnsw", metric=metric)
        engine = Engine.open(atlas.store, "ip", exact=True)
        assert engine.kind == "exact" and (engine.parts[0].owner is not None) == (metric == "l2")
        from_index = atlas.search_batch([1, 2, 3], k=6, metric="ip", exact=True)
        np.testing.assert_array_equal(from_index.ids, from_table.ids)
        np.testing.assert_array_equal(from_index.distances, from_table.distances)
