"""The DuckDB store: rows and codes, transactions, filters and read-only SQL."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from latentatlas.errors import AtlasNotFoundError, ModelMismatchError, UsageError
from latentatlas.store import ImageRow, Store


def _rows(n: int, label: str = "a") -> list[ImageRow]:
    return [ImageRow(uri=f"/x/{label}{i}.png", sha256=f"{label}{i}", width=8, height=8, label=label,
                     time=datetime(2020, 1, 1, i), meta={"i": i}) for i in range(n)]


def test_rows_and_codes_round_trip(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(4)
    vectors = rng.random((3, 4)).astype(np.float32)
    ids = store.add(_rows(3), vectors)
    assert ids.tolist() == [0, 1, 2]
    assert store.add(_rows(2, "b"), vectors[:2]).tolist() == [3, 4]
    found, matrix = store.vectors()
    assert found.tolist() == [0, 1, 2, 3, 4] and matrix.dtype == np.float32 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix[:3], vectors)
    found, matrix = store.vectors(np.array([4, 1, 99]))
    assert found.tolist() == [1, 4]
    row = store.images([2])[2]
    assert (row["uri"], row["label"], row["time"], row["meta"]) == ("/x/a2.png", "a", datetime(2020, 1, 1, 2), {"i": 2})
    assert store.known_keys() >= {("/x/a0.png", "a0")}
    assert store.code_size() == 4 and store.count() == 5


def test_a_failed_batch_leaves_nothing_behind(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(4)
    store.add(_rows(2), rng.random((2, 4)))
    with pytest.raises(ModelMismatchError, match="holds codes of 4 numbers, not 5"):
        store.add(_rows(3, "b"), rng.random((3, 5)))
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.con.execute("DELETE FROM embeddings")
            store.con.execute("DELETE FROM images")
            raise RuntimeError("interrupted")
    assert store.count("images") == 2 and store.count("embeddings") == 2


def test_code_size_mismatch_is_refused(tmp_path):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(4)
    with pytest.raises(ModelMismatchError, match="codes of 4 numbers but the model makes 8"):
        store.ensure_embeddings(8)


def test_where_selects_ids_and_bad_predicates_are_usage_errors(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(2)
    store.add(_rows(3) + _rows(2, "b"), rng.random((5, 2)))
    assert store.ids_where("label = 'b'").tolist() == [3, 4]
    assert store.ids_where("time > '2020-01-01 00:30' AND label = 'a'").tolist() == [1, 2]
    assert store.ids_where("meta->>'i' = '1'").tolist() == [1, 4]
    with pytest.raises(UsageError, match="bad where predicate 'label ='"):
        store.ids_where("label =")
    with pytest.raises(UsageError, match="bad where predicate 'nosuch = 1'.*nosuch"):
        store.ids_where("nosuch = 1")
    with pytest.raises(UsageError, match="bad where predicate"):
        store.ids_where("1=1; DELETE FROM images")
    with pytest.raises(UsageError, match="expected one statement"):
        store.query("SELECT 1; DELETE FROM images")
    assert store.count() == 5


def test_sql_is_read_only(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(2)
    store.add(_rows(2), np.array([[1, 2], [3, 4]], np.float32))
    result = store.query("SELECT id, vector FROM embeddings ORDER BY id")
    assert result.columns == ["id", "vector"] and result.rows[1] == (1, (3.0, 4.0))
    assert store.query("WITH t AS (SELECT 1 AS x) SELECT x FROM t").rows == [(1,)]
    for statement in ("DELETE FROM images", "DROP TABLE images", "UPDATE images SET label = 'x'",
                      "CREATE TABLE t (x INT)", "COPY images TO 'x.csv'", "SET threads = 1"):
        with pytest.raises(UsageError, match="only read-only queries"):
            store.query(statement)
    with pytest.raises(UsageError, match="query failed: .*nosuch"):
        store.query("SELECT * FROM nosuch")
    assert store.count() == 2


def test_read_only_open_needs_an_atlas(tmp_path):
    with pytest.raises(AtlasNotFoundError, match="no atlas here"):
        Store(tmp_path / "missing.atlas", read_only=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        Store(tmp_path / "file")


def test_settings_and_clear(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    assert store.setting("k", "default") == "default"
    store.set_setting("k", {"a": 1})
    assert store.setting("k") == {"a": 1}
    store.ensure_embeddings(2)
    store.add(_rows(2), rng.random((2, 2)))
    store.clear()
    assert store.count() == 0 and store.code_size() is None and store.next_id() == 0


def test_clear_drops_orb_features_so_new_rows_do_not_inherit_them(tmp_path, rng):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(2)
    store.add(_rows(2), rng.random((2, 2)))
    store.con.execute("CREATE TABLE orb_features (id BIGINT, descriptors BLOB)")
    store.con.execute("INSERT INTO orb_features VALUES (0, 'x')")
    store.set_setting("orb_features", {"n_features": 500})
    store.clear()
    assert not store.has_table("orb_features") and store.setting("orb_features") is None
