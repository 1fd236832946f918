"""The weather article's BigQuery SQL on an atlas: translated with sqlglot, run on the items view, same rows as search."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pytest

from latentatlas.errors import UsageError
from latentatlas.ops.sql import translate
from latentatlas.store.database import IMAGE_COLUMNS, Store

# The article's queries with only the table (`ai-analytics-solutions.advdata.wxembed` -> items),
# the code column (ref -> vector) and the dates changed.
NEAREST = """
WITH ref1 AS (
SELECT time AS ref1_time, ref1_value, ref1_offset
FROM items,
     UNNEST(vector) AS ref1_value WITH OFFSET AS ref1_offset
WHERE time = '2019-01-02 05:00:00 UTC'
)
SELECT
  time,
  SUM( (ref1_value - vector[OFFSET(ref1_offset)]) * (ref1_value - vector[OFFSET(ref1_offset)]) ) AS sqdist
FROM ref1, items
{where}GROUP BY 1
ORDER By sqdist ASC
LIMIT 5
"""
EXCLUDE = "WHERE time NOT BETWEEN '2019-01-01 18:00:00' AND '2019-01-02 16:00:00'\n"
INTERPOLATION = """
WITH refl1 AS (
SELECT ref1_value, idx
FROM items,
     UNNEST(vector) AS ref1_value WITH OFFSET AS idx
WHERE time = '2019-01-02 04:00:00 UTC'
), refl2 AS (
SELECT ref2_value, idx
FROM items,
     UNNEST(vector) AS ref2_value WITH OFFSET AS idx
WHERE time = '2019-01-02 05:00:00 UTC'
), refl3 AS (
SELECT ref3_value, idx
FROM items,
     UNNEST(vector) AS ref3_value WITH OFFSET AS idx
WHERE time = '2019-01-02 06:00:00 UTC'
)
SELECT SUM( (ref2_value - (ref1_value + ref3_value)/2) * (ref2_value - (ref1_value + ref3_value)/2) ) AS sqdist
FROM refl1
JOIN refl2 USING (idx)
JOIN refl3 USING (idx)
"""
HOUR = 29  # 2019-01-02 05:00, the row id of that hour


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _search(cli, atlas, *args):
    return _json(cli("search", "--atlas", atlas, "--id", HOUR, "-k", "5", *args, "--json"))["results"]


def test_the_nearest_hours_query_gives_the_rows_of_exact_search(cli, radar_atlas):
    rows = _json(cli("sql", "--atlas", radar_atlas, "--dialect", "bigquery", NEAREST.format(where=""), "--json"))["rows"]
    hits = _search(cli, radar_atlas)
    assert [r["time"] for r in rows] == [h["time"] for h in hits]
    assert rows[0]["time"] == "2019-01-02T05:00:00" and rows[0]["sqdist"] == 0.0
    np.testing.assert_allclose([r["sqdist"] for r in rows], [h["distance"] ** 2 for h in hits], rtol=1e-4, atol=1e-6)


def test_the_query_that_excludes_a_date_range_matches_search_with_where(cli, radar_atlas):
    rows = _json(cli("sql", "--atlas", radar_atlas, "--dialect", "bigquery", NEAREST.format(where=EXCLUDE), "--json"))["rows"]
    hits = _search(cli, radar_atlas, "--where", EXCLUDE.removeprefix("WHERE ").strip())
    assert [r["time"] for r in rows] == [h["time"] for h in hits]
    assert all(not "2019-01-01T18:00:00" <= r["time"] <= "2019-01-02T16:00:00" for r in rows)
    np.testing.assert_allclose([r["sqdist"] for r in rows], [h["distance"] ** 2 for h in hits], rtol=1e-4)


def test_the_interpolation_error_query_is_the_squared_distance_to_the_mean_of_the_neighbours(cli, radar_atlas):
    (row,) = _json(cli("sql", "--atlas", radar_atlas, "--dialect", "bigquery", INTERPOLATION, "--json"))["rows"]
    vectors = _json(cli("sql", "--atlas", radar_atlas, "SELECT vector FROM items WHERE id BETWEEN 28 AND 30 ORDER BY id",
                        "--json"))["rows"]
    before, now, after = (np.array(v["vector"], np.float64) for v in vectors)
    expected = float(np.sum((now - (before + after) / 2) ** 2))
    assert row["sqdist"] == pytest.approx(expected, rel=1e-5)
    assert row["sqdist"] < 0.5 * float(np.sum((now - before) ** 2))


def test_items_has_every_column_of_images_and_the_vector(radar_atlas):
    store = Store(radar_atlas, read_only=True)
    try:
        columns = store.query("SELECT * FROM items LIMIT 1").columns
        assert columns == [*IMAGE_COLUMNS, "vector"]
        assert store.query("SELECT count(*) FROM items").rows == [(48,)]
    finally:
        store.close()


def test_atlases_made_before_the_view_get_it(cli, tmp_path, radar_atlas):
    old = shutil.copytree(radar_atlas, tmp_path / "old.atlas")
    with duckdb.connect(str(old / "atlas.duckdb")) as con:
        con.execute("DROP VIEW items")
    counted = _json(cli("sql", "--atlas", old, "SELECT count(*) AS n FROM items", "--json"))
    assert counted["rows"] == [{"n": 48}]
    with duckdb.connect(str(old / "atlas.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'items'").fetchone() == (0,)
    Store(old).close()  # opening read-write writes the view into the atlas
    with duckdb.connect(str(old / "atlas.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM items").fetchone() == (48,)


@pytest.mark.parametrize("args, message", [
    (["--dialect", "klingon", "SELECT 1"], "unknown SQL dialect 'klingon'; sqlglot reads athena, bigquery"),
    (["--dialect", "bigquery", "SELEC time FRM items"], "cannot translate the bigquery query to DuckDB"),
    (["--dialect", "bigquery", "SELECT APPROX_TOP_COUNT(label, 2) FROM items"], "cannot translate the bigquery query"),
    (["--dialect", "bigquery", "SELECT 1; SELECT 2"], "expected one statement, got 2"),
    (["--dialect", "bigquery", "DELETE FROM images WHERE TRUE"], "only read-only queries"),
    (["--dialect", "postgres", "SELECT nosuch FROM items"], "as DuckDB SQL: SELECT nosuch FROM items"),
])
def test_unknown_dialects_and_untranslatable_sql_are_refused_in_one_line(cli, radar_atlas, args, message):
    result = cli("sql", "--atlas", radar_atlas, *args)
    assert result.exit_code == 2 and result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_translation_rewrites_unnest_with_offset_for_duckdb():
    sql = translate(NEAREST.format(where=""), "bigquery")
    assert "WITH ORDINALITY" in sql and "OFFSET(" not in sql
    assert translate("SELECT 1", "DuckDB") == "SELECT 1"
    with pytest.raises(UsageError, match="unknown SQL dialect"):
        translate("SELECT 1", "")
