"""The atlas directory and its DuckDB tables.

::

    my.atlas/
      model/            config.json, weights.safetensors, history.json, loss.png
      atlas.duckdb      images, embeddings(id, vector FLOAT[d]), settings
      index/            approximate-search index files
      ingest/           Parquet shards of a distributed embed until they are ingested (store.parquet)

The store knows tables and files, not models: it takes and gives rows and
float32 matrices.
"""

from __future__ import annotations

import json
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

from ..errors import AtlasLockedError, AtlasNotFoundError, BadInputError, ModelMismatchError, UsageError, first_line
from .lock import locked_message
from .schema import BASE_TABLES, DERIVED_SETTINGS, DERIVED_TABLES, IMAGE_COLUMNS, embeddings_table
from .sql_guard import check_reads_only

__all__ = ["Store", "ImageRow", "QueryResult", "IMAGE_COLUMNS", "row_ids"]

DB_FILE = "atlas.duckdb"
T = TypeVar("T")
_SIGNAL_POLL_S = 0.1  # how often the main thread looks for Ctrl-C while a user's query runs
_ADDING: dict[str, threading.Lock] = {}  # per database file: the transactions that add rows take turns
_ADDING_GUARD = threading.Lock()

# every column of images plus the code, so queries written for one wide table (BigQuery's) need no join
_ITEMS_VIEW = "CREATE OR REPLACE {temp} VIEW items AS SELECT i.*, e.vector FROM images i JOIN embeddings e USING (id)"
_READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN")


def row_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """``ids`` as int64 row ids.

    Raises
    ------
    UsageError
        ``"unknown id N: row ids are whole numbers from 0 to 9223372036854775807"``
        for an id that does not fit DuckDB's BIGINT.
    """
    values = np.asarray(ids).reshape(-1)
    if values.dtype.kind == "i" or (values.dtype.kind == "u" and (not values.size or values.max() <= _BIGINT_MAX)):
        return values.astype(np.int64)
    wrong = next((i for i in values.astype(object) if not _is_bigint(i)), None)
    if wrong is not None:
        raise UsageError(f"unknown id {wrong}: row ids are whole numbers from 0 to {_BIGINT_MAX}")
    return values.astype(np.int64)


_BIGINT_MAX = np.iinfo(np.int64).max


def _is_bigint(value: Any) -> bool:
    try:
        return -_BIGINT_MAX - 1 <= int(value) <= _BIGINT_MAX and int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass
class ImageRow:
    """One row of the ``images`` table (the id is given by the store)."""

    uri: str
    sha256: str
    width: int
    height: int
    time: datetime | None = None
    label: str | None = None
    tile_row: int | None = None
    tile_col: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: Any, image: np.ndarray) -> "ImageRow":
        """The row of a source record (:class:`latentatlas.sources.Record`) read as ``image``."""
        return cls(uri=record.uri, sha256=record.sha256, width=int(image.shape[1]), height=int(image.shape[0]),
                   time=record.time, label=record.label, tile_row=record.tile_row, tile_col=record.tile_col,
                   meta=record.meta)


@dataclass
class QueryResult:
    """Columns and rows of a query, values as Python objects."""

    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict[str, Any]]:
        """Rows as ``{column: value}`` dicts."""
        return [dict(zip(self.columns, row)) for row in self.rows]


class Store:
    """The files and tables of one atlas.

    Parameters
    ----------
    path : path
        The atlas directory.
    read_only : bool
        Open the database read-only (several readers may share it).

    Attributes
    ----------
    predicates : Store or None
        Where :meth:`ids_where` evaluates ``where`` predicates, if not here.
    """

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.predicates: Store | None = None
        db = self.path / DB_FILE
        if read_only and not db.is_file():
            raise AtlasNotFoundError(f"{self.path}: no atlas here (build one with `latentatlas build`)")
        if not read_only:
            if self.path.exists() and not self.path.is_dir():
                raise UsageError(f"{self.path}: exists and is not a directory")
            self.path.mkdir(parents=True, exist_ok=True)
        import duckdb

        try:
            self.con = duckdb.connect(str(db), read_only=read_only)
            self._probe()
            if not read_only:
                self.con.execute(BASE_TABLES)
        except duckdb.Error as error:
            locked = locked_message(db, error, read_only)
            if locked is not None:
                raise AtlasLockedError(locked) from None
            raise BadInputError(f"{db}: damaged or not a DuckDB file: {first_line(error)}") from None
        self._ensure_items_view()
        from .switch import finish_model_switch  # the switch's module builds on this one

        finish_model_switch(self)

    def _probe(self) -> None:
        """Read the first row of every table, so a truncated or overwritten file is refused on open, not mid-command."""
        for (table,) in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            self.con.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchall()

    @property
    def model_dir(self) -> Path:
        """Where the model's files live."""
        return self.path / "model"

    @property
    def ingest_dir(self) -> Path:
        """Where a distributed embed leaves its Parquet shards (``atlas/ingest/<run>/``) until they are ingested."""
        return self.path / "ingest"

    @property
    def index_dir(self) -> Path:
        """Where approximate-search index files live."""
        return self.path / "index"

    def close(self) -> None:
        """Close the database connection."""
        self.con.close()

    def cursor(self, con: Any = None) -> "Store":
        """The same atlas over another connection: a new one to the open database (DuckDB's ``con.cursor()``), or ``con``.

        A connection runs one query at a time and is interrupted as a whole,
        so work in another thread (a server's request) takes its own.
        Settings of the database (file access, threads) are shared; closing
        the cursor leaves this store open. ``con`` is a connection of
        another DuckDB database that attached this atlas's file as its
        default catalog (the server evaluates ``where`` predicates in one
        with a memory limit of its own).
        """
        other = object.__new__(Store)
        other.path, other.read_only, other.predicates = self.path, self.read_only, None
        other.con = self.con.cursor() if con is None else con
        other._ensure_items_view()  # a read-only atlas's view is temporary: one per connection
        return other

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the body in one transaction: all of it lands, or none."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    @contextmanager
    def adding(self) -> Iterator[None]:
        """One transaction that adds rows, taking turns with every other one of this database in this process.

        DuckDB lets one process write a file, through any number of
        connections (two writable handles, several threads); the ids the
        body computes from the stored ones (``max(id) + 1``) then never
        collide with another's, which commits first.
        """
        key = str((self.path / DB_FILE).resolve())
        with _ADDING_GUARD:
            lock = _ADDING.setdefault(key, threading.Lock())
        with lock, self.transaction():
            yield

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The single value a query returns (fetched whole, so the connection is free after)."""
        return self.con.execute(sql, list(params)).fetchall()[0][0]

    # -- settings ---------------------------------------------------------------------------

    def setting(self, key: str, default: Any = None) -> Any:
        """A value stored under ``key`` in the ``settings`` table."""
        if not self.has_table("settings"):
            return default
        rows = self.con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchall()
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-able value under ``key``."""
        self.con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])

    # -- tables -----------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        """Whether a table or view of that name exists."""
        query = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
        return self.scalar(query, [name]) > 0

    def code_size(self) -> int | None:
        """The ``d`` of ``embeddings.vector FLOAT[d]``, or None before the first embed."""
        if not self.has_table("embeddings"):
            return None
        data_type = self.scalar(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'embeddings' AND column_name = 'vector'"
        )
        return int(data_type.split("[")[1].rstrip("]"))

    def ensure_embeddings(self, code_size: int) -> None:
        """Create ``embeddings(id, vector FLOAT[code_size])``, or check the existing one's size."""
        existing = self.code_size()
        if existing is None:
            self.con.execute(embeddings_table(code_size))
            self._ensure_items_view()
        elif existing != code_size:
            raise ModelMismatchError(
                f"{self.path}: the atlas holds codes of {existing} numbers but the model makes {code_size}"
            )

    def _ensure_items_view(self) -> None:
        """Give the atlas the view ``items`` once it has codes (a temporary one when read-only).

        Atlases made before the view existed get it when opened; read-only
        connections cannot write, so theirs lives as long as the connection.
        """
        if self.has_table("embeddings") and not self.has_table("items"):
            self.con.execute(_ITEMS_VIEW.format(temp="TEMP" if self.read_only else ""))

    def count(self, table: str = "images") -> int:
        """Number of rows of a table (0 if it does not exist)."""
        return self.scalar(f"SELECT count(*) FROM {table}") if self.has_table(table) else 0

    def known_keys(self) -> set[tuple[str, str]]:
        """``(uri, sha256)`` of every stored image, to skip them when embedding again."""
        return set(self.con.execute("SELECT uri, sha256 FROM images").fetchall())

    def next_id(self) -> int:
        """The id the next added row gets."""
        return self.scalar("SELECT coalesce(max(id) + 1, 0) FROM images")

    def add(self, rows: Sequence[ImageRow], vectors: np.ndarray) -> np.ndarray:
        """Add images with their codes in one transaction; returns their new ids."""
        import pyarrow as pa

        vectors = np.ascontiguousarray(vectors, np.float32)
        if len(rows) != len(vectors):
            raise ValueError(f"{len(rows)} rows but {len(vectors)} vectors")
        d = vectors.shape[1]
        if d != self.code_size():
            raise ModelMismatchError(f"{self.path}: the atlas holds codes of {self.code_size()} numbers, not {d}")
        images = pa.table({
            "id": np.zeros(len(rows), np.int64),  # the ids are given inside the transaction
            "uri": [r.uri for r in rows],
            "sha256": [r.sha256 for r in rows],
            "time": pa.array([r.time for r in rows], pa.timestamp("us")),
            "label": pa.array([r.label for r in rows], pa.string()),
            "tile_row": pa.array([r.tile_row for r in rows], pa.int32()),
            "tile_col": pa.array([r.tile_col for r in rows], pa.int32()),
            "width": pa.array([r.width for r in rows], pa.int32()),
            "height": pa.array([r.height for r in rows], pa.int32()),
            "meta": [json.dumps(r.meta) if r.meta else None for r in rows],
        })
        codes = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), d)
        with self.adding():
            first = self.next_id()
            ids = np.arange(first, first + len(rows), dtype=np.int64)
            self.con.register("_new_images", images.set_column(0, "id", pa.array(ids)))
            self.con.register("_new_embeddings", pa.table({"id": ids, "vector": codes}))
            try:
                self.con.execute("INSERT INTO images SELECT * FROM _new_images")
                self.con.execute(f"INSERT INTO embeddings SELECT id, vector::FLOAT[{d}] FROM _new_embeddings")
            finally:
                self.con.unregister("_new_images")
                self.con.unregister("_new_embeddings")
        return ids

    def clear(self, settings: dict[str, Any] | None = None) -> None:
        """Delete every image and code and everything made from them (the model stays), and store ``settings``.

        Cluster runs, centroids and ORB features go in the same transaction
        as the rows, and ``settings`` are stored in it; the approximate-search
        index and the shards of unfinished distributed embeds go once it
        commits. Ids restart at 0 after a clear, so a derived row left
        behind would belong to a new image.
        """
        with self.transaction():
            self.con.execute("DELETE FROM images")
            for derived in DERIVED_TABLES:
                if self.has_table(derived):
                    self.con.execute(f"DROP TABLE {derived}")
            self.con.execute(f"DELETE FROM settings WHERE {DERIVED_SETTINGS}")
            for key, value in (settings or {}).items():
                self.set_setting(key, value)
        shutil.rmtree(self.index_dir, ignore_errors=True)
        shutil.rmtree(self.ingest_dir, ignore_errors=True)

    # -- reading ----------------------------------------------------------------------------

    def vectors(self, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ids (int64) and codes (float32 matrix, C order) of all rows or of ``ids``, by id.

        Reading ``ids``, DuckDB caches little of the table beyond them.
        """
        if self.code_size() is None:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        if ids is None:
            table = self.con.sql("SELECT id, vector FROM embeddings ORDER BY id").to_arrow_table()
        else:
            import pyarrow as pa

            self.con.register("_wanted", pa.table({"id": row_ids(ids)}))
            try:  # DuckDB caches little of the table it scans: the memory follows the ids
                with self._small_cache(extra_mib=2 * len(ids) * self.code_size() * 4 // (1 << 20)):
                    table = self.con.sql(
                        "SELECT e.id, e.vector FROM embeddings e SEMI JOIN _wanted w ON e.id = w.id ORDER BY e.id"
                    ).to_arrow_table()
            finally:
                self.con.unregister("_wanted")
        found = table.column("id").to_numpy()
        flat = table.column("vector").combine_chunks().flatten().to_numpy()
        return found, np.ascontiguousarray(flat.reshape(len(found), self.code_size()), np.float32)

    def embedding_ids(self) -> np.ndarray:
        """The ids of every stored code, sorted (int64)."""
        if self.code_size() is None:
            return np.empty(0, np.int64)
        return self.con.execute("SELECT id FROM embeddings ORDER BY id").fetchnumpy()["id"].astype(np.int64)

    def embedding_span(self) -> tuple[int, int]:
        """How many codes are stored and the largest id among them (-1 when none)."""
        if self.code_size() is None:
            return 0, -1
        count, largest = self.con.execute("SELECT count(*), coalesce(max(id), -1) FROM embeddings").fetchall()[0]
        return int(count), int(largest)

    def iter_vectors(self, after: int = -1, batch_rows: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Ids and codes of the rows with ``id > after``, batch by batch in stored order.

        The whole table is never held at once, and DuckDB's cache is kept
        small while scanning, so a caller can fill one preallocated matrix.
        """
        d = self.code_size()
        if d is None:
            return
        with self._small_cache():
            yield from self._vector_batches(after, batch_rows, d)

    @contextmanager
    def _small_cache(self, extra_mib: int = 0) -> Iterator[None]:
        """DuckDB caches little beyond what it holds (and ``extra_mib`` for results) while a scan runs.

        Unless the configuration is locked.
        """
        if self.configuration_locked():
            yield
            return
        limit = self.scalar("SELECT current_setting('memory_limit')")
        in_use = self.scalar("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()")
        self.con.execute(f"SET memory_limit = '{in_use // (1 << 20) + 16 + extra_mib}MiB'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{limit}'")

    def _vector_batches(self, after: int, batch_rows: int, d: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        reader = self.con.sql(f"SELECT id, vector FROM embeddings WHERE id > {int(after)}").to_arrow_reader(batch_rows)
        for batch in reader:
            ids = batch.column(0).to_numpy().astype(np.int64, copy=False)
            flat = batch.column(1).flatten().to_numpy()
            yield ids, flat.reshape(len(ids), d)

    def times(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids (sorted) of all ``images`` rows and their ``time`` as ``datetime64[us]`` (NaT when unknown)."""
        table = self.con.sql("SELECT id, time FROM images ORDER BY id").fetchnumpy()
        times = np.ma.filled(table["time"], np.datetime64("NaT")).astype("datetime64[us]")
        return table["id"].astype(np.int64), times

    def images(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The ``images`` rows of ``ids`` as dicts keyed by id (missing ids are absent)."""
        if len(ids) == 0:
            return {}
        placeholders = ", ".join("?" * len(ids))
        result = self.con.execute(f"SELECT * FROM images WHERE id IN ({placeholders})", row_ids(ids).tolist())
        columns = [d[0] for d in result.description]
        rows = {}
        for values in result.fetchall():
            row = dict(zip(columns, values))
            row["meta"] = json.loads(row["meta"]) if row["meta"] else {}
            rows[row["id"]] = row
        return rows

    def ids_where(self, predicate: str) -> np.ndarray:
        """Ids of the ``images`` rows for which an SQL predicate holds.

        When :attr:`predicates` is set, the predicate runs on that store's
        connection instead.

        Raises
        ------
        UsageError
            If the predicate is not valid SQL on ``images`` or is more than
            one expression.
        """
        if self.predicates is not None:
            return self.predicates.ids_where(predicate)
        query = f"SELECT id FROM images WHERE ({predicate}) ORDER BY id"
        try:
            self._check_read_only(query, what=f"where predicate {predicate!r}")
        except UsageError as error:
            raise UsageError(str(error), parameter="where") from None
        try:
            with self._rolled_back():
                return self._interruptible(lambda: self.con.sql(query).fetchnumpy()["id"].astype(np.int64))
        except Exception as error:  # duckdb.Error subclasses: parser, binder, conversion
            message = first_line(error)
            if "column" in message and "not found" in message:
                message += f" (the columns of images: {', '.join(IMAGE_COLUMNS)})"
            raise UsageError(f"bad where predicate {predicate!r}: {message}", parameter="where") from None

    def query(self, sql: str) -> QueryResult:
        """Run one read-only statement (SELECT, WITH ... SELECT, EXPLAIN of a read) and return its rows.

        Every node of the statement is checked (see :mod:`latentatlas.store.sql_guard`);
        on a writable atlas the statement also runs inside a transaction that
        is rolled back, so nothing it might do to the tables is kept.
        """
        self._check_read_only(sql, what="query")
        self.lock_configuration()
        try:
            with self._rolled_back():
                return self._interruptible(lambda: self._fetch(sql))
        except Exception as error:  # duckdb.Error subclasses
            raise UsageError(f"query failed: {first_line(error)}") from None

    def values_of(self, ids: np.ndarray, expression: str) -> list[tuple[int, Any]]:
        """``(id, value)`` of an SQL expression on ``images`` for the stored ``ids``, by id.

        The expression is checked as a user's query is (:meth:`query`), then
        evaluated on those rows only, so the memory follows ``ids``, not the table.

        Raises
        ------
        UsageError
            If the expression is not valid read-only SQL on ``images``.
        """
        import pyarrow as pa

        self.query(f"SELECT ({expression}) AS value FROM images LIMIT 0")
        self.con.register("_wanted", pa.table({"id": row_ids(ids)}))
        try:
            with self._rolled_back():
                return self.con.execute(f"SELECT id, ({expression}) FROM images "
                                        "WHERE id IN (SELECT id FROM _wanted) ORDER BY id").fetchall()
        finally:
            self.con.unregister("_wanted")

    def _fetch(self, sql: str) -> QueryResult:
        result = self.con.execute(sql)
        return QueryResult([d[0] for d in result.description], result.fetchall())

    def _interruptible(self, work: Callable[[], T]) -> T:
        """``work()``, which runs a query on :attr:`con`, stopped within a tenth of a second by Ctrl-C.

        Some plans (a recursive CTE) never look for signals while they run,
        so in the main thread the query runs in a worker while the main
        thread waits, ready for SIGINT: it then interrupts the connection
        (DuckDB's ``interrupt()``), waits for the worker and raises
        KeyboardInterrupt. In other threads ``work`` simply runs.
        """
        if threading.current_thread() is not threading.main_thread():
            return work()
        outcome: list[Any] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append((work(), None))
            except BaseException as error:  # handed to the caller's thread
                outcome.append((None, error))
            finally:
                done.set()

        threading.Thread(target=run, name="latentatlas-query", daemon=True).start()
        try:
            while not done.wait(_SIGNAL_POLL_S):
                pass
        except KeyboardInterrupt:
            self.con.interrupt()
            done.wait()
            raise
        result, error = outcome[0]
        if error is not None:
            raise error
        return result

    def lock_configuration(self) -> None:
        """Forbid every later change of the database's settings, on every connection (DuckDB's ``lock_configuration``).

        For connections that run their users' SQL: no statement, table
        function or extension can then turn on logging, profiling or file
        access. :meth:`iter_vectors` then leaves the memory limit as it is.
        """
        if not self.configuration_locked():
            self.con.execute("SET lock_configuration = true")

    def configuration_locked(self) -> bool:
        """Whether :meth:`lock_configuration` was called on this database."""
        return bool(self.scalar("SELECT current_setting('lock_configuration')"))

    @contextmanager
    def _rolled_back(self) -> Iterator[None]:
        if self.read_only:  # DuckDB itself refuses every write
            yield
            return
        self.con.begin()
        try:
            yield
        finally:
            self.con.rollback()

    def _check_read_only(self, sql: str, what: str) -> None:
        import duckdb

        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as error:
            raise UsageError(f"bad {what}: {first_line(error)}") from None
        if len(statements) != 1:
            raise UsageError(f"bad {what}: expected one statement, got {len(statements)}")
        try:
            kind = statements[0].type.name
        except ValueError:  # a statement type newer than the Python client's names (UPDATE EXTENSIONS)
            kind = sql.split(None, 1)[0].upper() if sql.split() else "an unnamed statement"
        if kind not in _READ_ONLY_STATEMENTS:
            raise UsageError(f"bad {what}: only read-only queries are allowed, got {kind}")
        check_reads_only(sql, self.con, what)
