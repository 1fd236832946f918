"""Parquet shards at volume (latentatlas.store.parquet): a million rows ingested once, whatever is ingested again."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.store import ImageRow, Store
from latentatlas.store.parquet import export_keys, ingest_shards, shard_name, shard_rows, stored_keys, write_shard

ROWS = 1_000_000
SHARDS = 4


@pytest.mark.slow  # 30 to 70 s here; make test (and CI) runs it
def test_a_million_rows_are_ingested_once_however_often_their_shards_come(tmp_path):
    per = ROWS // SHARDS
    vectors = np.random.default_rng(0).standard_normal((per, 8), dtype=np.float32)
    paths = []
    for shard in range(SHARDS):
        rows = [ImageRow(uri=f"/data/{shard}/{i}.png", sha256=f"{shard * per + i:064x}", width=8, height=8)
                for i in range(per)]
        paths.append(write_shard(tmp_path / "run" / shard_name(shard), rows, vectors + shard, []))
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(8)
    assert shard_rows(store, paths) == ROWS
    assert ingest_shards(store, paths[:1]) == per  # a run cut short: its first shard landed
    assert ingest_shards(store, paths) == ROWS - per  # the re-run adds the rest only
    assert ingest_shards(store, paths) == 0
    assert store.query("SELECT count(*), count(DISTINCT id), min(id), max(id), count(DISTINCT (uri, sha256)) "
                       "FROM images").rows == [(ROWS, ROWS, 0, ROWS - 1, ROWS)]
    ids, stored = store.vectors(np.array([0, per - 1, per, ROWS - 1]))
    np.testing.assert_array_equal(stored, np.stack([vectors[0], vectors[-1], vectors[0] + 1, vectors[-1] + 3]))
    known = export_keys(store, tmp_path / "known.parquet")
    assert stored_keys(known, ["/data/3/7.png", "/data/9/9.png"]) == {("/data/3/7.png", f"{3 * per + 7:064x}")}
    store.close()
