"""Which SQL only reads: a check on every node of the parsed statement, not on its type alone.

DuckDB reports ``EXPLAIN ANALYZE DELETE ...`` as an ``EXPLAIN`` and runs the
delete; ``WITH d AS (DELETE ... RETURNING *) SELECT ...`` is a ``SELECT``.
So the statement is parsed with sqlglot and refused when any node writes,
changes settings or reaches outside the tables: DML and DDL anywhere,
``COPY``, ``ATTACH``/``DETACH``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``,
``USE``, transactions, ``CALL`` and the table functions that run SQL of
their own (``query``, ``query_table``) or change state (``checkpoint``).
``EXPLAIN [ANALYZE] X`` is accepted exactly when ``X`` is. A statement
sqlglot cannot parse is refused: what cannot be checked is not run.
"""

from __future__ import annotations

import functools

from ..errors import UsageError, first_line

__all__ = ["check_reads_only"]

# Table and scalar functions that execute SQL text or change the database's state.
_WRITING_FUNCTIONS = frozenset({"query", "query_table", "checkpoint", "force_checkpoint", "nextval", "setseed"})
_EXPLAIN_DEPTH = 2  # EXPLAIN ANALYZE is two words; nothing needs more


def check_reads_only(sql: str, what: str = "query") -> None:
    """Refuse ``sql`` unless it is one statement that only reads.

    Raises
    ------
    UsageError
        ``"bad <what>: only read-only queries are allowed, got <node>"`` for a
        statement with a writing part, or ``"bad <what>: ..."`` when it is not
        one statement sqlglot can parse.
    """
    _check(sql, what, depth=0)


def _check(sql: str, what: str, depth: int) -> None:
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
        _check(rest, what, depth + 1)
        return
    if not isinstance(statement, (exp.Query, exp.Describe, exp.Show, exp.Summarize, exp.Pivot)):
        raise UsageError(f"bad {what}: only read-only queries are allowed, got {_kind(statement)}")
    for node in statement.walk():
        if isinstance(node, _writing_nodes()):
            raise UsageError(f"bad {what}: only read-only queries are allowed, got {_kind(node)}")
        if isinstance(node, exp.Func) and _function_name(node) in _WRITING_FUNCTIONS:
            raise UsageError(f"bad {what}: only read-only queries are allowed, got the function {_function_name(node)}()")


@functools.cache
def _writing_nodes() -> tuple[type, ...]:
    from sqlglot import exp  # sqlglot loads on first use: the CLI starts faster

    return (exp.DML, exp.DDL, exp.Copy, exp.Command, exp.Attach, exp.Detach, exp.Install, exp.Set, exp.Pragma,
            exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Drop, exp.Alter, exp.TruncateTable)


def _function_name(node) -> str:
    from sqlglot import exp

    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return name.lower()


def _kind(node) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Command):
        return node.name.upper()
    return type(node).__name__.upper()
