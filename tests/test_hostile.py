"""Hostile input, as a user who means harm or has a damaged file would send it: one line, nothing lost.

Each case names the input, the one-line message expected and checks that the
atlas's tables and model files are unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError


def snapshot(atlas: Path) -> dict[str, object]:
    """Row counts of every table and the hash of every model file."""
    con = duckdb.connect(str(atlas / "atlas.duckdb"), read_only=True)
    try:
        tables = [name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        counts = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
    finally:
        con.close()
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((atlas / "model").iterdir())}
    return {"rows": counts, "model": files}


WRITING_SQL = [
    ("EXPLAIN ANALYZE COPY (SELECT 'x') TO '{atlas}/model/config.json'", "got COPY"),
    ("EXPLAIN ANALYZE DELETE FROM embeddings WHERE id < 100", "got DELETE"),
    ("EXPLAIN DELETE FROM embeddings", "got DELETE"),
    ("WITH d AS (DELETE FROM images RETURNING *) SELECT count(*) FROM d", "got DELETE"),
    ("SELECT * FROM query('DELETE FROM embeddings')", r"got the function query\(\)"),
    ("COPY images TO '{atlas}/out.csv'", "got COPY"),
    ("ATTACH '{atlas}/other.duckdb' AS other", "got ATTACH"),
    ("INSTALL httpfs", "got (INSTALL|LOAD)"),
    ("LOAD httpfs", "got LOAD"),
    ("SET threads = 1", "got SET"),
    ("PRAGMA database_size", "got PRAGMA"),
    ("CALL checkpoint()", "got CALL"),
    ("DROP TABLE embeddings", "got DROP"),
    ("SELECT 1; DELETE FROM images", "expected one statement, got 2"),
]


@pytest.mark.parametrize("query, reason", WRITING_SQL, ids=[q.split()[0] + str(i) for i, (q, _) in enumerate(WRITING_SQL)])
def test_sql_that_writes_is_refused_in_one_line_from_the_cli(cli, error_line, atlas_copy, query, reason):
    before = snapshot(atlas_copy)
    line = error_line(cli("sql", "--atlas", atlas_copy, query.format(atlas=atlas_copy)), 2)
    assert line.startswith("Error: bad query: ") and re.search(reason, line), line
    assert snapshot(atlas_copy) == before
    assert not (atlas_copy / "out.csv").exists() and not (atlas_copy / "other.duckdb").exists()


@pytest.mark.parametrize("query, reason", WRITING_SQL[:5])
def test_sql_that_writes_is_refused_from_python_on_a_writable_atlas(atlas_copy, query, reason):
    before = snapshot(atlas_copy)
    with Atlas.open(atlas_copy) as atlas:
        with pytest.raises(UsageError, match=reason):
            atlas.sql(query.format(atlas=atlas_copy))
        assert atlas.sql("SELECT count(*) AS n FROM embeddings").rows[0][0] == before["rows"]["embeddings"]
    assert snapshot(atlas_copy) == before


@pytest.mark.parametrize("query", [
    "EXPLAIN SELECT count(*) FROM images",
    "EXPLAIN ANALYZE SELECT count(*) FROM images",
    "WITH a AS (SELECT id FROM images) SELECT count(*) FROM a",
    "DESCRIBE images",
    "SUMMARIZE SELECT id FROM images",
    "FROM images LIMIT 2",
    "SELECT id FROM images UNION SELECT id FROM embeddings ORDER BY id LIMIT 3",
])
def test_reading_sql_still_runs(atlas_copy, query):
    with Atlas.open(atlas_copy) as atlas:
        assert atlas.sql(query).rows


def test_a_where_predicate_that_writes_is_refused(atlas_copy):
    before = snapshot(atlas_copy)
    with Atlas.open(atlas_copy) as atlas:
        with pytest.raises(UsageError, match="only read-only"):
            atlas.search(id=0, k=3, where="id IN (SELECT id FROM query('DELETE FROM images'))")
    assert snapshot(atlas_copy) == before
