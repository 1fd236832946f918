"""Approximate nearest neighbours with FAISS: an HNSW graph or IVF-PQ, saved in the atlas.

::

    my.atlas/index/ann/
      index.faiss     the FAISS index (it keeps the float32 vectors, so every
                      answer's distance is recomputed exactly)
      ids.npy         the atlas id of each index position
      record.json     kind, metric, settings, the rows covered (count, largest
                      id) and the model that made them

An index serves one metric family: ``l2`` (also ``sqeuclidean``), ``ip``
or ``cosine`` (vectors normalised when added). Filters become a FAISS
bitmap id selector; a search that finds fewer than ``k`` allowed rows
widens (more HNSW candidates, more IVF lists) and finally scans the
allowed rows exactly, so ``k`` rows come back whenever ``k`` rows match.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..checks import at_least, one_of
from ..errors import BadInputError, UsageError
from ..progress import ProgressCallback, silent
from .exact import ExactIndex, exact_distances, merge_neighbours, pad_neighbours
from .metrics import METRICS, get_metric

__all__ = ["KINDS", "AnnSettings", "AnnRecord", "AnnIndex", "metric_family", "training_rows"]

KINDS = ("hnsw", "ivfpq")
FAMILIES = tuple(dict.fromkeys(m.family for m in METRICS.values()))  # the kinds of FAISS index
_ADD_ROWS = 20_000
_TRAIN_ROWS = 100_000
_EXACT_SHARE = 0.02  # filters keeping fewer rows than this share are answered by an exact scan of them
_WIDEN_ROUNDS = 6
_PARALLEL_QUERIES = 16  # fewer queries are searched on one thread


def metric_family(metric: str) -> str:
    """The index metric a search metric needs: ``sqeuclidean`` ranks like ``l2``."""
    return get_metric(metric).family


@dataclass(frozen=True, kw_only=True)
class AnnSettings:
    """How to build and query an approximate index.

    Parameters
    ----------
    kind : {"hnsw", "ivfpq"}
    metric : {"l2", "cosine", "ip"}
        The metric family served (``l2`` also serves ``sqeuclidean``).
    hnsw_m : int
        HNSW links per node.
    ef_construction, ef_search : int
        HNSW candidate list sizes when building and searching.
    nlist : int, optional
        IVF lists; default about sqrt(n), at most n / 39.
    pq_m : int, optional
        PQ sub-vectors; default the largest divisor of d not above d / 4.
    nprobe : int
        IVF lists visited per query.
    refine : int
        IVF-PQ re-ranks ``refine * k`` candidates with exact distances.
    seed : int
        Seed of the training sample and of FAISS's k-means.

    Raises
    ------
    UsageError
        Naming the parameter, on an unknown kind or metric or a size below 1.
    """

    kind: str = "ivfpq"
    metric: str = "l2"
    hnsw_m: int = 32
    ef_construction: int = 64
    ef_search: int = 128
    nlist: int | None = None
    pq_m: int | None = None
    nprobe: int = 12
    refine: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        one_of(KINDS)("kind", self.kind)
        object.__setattr__(self, "metric", metric_family(self.metric))  # the family served: sqeuclidean -> l2
        for name in ("hnsw_m", "ef_construction", "ef_search", "nprobe", "refine"):
            at_least(1)(name, getattr(self, name))
        for name in ("nlist", "pq_m"):
            if getattr(self, name) is not None:
                at_least(1)(name, getattr(self, name))


@dataclass
class AnnRecord:
    """What a saved index covers and how it was built."""

    kind: str
    metric: str
    d: int
    rows: int
    max_id: int
    model: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    built: str = ""


class AnnIndex:
    """A FAISS index over some of the atlas's rows, with the ids of its positions.

    Build with :meth:`build`, write with :meth:`save`, read with :meth:`load`.
    """

    def __init__(self, index: Any, ids: np.ndarray, record: AnnRecord):
        import faiss

        self.index = index
        self.ids = ids
        self.record = record
        self.settings = AnnSettings(**record.settings)
        flat = faiss.downcast_index(index.storage if record.kind == "hnsw" else index.refine_index)
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d)
        self.vectors = np.asarray(view).reshape(flat.ntotal, flat.d)
        self.exact = ExactIndex(self.vectors)  # the same codes, scanned exactly (keep self alive while used)
        self._nlist = faiss.downcast_index(index.base_index).nlist if record.kind == "ivfpq" else 0

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(cls, matrix: np.ndarray, ids: np.ndarray, settings: AnnSettings, model: str | None = None,
              progress: ProgressCallback = silent) -> "AnnIndex":
        """Build an index over ``matrix`` (rows in the order of ``ids``); see :meth:`build_from`."""
        chunks = ((ids[start:start + _ADD_ROWS], matrix[start:start + _ADD_ROWS])
                  for start in range(0, len(ids), _ADD_ROWS))
        return cls.build_from(chunks, len(ids), matrix[training_rows(len(ids), settings.seed)], settings, model, progress)

    @classmethod
    def build_from(cls, chunks: Iterable[tuple[np.ndarray, np.ndarray]], n: int, sample: np.ndarray,
                   settings: AnnSettings, model: str | None = None, progress: ProgressCallback = silent) -> "AnnIndex":
        """Build an index over ``n`` rows that come as ``(ids, vectors)`` chunks, holding one chunk at a time.

        ``sample``: the rows IVF-PQ is trained on, those at
        :func:`training_rows` (the same rows give the same index however
        the rows are chunked). The index keeps its own float32 copy of the
        rows (to re-rank exactly), so the build holds that, one chunk and
        the sample.

        Raises
        ------
        UsageError
            If there are too few rows for the kind (IVF-PQ needs 1,000).
        """
        import faiss

        d = sample.shape[1]
        start = time.perf_counter()
        metric = faiss.METRIC_L2 if settings.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        if settings.kind == "hnsw":
            if n < 1:
                raise UsageError("an index needs at least one row")
            index = faiss.IndexHNSWFlat(d, settings.hnsw_m, metric)
            index.hnsw.efConstruction = settings.ef_construction
        else:
            index = _ivfpq(sample, n, settings, metric)
        _reserve(index, settings.kind, n)
        ids = np.empty(n, np.int64)
        done = 0
        for chunk_ids, vectors in chunks:
            for offset in range(0, len(chunk_ids), _ADD_ROWS):
                index.add(_prepared(vectors[offset:offset + _ADD_ROWS], settings.metric))
            ids[done:done + len(chunk_ids)] = chunk_ids
            done += len(chunk_ids)
            progress("index", done, n)
        if done != n:
            raise RuntimeError(f"{done} rows came to an index of {n}")
        record = AnnRecord(
            kind=settings.kind, metric=settings.metric, d=d, rows=n, max_id=int(ids.max()) if n else -1,
            model=model, settings=asdict(settings), seconds=round(time.perf_counter() - start, 3),
            built=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        return cls(index, ids, record)

    # -- files ------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index into ``directory``, replacing any index there in one step."""
        import faiss

        directory = Path(directory)
        staging = directory.with_name(directory.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        faiss.write_index(self.index, str(staging / "index.faiss"))
        np.save(staging / "ids.npy", self.ids)
        (staging / "record.json").write_text(json.dumps(asdict(self.record), indent=2))
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            os.replace(directory, old)
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def read_record(directory: Path) -> AnnRecord | None:
        """The record of the index in ``directory``, or None if there is none."""
        path = Path(directory) / "record.json"
        if not path.is_file():
            return None
        try:
            return AnnRecord(**json.loads(path.read_text()))
        except (ValueError, TypeError) as error:
            raise BadInputError(f"{path}: not an index record ({error})") from None

    @classmethod
    def load(cls, directory: Path) -> "AnnIndex":
        """Read the index saved in ``directory``."""
        import faiss

        directory = Path(directory)
        record = cls.read_record(directory)
        if record is None:
            raise BadInputError(f"{directory}: no index here")
        try:
            index = faiss.read_index(str(directory / "index.faiss"))
            ids = np.load(directory / "ids.npy")
        except (RuntimeError, OSError, ValueError) as error:
            raise BadInputError(f"{directory}: cannot read the index ({error})") from None
        return cls(index, ids, record)  # read_index gives the derived type, and owns it

    # -- searching --------------------------------------------------------------------------

    def serves(self, metric: str) -> bool:
        """Whether this index can answer searches by ``metric``."""
        return metric_family(metric) == self.record.metric

    def search(self, queries: np.ndarray, k: int, metric: str,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest positions per query ``(nq, d)``, nearest first, -1 in empty slots.

        ``mask`` (bool per position) limits the answer to allowed rows;
        distances are exact (recomputed from the stored vectors).
        """
        if not self.serves(metric):
            raise UsageError(f"this index serves {self.record.metric}, not {metric}")
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        n = len(self.ids)
        allowed = n if mask is None else int(np.count_nonzero(mask))
        want = min(k, allowed)
        if mask is not None and allowed < max(_EXACT_SHARE * n, 4 * k):
            return self._exact_search(queries, k, metric, mask)
        prepared = _prepared(queries, self.record.metric)
        selector, _bits = _selector(mask)  # the bits must outlive the searches
        rows = np.full((len(queries), k), -1, np.int64)
        todo = np.arange(len(queries))
        fetch = k + max(8, k // 2)
        effort = min(n / allowed, 32.0)  # a filter passing 1 row in 10 needs about 10x the candidates
        for widen in range(_WIDEN_ROUNDS):
            found = self._candidates(prepared[todo], min(fetch << widen, n), effort * (1 << widen), selector)
            if rows.shape[1] < found.shape[1]:
                rows = np.pad(rows, ((0, 0), (0, found.shape[1] - rows.shape[1])), constant_values=-1)
            rows[todo, :found.shape[1]] = found
            short = (found >= 0).sum(axis=1) < want
            todo = todo[short]
            if len(todo) == 0:
                break
        rows = rows[:, :max(fetch, k)]  # the best candidates come first
        distances = exact_distances(self.vectors[np.maximum(rows, 0)], queries, metric)
        best, dist = merge_neighbours(rows, distances, k)
        if len(todo):  # the widest search still missed allowed rows: scan them exactly
            best[todo], dist[todo] = self._exact_search(queries[todo], k, metric, mask)
        return best, dist

    def _candidates(self, queries: np.ndarray, fetch: int, effort: float, selector: Any) -> np.ndarray:
        """Up to ``fetch`` positions per query, searching ``effort`` times harder than the settings."""
        import faiss

        s = self.settings
        if self.record.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(int(s.ef_search * effort), fetch), sel=selector)
        else:
            nprobe = min(int(s.nprobe * effort * effort), self._nlist)
            base = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
            params = faiss.IndexRefineSearchParameters(k_factor=float(s.refine), base_index_params=base)
        threads = faiss.omp_get_max_threads()
        if len(queries) < _PARALLEL_QUERIES:  # a team of threads only waits on itself for a few queries
            faiss.omp_set_num_threads(1)
        try:
            _, rows = self.index.search(queries, fetch, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return rows

    def _exact_search(self, queries: np.ndarray, k: int, metric: str,
                      mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return pad_neighbours(*self.exact.search(queries, k, metric, mask), k)


def _reserve(index: Any, kind: str, n: int) -> None:
    """Let the index's float32 copy of the rows grow to ``n`` rows in place.

    FAISS appends to a ``std::vector``, whose doubling would hold two
    copies at once; sizing it and emptying it again keeps the capacity.
    """
    import faiss

    flat = faiss.downcast_index(index.storage if kind == "hnsw" else index.refine_index)
    flat.codes.resize(n * flat.code_size)
    flat.codes.resize(0)


def _prepared(vectors: np.ndarray, family: str) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, np.float32)
    if family != "cosine":
        return vectors
    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.finfo(np.float32).tiny)
    return np.ascontiguousarray(vectors / norms, np.float32)


def _selector(mask: np.ndarray | None) -> tuple[Any, np.ndarray | None]:
    """A FAISS bitmap selector over positions (and the bits it points to, to keep alive)."""
    if mask is None:
        return None, None
    import faiss

    bits = np.packbits(np.asarray(mask, bool), bitorder="little")
    return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits


def training_rows(n: int, seed: int) -> np.ndarray:
    """The positions (sorted) of the rows an IVF-PQ index over ``n`` rows is trained on."""
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, _TRAIN_ROWS), replace=False))


def _ivfpq(sample: np.ndarray, n: int, settings: AnnSettings, metric: int) -> Any:
    """An IVF-PQ index over ``n`` rows trained on ``sample``, wrapped to re-rank with exact float32 vectors."""
    import faiss

    d = sample.shape[1]
    if n < 1000:
        raise UsageError(f"an ivfpq index needs at least 1,000 rows, the atlas has {n} (use kind hnsw)", parameter="kind")
    nlist = settings.nlist or max(1, min(int(math.sqrt(n)), n // 39))
    pq_m = settings.pq_m or max(m for m in range(1, max(1, d // 4) + 1) if d % m == 0)
    if d % pq_m:
        raise UsageError(f"pq_m must divide the code size {d}, got {pq_m}")
    nbits = int(np.clip(math.floor(math.log2(n / 39)), 4, 8))
    quantizer = faiss.IndexFlat(d, metric)
    ivf = faiss.IndexIVFPQ(quantizer, d, nlist, pq_m, nbits, metric)
    ivf.cp.seed = settings.seed
    ivf.pq.cp.seed = settings.seed
    index = faiss.IndexRefineFlat(ivf)
    index.train(_prepared(sample, settings.metric))
    index.k_factor = float(settings.refine)
    return index
