"""Nearest neighbours under filters, for one query or many: the core of search, batch search and duplicates.

Filters: ``where`` (any SQL predicate on ``images``, evaluated by DuckDB to
a set of allowed ids), ``exclude_within`` (drop rows whose time lies within
that window of the query's time) and ``exclude_self`` (drop the query's own
row). Whatever the engine, ``k`` rows come back whenever ``k`` rows pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..checks import at_least, one_of, parse_duration
from ..errors import BadInputError, UsageError
from ..progress import ProgressCallback, silent
from ..store.database import Store
from .engine import Engine, EngineCache
from .metrics import METRICS

__all__ = ["Filters", "Neighbours", "NeighbourOptions", "nearest", "parse_window", "read_ids", "search_batch"]

_BLOCK = 1024  # queries per engine call in a batch


def parse_window(window: str | timedelta | None, parameter: str = "exclude_within") -> timedelta | None:
    """``"1d"``, ``"6h"``, ``"1d12h"``, ``"30min"`` or a timedelta (see :func:`latentatlas.checks.parse_duration`)."""
    return parse_duration(window, parameter)


DTYPES = ("float32", "float16")


@dataclass(frozen=True, kw_only=True)
class NeighbourOptions:
    """How a nearest-neighbour query ranks: checked on creation, passed whole from the faces to the search.

    Parameters
    ----------
    k : int
        Neighbours per query (at least 1).
    metric : {"l2", "sqeuclidean", "cosine", "ip"}
    where : str, optional
        SQL predicate on ``images``, applied before ranking, so ``k`` rows
        come back whenever ``k`` rows match.
    exclude_within : str or timedelta, optional
        Leave out rows whose time lies within this window (``"1d"``, ``"6h"``) of the query's time.
    exact : bool
        Scan every code even when the atlas has an approximate index.
    dtype : {"float32", "float16"}
        How an exact scan holds the codes (float16: half the memory).

    Raises
    ------
    UsageError
        Naming the parameter, on ``k < 1``, an unknown metric or dtype, or a window that is not a positive duration.
    """

    k: int = 10
    metric: str = "l2"
    where: str | None = None
    exclude_within: str | timedelta | None = None
    exact: bool = False
    dtype: str = "float32"

    def __post_init__(self) -> None:
        at_least(1)("k", self.k)
        one_of(METRICS)("metric", self.metric)
        one_of(DTYPES)("dtype", self.dtype)
        parse_window(self.exclude_within)

    @property
    def window(self) -> timedelta | None:
        """``exclude_within`` as a timedelta (None: no window)."""
        return parse_window(self.exclude_within)


@dataclass
class Neighbours:
    """The ``k`` nearest ids of each query and their distances; id -1 marks an empty slot."""

    query_ids: np.ndarray
    ids: np.ndarray
    distances: np.ndarray
    settings: dict[str, Any]
    out: Path | None = None

    def records(self) -> list[dict[str, Any]]:
        """One ``{"query_id", "rank", "id", "distance"}`` per found neighbour."""
        return [
            {"query_id": int(q), "rank": rank, "id": int(i), "distance": float(d)}
            for q, row, dist in zip(self.query_ids, self.ids, self.distances)
            for rank, (i, d) in enumerate(zip(row, dist)) if i >= 0
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary; the neighbours themselves unless they went to a file."""
        data = {"query": self.settings, "queries": len(self.query_ids), "out": str(self.out) if self.out else None}
        if self.out is None:
            data["results"] = self.records()
        return data


@dataclass
class Filters:
    """Which stored rows a search may return; make with :meth:`of`, once for any number of queries.

    ``allowed`` are the ids a ``where`` predicate keeps (None: all);
    ``width`` the time window left out around each query's time.
    """

    allowed: np.ndarray | None = None
    width: np.timedelta64 | None = None
    ids: np.ndarray | None = None
    times: np.ndarray | None = None
    allowed_times: np.ndarray | None = None

    @classmethod
    def of(cls, store: Store, where: str | None = None, exclude_within: str | timedelta | None = None) -> "Filters":
        """Evaluate ``where`` (SQL on ``images``) and read the times a window needs.

        Raises
        ------
        UsageError
            On a bad predicate or window.
        """
        filters = cls(allowed=store.ids_where(where) if where else None)
        window = parse_window(exclude_within)
        if window is not None:
            filters.width = np.timedelta64(int(window.total_seconds() * 1e6), "us")
            filters.ids, filters.times = store.times()
            known = filters.times if filters.allowed is None else filters.times[np.isin(filters.ids, filters.allowed)]
            filters.allowed_times = np.sort(known[~np.isnat(known)])
        return filters

    def times_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored times of ``ids`` (NaT when unknown)."""
        position = np.clip(np.searchsorted(self.ids, ids), 0, max(len(self.ids) - 1, 0))
        found = self.ids[position] == ids if len(self.ids) else np.zeros(np.shape(ids), bool)
        return np.where(found, self.times[position], np.datetime64("NaT"))

    def near(self, query_time: np.datetime64) -> np.ndarray:
        """Ids of the rows within the window of one time (none for NaT)."""
        if np.isnat(query_time):
            return np.empty(0, np.int64)
        return self.ids[~np.isnat(self.times) & (np.abs(self.times - query_time) <= self.width)]

    def most_near(self, query_times: np.ndarray) -> int:
        """The largest number of allowed rows within the window of any of these times."""
        known = query_times[~np.isnat(query_times)]
        if len(known) == 0:
            return 0
        times = self.allowed_times
        return int((np.searchsorted(times, known + self.width, "right")
                    - np.searchsorted(times, known - self.width, "left")).max())

    def inside(self, ids: np.ndarray, query_times: np.ndarray) -> np.ndarray:
        """Whether each found id ``(nq, m)`` lies within its query's window."""
        times = self.times_of(ids)
        return (np.abs(times - query_times[:, None]) <= self.width) & ~np.isnat(times) & (ids >= 0)


def nearest(engine: Engine, vectors: np.ndarray, k: int, metric: str, filters: Filters | None = None,
            query_times: np.ndarray | None = None, exclude_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest stored ids of each query vector ``(nq, d)`` that pass the filters.

    ``query_times`` (``datetime64``, NaT for none) are the queries' times
    for a time window; ``exclude_ids`` the queries' own ids to leave out.
    Returns ids and distances ``(nq, min(k, stored rows))``; id -1 fills slots when fewer pass.
    """
    filters = filters or Filters()
    allowed = filters.allowed
    window = filters.width is not None and query_times is not None
    extra = 0 if exclude_ids is None else 1
    if window:
        query_times = np.asarray(query_times, "datetime64[us]")
        if len(vectors) == 1:  # one query: leave its window out of the allowed ids
            allowed = np.setdiff1d(engine.ids if allowed is None else allowed, filters.near(query_times[0]),
                                   assume_unique=True)
            window = False
        else:
            extra += filters.most_near(query_times)
    ids, distances = engine.search(vectors, k + extra, metric, allowed)
    if extra == 0:
        return ids, distances
    drop = ids < 0
    if window:
        drop |= filters.inside(ids, query_times)
    if exclude_ids is not None:
        drop |= ids == np.asarray(exclude_ids)[:, None]
    order = np.argsort(drop, axis=1, kind="stable")[:, :k]
    ids, distances = np.take_along_axis(ids, order, 1), np.take_along_axis(distances, order, 1)
    kept = ~np.take_along_axis(drop, order, 1)
    return np.where(kept, ids, -1), np.where(kept, distances, np.inf).astype(np.float32)


def read_ids(path: str | Path) -> np.ndarray:
    """Ids from a text file (numbers separated by spaces, commas or lines) or a Parquet/CSV ``id`` column.

    Raises
    ------
    BadInputError
        If the file cannot be read or holds something other than ids.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".csv"):
            import duckdb

            reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv_auto"
            return duckdb.sql(f"SELECT id FROM {reader}(?)", params=[str(path)]).fetchnumpy()["id"].astype(np.int64)
        words = path.read_text().replace(",", " ").split()
        return np.array([int(w) for w in words], np.int64)
    except (ValueError, OSError) as error:
        raise BadInputError(f"{path}: not a list of ids ({error})") from None
    except Exception as error:  # duckdb.Error: no id column, unreadable file
        raise BadInputError(f"{path}: not a table with an id column ({str(error).splitlines()[0]})") from None


def search_batch(
    store: Store,
    ids: Sequence[int] | np.ndarray | None = None,
    options: NeighbourOptions = NeighbourOptions(),
    exclude_self: bool = False,
    out: str | Path | None = None,
    engines: EngineCache | None = None,
    progress: ProgressCallback = silent,
) -> Neighbours:
    """The ``options.k`` nearest rows of many stored rows (``ids``; None: every row), e.g. for a kNN graph.

    Each row's first neighbour is itself unless ``exclude_self``. With
    ``out`` the neighbours are written as Parquet (``query_id, rank, id,
    distance``, one row per neighbour) instead of being kept.

    Raises
    ------
    UsageError
        On an unknown id or a bad filter.
    """
    k, metric, where, exclude_within = options.k, options.metric, options.where, options.exclude_within
    filters = Filters.of(store, where, exclude_within)
    engine = (engines or EngineCache()).get(store, metric, options.exact, options.dtype)
    query_ids = engine.ids if ids is None else np.asarray(ids, np.int64).reshape(-1)
    times = None if filters.width is None else filters.times_of(query_ids)
    columns = min(k, max(engine.rows, 1))  # no more neighbours than rows
    found = np.empty((len(query_ids), columns), np.int64)
    distances = np.empty((len(query_ids), columns), np.float32)
    progress("search", 0, len(query_ids))
    for start in range(0, len(query_ids), _BLOCK):
        block = slice(start, start + _BLOCK)
        found[block], distances[block] = nearest(
            engine, engine.vectors(query_ids[block]), k, metric, filters,
            None if times is None else times[block], query_ids[block] if exclude_self else None,
        )
        progress("search", min(start + _BLOCK, len(query_ids)), len(query_ids))
    settings = {"ids": "all" if ids is None else len(query_ids), "k": k, "metric": metric, "where": where,
                "exclude_within": None if exclude_within is None else str(exclude_within), "exclude_self": exclude_self,
                "engine": engine.kind}
    result = Neighbours(query_ids, found, distances, settings)
    if out is not None:
        result.out = _write_parquet(result, Path(out))
    return result


def _write_parquet(result: Neighbours, path: Path) -> Path:
    """Neighbours as one Parquet row each, written to a temporary name and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    k = result.ids.shape[1]
    keep = (result.ids >= 0).reshape(-1)
    table = pa.table({
        "query_id": np.repeat(result.query_ids, k)[keep],
        "rank": np.tile(np.arange(k, dtype=np.int32), len(result.query_ids))[keep],
        "id": result.ids.reshape(-1)[keep],
        "distance": result.distances.reshape(-1)[keep],
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, staging)
    os.replace(staging, path)
    return path
