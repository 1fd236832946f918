"""Which SQL only reads: a check on every node of the parsed statement, not on its type alone.

DuckDB reports ``EXPLAIN ANALYZE DELETE ...`` as an ``EXPLAIN`` and runs the
delete; ``WITH d AS (DELETE ... RETURNING *) SELECT ...`` is a ``SELECT``.
So the statement is parsed with sqlglot and refused when any node writes,
changes settings or reaches outside the tables: DML and DDL anywhere,
``COPY``, ``ATTACH``/``DETACH``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``,
``USE``, transactions and ``CALL``. ``EXPLAIN [ANALYZE] X`` is accepted
exactly when ``X`` is. A statement sqlglot cannot parse is refused: what
cannot be checked is not run.

Functions are checked on DuckDB's own parse of the statement
(``json_serialize_sql``), so a name means what DuckDB will call: a table
function runs only when :data:`READING_TABLE_FUNCTIONS` lists it (a new
DuckDB version's table functions are refused until someone reads them and
adds them), and the scalar functions in :data:`WRITING_SCALAR_FUNCTIONS`
are refused. ``tests/test_sql_guard.py`` checks both lists against DuckDB's
catalogue, ``duckdb_functions()``.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Iterator

from ..errors import UsageError, first_line

__all__ = ["check_reads_only", "READING_TABLE_FUNCTIONS", "WRITING_SCALAR_FUNCTIONS", "VOLATILE_SCALAR_FUNCTIONS"]

# The table functions (and table macros) that only read: rows they make, the catalogue, files (which a
# connection with external access off refuses itself). Every other one is refused, among them those that
# run SQL text (query, query_table, json_execute_serialized_sql), change settings or write files
# (enable_/disable_logging, enable_/disable_profiling, truncate_duckdb_logs, checkpoint, force_checkpoint,
# *_external_resource*, add_/remove_grammar_extension), read raw memory (arrow_scan, pandas_scan,
# python_*) or show secrets (duckdb_secrets, which_secret).
READING_TABLE_FUNCTIONS = frozenset({
    "duckdb_approx_database_count", "duckdb_available_metrics", "duckdb_columns", "duckdb_connection_count",
    "duckdb_constraints", "duckdb_coordinate_systems", "duckdb_databases", "duckdb_dependencies",
    "duckdb_dialects", "duckdb_eviction_queues", "duckdb_extension_repositories", "duckdb_extensions",
    "duckdb_external_file_cache", "duckdb_external_resource_types", "duckdb_external_resources",
    "duckdb_functions", "duckdb_grammar_extensions", "duckdb_indexes", "duckdb_keywords",
    "duckdb_live_query_metrics", "duckdb_log_contexts", "duckdb_logs", "duckdb_logs_parsed", "duckdb_memory",
    "duckdb_optimizers", "duckdb_prepared_statements", "duckdb_profiling_settings", "duckdb_schemas",
    "duckdb_secret_type_parameters", "duckdb_secret_types", "duckdb_sequences", "duckdb_settings",
    "duckdb_table_sample", "duckdb_tables", "duckdb_temporary_files", "duckdb_triggers", "duckdb_types",
    "duckdb_variables", "duckdb_views",
    "generate_series", "range", "repeat", "repeat_row", "unnest", "json_each", "json_tree", "histogram",
    "histogram_values", "summary", "test_all_types", "test_vector_types", "icu_calendar_names",
    "pg_timezone_names",
    "pragma_collations", "pragma_database_size", "pragma_metadata_info", "pragma_platform", "pragma_show",
    "pragma_storage_info", "pragma_table_info", "pragma_user_agent", "pragma_version",
    "glob", "read_blob", "read_csv", "read_csv_auto", "read_duckdb", "read_json", "read_json_auto",
    "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects",
    "read_parquet", "parquet_scan", "read_single_csv_file", "read_single_json_file", "read_single_parquet_file",
    "read_text", "sniff_csv", "parquet_bloom_probe", "parquet_file_metadata", "parquet_full_metadata",
    "parquet_kv_metadata", "parquet_metadata", "parquet_page_index", "parquet_schema", "seq_scan",
})
# Scalar functions that change the database's state (sequences, the random seed, the log).
WRITING_SCALAR_FUNCTIONS = frozenset({"nextval", "setval", "setseed", "write_log"})
# Scalar functions DuckDB marks as having side effects that only read or draw (checked in the tests: every
# function with side effects in the catalogue is in one of the two sets).
VOLATILE_SCALAR_FUNCTIONS = frozenset({
    "random", "uuid", "uuidv4", "uuidv7", "gen_random_uuid", "currval", "current_connection_id", "current_query",
    "current_query_id", "current_transaction_id", "error", "stats", "vector_type", "sleep_ms",
})
_EXPLAIN_DEPTH = 2  # EXPLAIN ANALYZE is two words; nothing needs more


def check_reads_only(sql: str, con: Any, what: str = "query") -> None:
    """Refuse ``sql`` unless it is one statement that only reads (``con``: a DuckDB connection that parses it).

    Raises
    ------
    UsageError
        ``"bad <what>: only read-only queries are allowed, got <node>"`` for a
        statement with a writing part (``got the function f()`` for a
        function), or ``"bad <what>: ..."`` when it is not one statement
        sqlglot and DuckDB can parse.
    """
    _check(sql, con, what, depth=0)


def _check(sql: str, con: Any, what: str, depth: int) -> None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb", error_level=ErrorLevel.RAISE) if s is not None]
    except SqlglotError as error:
        raise UsageError(f"bad {what}: cannot check that it only reads: {first_line(error)}") from None
    if len(statements) != 1:
        raise UsageError(f"bad {what}: expected one statement, got {len(statements)}")
    statement = statements[0]
    if isinstance(statement, exp.Command) and statement.name.upper() == "EXPLAIN" and depth < _EXPLAIN_DEPTH:
        rest = statement.expression.name if statement.expression else ""
        if rest.upper().startswith("ANALYZE"):
            rest = rest[len("ANALYZE"):]
        _check(rest, con, what, depth + 1)
        return
    if not isinstance(statement, (exp.Query, exp.Describe, exp.Show, exp.Summarize, exp.Pivot)):
        raise UsageError(f"bad {what}: only read-only queries are allowed, got {_kind(statement)}")
    for node in statement.walk():
        if isinstance(node, _writing_nodes()):
            raise UsageError(f"bad {what}: only read-only queries are allowed, got {_kind(node)}")
    for name, table in _functions(sql, con, what):
        if (name not in READING_TABLE_FUNCTIONS) if table else (name in WRITING_SCALAR_FUNCTIONS):
            raise UsageError(f"bad {what}: only read-only queries are allowed, got the function {name}()")


def _functions(sql: str, con: Any, what: str) -> Iterator[tuple[str, bool]]:
    """Each function the statement calls, as DuckDB parses it: its lower-case name and whether it makes a table."""
    parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if parsed.get("error") and parsed.get("error_type") == "not implemented":  # a PIVOT statement: as a subquery
        parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"FROM ({sql}\n)"]).fetchall()[0][0])
    if parsed.get("error"):
        raise UsageError(f"bad {what}: cannot check that it only reads: {parsed.get('error_message')}")
    stack: list[Any] = [parsed["statements"]]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class") == "FUNCTION":
                yield node["function_name"].lower(), False
            elif node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
                yield node["function"]["function_name"].lower(), True
                stack.extend(v for k, v in node["function"].items() if k != "function_name")
                stack.extend(v for k, v in node.items() if k != "function")
                continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


@functools.cache
def _writing_nodes() -> tuple[type, ...]:
    from sqlglot import exp  # sqlglot loads on first use: the CLI starts faster

    return (exp.DML, exp.DDL, exp.Copy, exp.Command, exp.Attach, exp.Detach, exp.Install, exp.Set, exp.Pragma,
            exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Drop, exp.Alter, exp.TruncateTable)


def _kind(node) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return node.name.upper()
    return type(node).__name__.upper()
