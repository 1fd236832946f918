"""The SQL guard's function lists against DuckDB's own catalogue, so a new DuckDB version cannot slip a writer in."""

from __future__ import annotations

import duckdb
import pytest

from latentatlas.errors import UsageError
from latentatlas.store.sql_guard import (READING_TABLE_FUNCTIONS, VOLATILE_SCALAR_FUNCTIONS, WRITING_SCALAR_FUNCTIONS,
                                         check_reads_only)

# What the probe of issue 27 used to crash the server or write files: each must stay refused.
STATE_CHANGING = {"enable_logging", "disable_logging", "enable_profiling", "disable_profiling", "truncate_duckdb_logs",
                  "checkpoint", "force_checkpoint", "query", "query_table", "json_execute_serialized_sql"}


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        yield connection


def catalogue(con, kinds: tuple[str, ...], side_effects_only: bool = False) -> set[str]:
    """Names of the functions of ``kinds`` in DuckDB's catalogue."""
    rows = con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE list_contains(?, function_type)"
        + (" AND has_side_effects" if side_effects_only else ""), [list(kinds)]).fetchall()
    return {name for (name,) in rows}


def test_every_table_function_outside_the_allow_list_is_refused(con):
    tables = catalogue(con, ("table", "table_macro"))
    assert READING_TABLE_FUNCTIONS <= tables, READING_TABLE_FUNCTIONS - tables  # no name DuckDB does not know
    assert not READING_TABLE_FUNCTIONS & STATE_CHANGING
    for name in sorted(tables - READING_TABLE_FUNCTIONS):
        with pytest.raises(UsageError, match=rf"got the function {name}\(\)"):
            check_reads_only(f"SELECT 1 WHERE EXISTS (SELECT 1 FROM {name}())", con)
    for name in sorted(READING_TABLE_FUNCTIONS):
        check_reads_only(f"SELECT * FROM {name}(1, 2)", con)  # parsed only, never run


def test_every_scalar_function_with_side_effects_is_classified(con):
    flagged = catalogue(con, ("scalar", "aggregate", "macro", "window"), side_effects_only=True)
    unknown = flagged - WRITING_SCALAR_FUNCTIONS - VOLATILE_SCALAR_FUNCTIONS
    assert not unknown, f"new functions with side effects, classify them in sql_guard.py: {sorted(unknown)}"
    for name in sorted(WRITING_SCALAR_FUNCTIONS):
        with pytest.raises(UsageError, match=rf"got the function {name}\(\)"):
            check_reads_only(f"SELECT [1].list_transform(x -> {name}('s'))", con)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM ENABLE_LOGGING(storage='file', storage_path='/tmp/x')",
    "SELECT * FROM main.enable_logging(storage='file')",
    "SELECT * FROM range(3) r JOIN LATERAL truncate_duckdb_logs() t ON true",
    "SELECT (SELECT count(*) FROM disable_profiling()) AS n",
    "EXPLAIN ANALYZE SELECT * FROM enable_profiling()",
    "SELECT 1 AS x, (1).setseed()",
])
def test_state_changing_calls_are_refused_wherever_they_hide(con, sql):
    with pytest.raises(UsageError, match="only read-only queries are allowed, got the function"):
        check_reads_only(sql, con)
