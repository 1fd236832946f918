"""What a search runs on: the atlas's codes as an exact matrix, or its saved ANN index plus new rows.

:class:`Engine` answers "the k nearest stored ids of these query vectors,
among these allowed ids". It uses the approximate index under
``atlas/index/ann`` when one exists, was made by the current model, covers
rows that are all still there and serves the metric; rows added after it
was built are scanned exactly and merged in, so answers are never stale.
Otherwise, or with ``exact=True``, it scans every code: those the fresh
index keeps in float32 (an l2 or ip index holds them unchanged, and its
file loads faster than the table) or else those read from the table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..store.database import Store
from ..store.schema import FINGERPRINT_SETTING
from .ann import AnnIndex, metric_family
from .exact import ExactIndex, merge_neighbours, pad_neighbours

__all__ = ["Engine", "EngineCache", "load_matrix", "ann_dir"]


def ann_dir(store: Store) -> Path:
    """Where the atlas's approximate index lives."""
    return store.index_dir / "ann"


def load_matrix(store: Store, after: int = -1, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Ids (sorted) and codes of the rows with ``id > after``, filled batch by batch into one matrix."""
    d = store.code_size()
    if d is None:
        return np.empty(0, np.int64), np.empty((0, 0), dtype)
    count = store.scalar("SELECT count(*) FROM embeddings WHERE id > ?", [after])
    ids = np.empty(count, np.int64)
    matrix = np.empty((count, d), dtype)
    filled = 0
    for batch_ids, vectors in store.iter_vectors(after):
        ids[filled:filled + len(batch_ids)] = batch_ids
        matrix[filled:filled + len(batch_ids)] = vectors
        filled += len(batch_ids)
    if filled != count:
        raise RuntimeError(f"{store.path}: the embeddings changed while they were read")
    if count > 1 and np.any(np.diff(ids) <= 0):
        order = np.argsort(ids, kind="stable")
        ids, matrix = ids[order], matrix[order]
    return ids, matrix


@dataclass
class _Part:
    """Rows searched one way: their ids (sorted), the index over them, and what holds its memory."""

    ids: np.ndarray
    index: ExactIndex | AnnIndex
    owner: AnnIndex | None = None


class Engine:
    """The loaded rows of an atlas, ready to answer k-nearest-neighbour searches.

    Use :meth:`open`. ``kind`` is ``"exact"``, ``"hnsw"`` or ``"ivfpq"``;
    ``exact_rows`` counts the rows scanned exactly beside an ANN index.
    """

    def __init__(self, parts: list[_Part], kind: str, state: tuple):
        self.parts = parts
        self.kind = kind
        self.state = state
        self.exact_rows = sum(len(p.ids) for p in parts if isinstance(p.index, ExactIndex))

    @classmethod
    def open(cls, store: Store, metric: str, exact: bool = False, dtype: str = "float32") -> "Engine":
        """Load what searching ``store`` by ``metric`` needs (see the module's notes)."""
        state = _state(store)
        record = fresh_record(store)
        approximate = record is not None and not exact and record.metric == metric_family(metric)
        if not approximate and (record is None or record.metric == "cosine" or dtype != "float32"):
            ids, matrix = load_matrix(store, dtype=dtype)
            return cls([_Part(ids, ExactIndex(matrix, dtype))], "exact", state)
        ann = AnnIndex.load(ann_dir(store))
        parts = [_Part(ann.ids, ann) if approximate else _Part(ann.ids, ann.exact, owner=ann)]
        new_ids, new_rows = load_matrix(store, after=record.max_id, dtype=dtype)
        if len(new_ids):
            parts.append(_Part(new_ids, ExactIndex(new_rows, dtype)))
        return cls(parts, record.kind if approximate else "exact", state)

    @property
    def rows(self) -> int:
        """How many rows the engine searches."""
        return sum(len(p.ids) for p in self.parts)

    @property
    def ids(self) -> np.ndarray:
        """Every id the engine can return, sorted."""
        return np.sort(np.concatenate([p.ids for p in self.parts]))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The codes of stored ``ids`` (as held: normalised in a cosine index).

        Raises
        ------
        UsageError
            If some id has no code.
        """
        ids = np.asarray(ids, np.int64)
        out = np.empty((len(ids), self.parts[0].index.vectors.shape[1]), np.float32)
        found = np.zeros(len(ids), bool)
        for part in self.parts:
            position = np.searchsorted(part.ids, ids)
            inside = position < len(part.ids)
            hit = inside.copy()
            hit[inside] = part.ids[position[inside]] == ids[inside]
            out[hit] = part.index.vectors[position[hit]]
            found |= hit
        if not found.all():
            missing = ids[~found]
            raise UsageError(f"unknown id{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:5]))}"
                             f"{' ...' if len(missing) > 5 else ''} (no stored code)")
        return out

    def search(self, queries: np.ndarray, k: int, metric: str,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest ids per query ``(nq, d)`` among ``allowed`` ids (sorted; None: all).

        Returns ids and distances ``(nq, min(k, rows))``, nearest first,
        ties to the lower id; id -1 and distance inf fill slots when fewer
        rows match. ``k`` beyond the number of rows asks for nothing more,
        so it is cut there before anything is allocated.
        """
        k = min(k, max(self.rows, 1))
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        found_ids, found_distances = [], []
        for part in self.parts:
            mask = None if allowed is None else _isin_sorted(part.ids, allowed)
            if isinstance(part.index, AnnIndex):
                rows, distances = part.index.search(queries, k, metric, mask)
            else:
                rows, distances = pad_neighbours(*part.index.search(queries, k, metric, mask), k)
            found_ids.append(np.where(rows >= 0, part.ids[np.maximum(rows, 0)], -1))
            found_distances.append(distances)
        if len(self.parts) == 1:
            return found_ids[0], found_distances[0]
        return merge_neighbours(np.concatenate(found_ids, axis=1), np.concatenate(found_distances, axis=1), k)


class EngineCache:
    """Keeps the last engine of a session and reopens it only when the atlas has changed.

    Threads may share one cache (the server's requests do): lookups take
    turns, so the codes are loaded once, and a load's temporary DuckDB
    memory limit (a setting of the whole database) is restored before
    another begins.
    """

    def __init__(self) -> None:
        self._engines: dict[tuple, Engine] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, metric: str, exact: bool = False, dtype: str = "float32") -> Engine:
        """An engine for ``metric`` that reflects the atlas as it is now."""
        with self._lock:
            family = None if exact else _served_family(store, metric)
            key = ("exact", dtype) if family is None else (family, dtype)
            engine = self._engines.get(key)
            if engine is None or engine.state != _state(store):
                self._engines.clear()  # one engine at a time: each may hold the whole matrix
                engine = self._engines[key] = Engine.open(store, metric, family is None, dtype)
            return engine


def fresh_record(store: Store):
    """The saved index's record if its rows are all still stored as the current model made them, else None."""
    record = AnnIndex.read_record(ann_dir(store))
    if record is None or record.model != store.setting(FINGERPRINT_SETTING) or record.d != store.code_size():
        return None
    covered = store.scalar("SELECT count(*) FROM embeddings WHERE id <= ?", [record.max_id])
    return record if covered == record.rows else None


def _served_family(store: Store, metric: str) -> str | None:
    """The metric family the saved index would answer ``metric`` searches with, or None."""
    record = fresh_record(store)
    return record.metric if record is not None and record.metric == metric_family(metric) else None


def _state(store: Store) -> tuple:
    """What changes when rows are added or removed, the model changes, or the index is rebuilt."""
    record = ann_dir(store) / "record.json"
    stamp = record.stat().st_mtime_ns if record.is_file() else None
    return store.embedding_span(), store.setting(FINGERPRINT_SETTING), stamp


def _isin_sorted(ids: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Which of the sorted ``ids`` are among the sorted ``allowed``: a search per allowed id, not per row."""
    mask = np.zeros(len(ids), bool)
    if len(ids) == 0 or len(allowed) == 0:
        return mask
    first, last = int(ids[0]), int(ids[-1])
    if last - first + 1 == len(ids):  # ids without gaps (the usual atlas): an id's position is its offset
        inside = allowed[(allowed >= first) & (allowed <= last)]
        mask[inside - first] = True
        return mask
    position = np.minimum(np.searchsorted(ids, allowed), len(ids) - 1)
    mask[position[ids[position] == allowed]] = True
    return mask

