"""Exact k-nearest-neighbour search over one contiguous matrix of codes.

The scan streams the matrix once per block of queries: BLAS computes the
inner products of a chunk of rows with every query, a cheap per-row term
turns them into a score that ranks like the metric (``|x|^2 / 2 - x.q``
for l2), and a running threshold keeps the best ``k + margin`` rows per
query (a partial sort, :mod:`latentatlas.search.topk`). Big scans use every core.
The distances of those few candidates are then recomputed exactly in
float64 (from differences for l2), re-ranked, and the best ``k`` returned,
so a stored vector is its own nearest neighbour at distance exactly 0.0.

The metrics and their scores are those of :mod:`latentatlas.search.metrics`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import numpy as np

from ..checks import at_least, one_of, validated
from ..errors import UsageError
from .metrics import METRICS, Metric, get_metric
from .topk import TopK, merge_topk

__all__ = [
    "METRICS", "ExactIndex", "exact_distances", "exact_search", "merge_neighbours", "pad_neighbours",
]

_SCORE_FLOATS = 1 << 19  # scores held per chunk and thread (2 MiB): rows x queries
_MIN_CHUNK_ROWS = 256
_MAX_CHUNK_ROWS = 16384
_PARALLEL_SCORES = 1 << 18  # scans computing fewer scores than this stay on one thread
_GATHER_BELOW = 0.25  # a filter keeping fewer rows than this share gathers them instead of masking


def exact_distances(vectors: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """Distances between ``vectors[..., j, :]`` and ``queries[..., :]`` by ``metric``, computed in float64.

    Parameters
    ----------
    vectors : ndarray of shape (nq, m, d) or (m, d)
    queries : ndarray of shape (nq, d) or (d,)

    Returns
    -------
    ndarray of shape (nq, m) or (m,), float32
    """
    return get_metric(metric).distance(vectors, queries)


def merge_neighbours(ids: np.ndarray, distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest per query of several candidate lists laid side by side.

    ``ids`` and ``distances`` are ``(nq, m)``; id -1 marks an empty slot.
    Ties go to the lower id; empty slots sort last and keep id -1.
    """
    distances = np.where(ids < 0, np.inf, distances)
    order = np.lexsort((np.where(ids < 0, np.iinfo(np.int64).max, ids), distances), axis=-1)[:, :k]
    return np.take_along_axis(ids, order, -1), np.take_along_axis(distances, order, -1).astype(np.float32)


def pad_neighbours(rows: np.ndarray, distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Widen ``(nq, m)`` results to ``(nq, k)`` with empty slots (row -1, distance inf)."""
    pad = k - rows.shape[1]
    if pad <= 0:
        return rows, distances
    return (np.pad(rows, ((0, 0), (0, pad)), constant_values=-1),
            np.pad(distances, ((0, 0), (0, pad)), constant_values=np.inf))


class ExactIndex:
    """Exact search over one contiguous matrix held in memory.

    Parameters
    ----------
    matrix : ndarray of shape (n, d)
        The codes; kept as given when already contiguous in ``dtype``.
    dtype : {"float32", "float16"}
        How the matrix is held. float16 halves the memory; distances are
        then those of the rounded codes (and queries are rounded alike).

    Examples
    --------
    >>> index = ExactIndex(np.eye(3, dtype=np.float32))
    >>> rows, distances = index.search(np.array([1, 0, 0], np.float32), k=2)
    >>> rows.tolist(), distances.tolist()
    ([0, 1], [0.0, 1.4142135381698608])
    """

    def __init__(self, matrix: np.ndarray, dtype: str = "float32"):
        if dtype not in ("float32", "float16"):
            raise UsageError(f"dtype must be float32 or float16, got {dtype!r}")
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        self.matrix = np.ascontiguousarray(matrix, dtype)
        self._row_terms: dict[str, np.ndarray] = {}

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.matrix.shape[0]

    @property
    def vectors(self) -> np.ndarray:
        """The matrix as held."""
        return self.matrix

    @property
    def d(self) -> int:
        """Numbers per row."""
        return self.matrix.shape[1]

    def _rows(self, start: int, stop: int) -> np.ndarray:
        block = self.matrix[start:stop]
        return block if block.dtype == np.float32 else block.astype(np.float32)

    def _norm_terms(self, metric: Metric) -> np.ndarray | None:
        """The metric's per-row term of the score: half the squared norm, or one over the norm."""
        kind = metric.row_term
        if kind is not None and kind not in self._row_terms:
            tiny = np.finfo(np.float32).tiny
            term = {"half_squared_norm": lambda x: 0.5 * np.einsum("ij,ij->i", x, x),
                    "inverse_norm": lambda x: 1.0 / np.maximum(np.linalg.norm(x, axis=1), tiny)}[kind]
            self._row_terms[kind] = self._per_chunk(term)
        return self._row_terms.get(kind) if kind is not None else None

    def _per_chunk(self, fn) -> np.ndarray:
        out = np.empty(self.n, np.float32)
        for start in range(0, self.n, _MAX_CHUNK_ROWS):
            out[start:start + _MAX_CHUNK_ROWS] = fn(self._rows(start, start + _MAX_CHUNK_ROWS))
        return out

    @validated(k=at_least(1), metric=one_of(METRICS))
    def search(self, queries: np.ndarray, k: int, metric: str = "l2",
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` rows nearest to each query, nearest first.

        Parameters
        ----------
        queries : ndarray of shape (d,) or (nq, d)
        k : int
            At most the number of allowed rows come back.
        metric : {"l2", "sqeuclidean", "cosine", "ip"}
        mask : ndarray of shape (n,), bool, optional
            Rows that may be returned; the others are skipped (a selective
            mask gathers its rows, a broad one masks the scan).

        Returns
        -------
        rows : ndarray of shape (m,) or (nq, m), int64
            Row positions, ``m = min(k, allowed rows)``; ties go to the lower row.
        distances : ndarray of the same shape, float32
        """
        single = np.ndim(queries) == 1
        queries = np.atleast_2d(queries)
        if self.matrix.dtype == np.float16:  # rounded like the codes, so a stored row is at distance 0
            queries = queries.astype(np.float16)
        queries = np.ascontiguousarray(queries, np.float32)
        if queries.shape[1] != self.d and self.n:
            raise UsageError(f"queries have {queries.shape[1]} numbers; the matrix rows have {self.d}")
        allowed = self.n if mask is None else int(np.count_nonzero(mask))
        if mask is not None and allowed < _GATHER_BELOW * self.n:
            positions = np.flatnonzero(mask)
            rows, distances = ExactIndex(self.matrix[positions], str(self.matrix.dtype)).search(queries, k, metric)
            rows = positions[rows]
        else:
            rows, distances = self._search(queries, min(k, allowed), metric, mask)
        return (rows[0], distances[0]) if single else (rows, distances)

    def _search(self, queries: np.ndarray, k: int, metric: str, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        nq = len(queries)
        if k == 0:
            return np.empty((nq, 0), np.int64), np.empty((nq, 0), np.float32)
        candidates = min(self.n if mask is None else int(np.count_nonzero(mask)), k + max(8, k // 2))
        rows = self._candidates(queries, candidates, METRICS[metric], mask)
        distances = exact_distances(self._rows_at(rows), queries, metric)
        return merge_neighbours(rows, distances, k)

    def _rows_at(self, rows: np.ndarray) -> np.ndarray:
        return self.matrix[np.maximum(rows, 0)]

    def _candidates(self, queries: np.ndarray, m: int, metric: Metric, mask: np.ndarray | None) -> np.ndarray:
        """Rows of the ``m`` best scores per query, -1 where fewer exist.

        Large scans run on every core: a batch is split by queries, a single
        query by rows, each part scanning with single-threaded BLAS.
        """
        nq = len(queries)
        if metric.unit_queries:
            norms = np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), np.finfo(np.float32).tiny)
            queries = np.ascontiguousarray(queries / norms, np.float32)
        terms = self._norm_terms(metric)
        penalty = None if mask is None else np.where(mask, np.float32(0), np.float32(np.inf))

        def scan(part: tuple[slice, int, int]) -> tuple[np.ndarray, np.ndarray]:
            chosen, start, stop = part
            return self._scan(queries[chosen], m, metric, terms, penalty, start, stop)

        threads = _threads() if nq * self.n >= _PARALLEL_SCORES else 1
        by_queries = nq >= 4 * threads
        edges = np.linspace(0, nq if by_queries else self.n, threads + 1).astype(int)
        parts = [(slice(a, b), 0, self.n) if by_queries else (slice(None), a, b) for a, b in zip(edges[:-1], edges[1:])]
        with _single_threaded_blas():  # BLAS's own threads only wait on each other for such thin products
            results = [scan(parts[0])] if threads == 1 else list(_pool().map(scan, parts))
        if by_queries:
            return np.concatenate([rows for rows, _ in results])
        return merge_topk(results, m)[0]

    def _scan(self, queries: np.ndarray, m: int, metric: Metric, terms: np.ndarray | None,
              penalty: np.ndarray | None, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``m`` best rows and scores per query among rows ``start .. stop``."""
        nq = len(queries)
        best = TopK(nq, m)
        chunk = int(np.clip(_SCORE_FLOATS // nq, _MIN_CHUNK_ROWS, _MAX_CHUNK_ROWS))
        buffer = np.empty(nq * chunk, np.float32)
        for first in range(start, stop, chunk):
            last = min(first + chunk, stop)
            scores = buffer[:nq * (last - first)].reshape(nq, last - first)
            block = self._rows(first, last)
            if nq == 1:
                np.matmul(block, queries[0], out=scores[0])
            else:
                np.matmul(queries, block.T, out=scores)
            metric.to_scores(scores, None if terms is None else terms[first:last])
            if penalty is not None:
                scores += penalty[first:last]
            best.add(scores, first)
        return best.result()


def exact_search(matrix: np.ndarray, query: np.ndarray, k: int, metric: str = "l2") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``matrix`` nearest to ``query`` (one ``(d,)`` or a batch ``(nq, d)``).

    A convenience over :class:`ExactIndex`; see :meth:`ExactIndex.search`.
    """
    return ExactIndex(matrix).search(query, k, metric)


def _threads() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="latentatlas-scan")


@lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS on one thread while our own threads split the work (and as before afterwards)."""
    with _blas().limit(limits=1, user_api="blas"):
        yield
