"""SQL: read-only queries on the atlas, written in DuckDB's SQL or translated from another dialect."""

from __future__ import annotations

from ..errors import UsageError, first_line
from ..store.database import QueryResult, Store

__all__ = ["dialects", "translate", "sql"]


def dialects() -> list[str]:
    """The SQL dialects sqlglot reads (``bigquery``, ``postgres``, ``snowflake``, ...)."""
    import sqlglot

    return sorted(d.value for d in sqlglot.Dialects if d.value)


def translate(query: str, dialect: str) -> str:
    """One statement written in ``dialect`` as DuckDB SQL (sqlglot's transpiler).

    BigQuery's ``UNNEST(v) AS x WITH OFFSET AS i`` becomes DuckDB's
    ``UNNEST ... WITH ORDINALITY`` and ``v[OFFSET(i)]`` the matching 1-based
    subscript, so the weather article's queries run unchanged but for the
    table name.

    Raises
    ------
    UsageError
        On an unknown dialect, a statement sqlglot cannot parse, a construct
        it cannot express in DuckDB, or more than one statement.
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel, SqlglotError

    name = dialect.strip().lower()
    known = dialects()
    if name not in known:
        raise UsageError(f"unknown SQL dialect {dialect!r}; sqlglot reads {', '.join(known)}")
    if name == "duckdb":
        return query
    try:
        statements = sqlglot.transpile(query, read=name, write="duckdb", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise UsageError(f"cannot translate the {name} query to DuckDB: {first_line(error)}") from None
    if len(statements) != 1:
        raise UsageError(f"bad query: expected one statement, got {len(statements)}")
    return statements[0]


def sql(store: Store, query: str, dialect: str | None = None) -> QueryResult:
    """Run one read-only statement, translated from ``dialect`` first when one is given.

    Raises
    ------
    UsageError
        If the translation fails, or the statement is not read-only or fails
        (the message then shows the DuckDB SQL it ran).
    """
    if dialect is None:
        return store.query(query)
    translated = translate(query, dialect)
    try:
        return store.query(translated)
    except UsageError as error:
        raise UsageError(f"{error} (as DuckDB SQL: {' '.join(translated.split())})") from None
