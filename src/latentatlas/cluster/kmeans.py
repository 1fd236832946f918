"""K-means with k-means++ seeding and seeded restarts, as a scikit-learn estimator.

Two engines run the Lloyd iterations: ``faiss`` (default; Hamerly's bounds
skip the rows whose centre cannot change, FAISS finds the two nearest
centres of the others, see :mod:`latentatlas.cluster.lloyd`) and scikit-learn's
``KMeans``. Both start from the same greedy k-means++ seeds and stop on the
same rule, so they differ in speed, not in what they compute.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ..errors import UsageError
from ..threads import idle_cores
from .lloyd import bounded_lloyd
from .seeding import kmeans_plusplus

__all__ = ["KMeans", "ENGINES", "SEED_ROWS_PER_CLUSTER", "assign", "check_init_size"]

ENGINES = ("faiss", "sklearn")
SEED_ROWS_PER_CLUSTER = 256  # init_size="auto"; FAISS trains on at most this many rows per centroid
_CHUNK = 1 << 16
_SMALL_WORK = 1 << 24


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means clustering: k-means++ seeds, Lloyd iterations, best of several restarts.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters ``k``.
    n_init : int, default=4
        Restarts, each from its own k-means++ seeds; the one of lowest
        inertia is kept.
    max_iter : int, default=50
        Upper bound on Lloyd iterations per restart.
    tol : float, default=1e-4
        Stop when the squared shift of the centres, summed, is at most
        ``tol`` times the mean variance of the features (scikit-learn's rule).
        ``0`` runs ``max_iter`` iterations.
    engine : {"faiss", "sklearn"}, default="faiss"
        What runs the Lloyd iterations.
    init_size : int, "auto" or "all", default="auto"
        Rows sampled for the k-means++ seeding: ``"auto"`` takes
        256 per cluster (FAISS's sampling rule) when there are more rows,
        ``"all"`` seeds on every row (as scikit-learn does), an int takes
        that many. The Lloyd iterations always use every row.
    random_state : int, RandomState or None, default=None
        Seeds the samples and the k-means++ draws of every restart.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features), float32
    labels_ : ndarray of shape (n_samples,), int64
        Cluster of each training row.
    inertia_ : float
        Sum of squared distances of the rows to their centres.
    n_iter_ : int
        Iterations run by the restart kept.
    n_features_in_ : int

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 10].astype(np.float32)
    >>> KMeans(n_clusters=2, random_state=0).fit(X).inertia_
    0.0
    """

    def __init__(self, n_clusters: int = 8, *, n_init: int = 4, max_iter: int = 50, tol: float = 1e-4,
                 engine: str = "faiss", init_size: int | str = "auto", random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.engine = engine
        self.init_size = init_size
        self.random_state = random_state

    def _check_params(self) -> None:
        for name in ("n_clusters", "n_init", "max_iter"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.tol, (int, float)) or not self.tol >= 0:
            raise UsageError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.engine not in ENGINES:
            raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        check_init_size(self.init_size)

    def fit(self, X, y=None) -> "KMeans":
        """Cluster the rows of ``X`` (``y`` is ignored).

        Raises
        ------
        UsageError
            On a bad parameter, or fewer rows than clusters.
        """
        self._check_params()
        X = validate_data(self, X, dtype=np.float32, order="C")
        if len(X) < self.n_clusters:
            raise UsageError(f"n_samples={len(X)} should be >= n_clusters={self.n_clusters}")
        rng = check_random_state(self.random_state)
        tol = float(self.tol) * float(np.mean(np.var(X, axis=0, dtype=np.float64))) if self.tol else 0.0
        best = None
        with _faiss_threads(X.size * self.n_clusters):
            for _ in range(self.n_init):
                seeds = _seeds(X, self.n_clusters, self._init_size(len(X)), rng)
                lloyd = bounded_lloyd if self.engine == "faiss" else _lloyd_sklearn
                centers, n_iter = lloyd(X, seeds, self.max_iter, tol, rng)
                labels, squared = assign(X, centers)
                inertia = float(squared.sum(dtype=np.float64))
                if best is None or inertia < best[2]:
                    best = (centers, labels, inertia, n_iter)
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        return self

    def _init_size(self, n: int) -> int:
        if self.init_size == "all":
            return n
        wanted = SEED_ROWS_PER_CLUSTER * self.n_clusters if self.init_size == "auto" else self.init_size
        return min(n, max(int(wanted), self.n_clusters))

    def predict(self, X) -> np.ndarray:
        """The nearest centre of each row of ``X``."""
        return assign(self._validate(X), self.cluster_centers_)[0]

    def transform(self, X) -> np.ndarray:
        """Euclidean distances ``(n_samples, n_clusters)`` of the rows to every centre."""
        X = self._validate(X)
        from sklearn.metrics import pairwise_distances

        return pairwise_distances(X, self.cluster_centers_).astype(np.float32)

    def score(self, X, y=None) -> float:
        """Minus the inertia of ``X`` against the centres (higher is better)."""
        return -float(assign(self._validate(X), self.cluster_centers_)[1].sum(dtype=np.float64))

    def _validate(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float32, order="C", reset=False)


def check_init_size(init_size) -> None:
    """Raise :class:`UsageError` unless ``init_size`` is ``"auto"``, ``"all"`` or an integer >= 1."""
    if init_size in ("auto", "all"):
        return
    if not isinstance(init_size, (int, np.integer)) or isinstance(init_size, bool) or init_size < 1:
        raise UsageError(f"init-size must be 'auto', 'all' or an integer >= 1, got {init_size!r}")


def assign(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre (int64) and squared Euclidean distance (float32) of each row.

    Exact: FAISS's flat L2 search, ties to the lower centre.
    """
    import faiss

    X = np.ascontiguousarray(X, np.float32)
    index = faiss.IndexFlatL2(X.shape[1])
    index.add(np.ascontiguousarray(centers, np.float32))
    labels = np.empty(len(X), np.int64)
    squared = np.empty(len(X), np.float32)
    with _faiss_threads(X.size * len(centers)):
        for start in range(0, len(X), _CHUNK):
            distances, nearest = index.search(X[start:start + _CHUNK], 1)
            labels[start:start + len(nearest)] = nearest[:, 0]
            squared[start:start + len(nearest)] = np.maximum(distances[:, 0], 0.0)
    return labels, squared


@contextmanager
def _faiss_threads(work: int) -> Iterator[None]:
    """Run FAISS on the idle cores (see :func:`~latentatlas.threads.idle_cores`), on one for small ``work``.

    ``work`` is rows x features x centres; waking threads costs more than a
    small problem.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    wanted = 1 if work < _SMALL_WORK else min(threads, idle_cores())
    faiss.omp_set_num_threads(wanted)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _seeds(X: np.ndarray, k: int, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Greedy k-means++ seeds from ``size`` sampled rows (all rows when ``size >= n``)."""
    if size < len(X):
        X = X[np.sort(rng.choice(len(X), size, replace=False))]
    return kmeans_plusplus(X, k, rng)


def _lloyd_sklearn(X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float,
                   rng: np.random.RandomState) -> tuple[np.ndarray, int]:
    """scikit-learn's Lloyd iterations from ``centers`` (its ``tol`` is relative, ours absolute)."""
    from sklearn.cluster import KMeans as SklearnKMeans

    variance = float(np.mean(np.var(X, axis=0, dtype=np.float64)))
    model = SklearnKMeans(len(centers), init=centers, n_init=1, max_iter=max_iter,
                          tol=tol / variance if variance > 0 else 0.0, random_state=rng, algorithm="lloyd")
    model.fit(X)
    return np.ascontiguousarray(model.cluster_centers_, np.float32), int(model.n_iter_)
