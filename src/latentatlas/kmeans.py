"""K-means with k-means++ seeding and seeded restarts, as a scikit-learn estimator.

Two engines run the Lloyd iterations: ``faiss`` (default; Hamerly's bounds
skip the rows whose centre cannot change, FAISS finds the two nearest
centres of the others, see :mod:`latentatlas.lloyd`) and scikit-learn's
``KMeans``. Both start from the same greedy k-means++ seeds and stop on the
same rule, so they differ in speed, not in what they compute.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from .errors import UsageError
from .lloyd import bounded_lloyd
from .threads import idle_cores

__all__ = ["KMeans", "ENGINES", "assign"]

ENGINES = ("faiss", "sklearn")
_CHUNK = 1 << 16
_SMALL_WORK = 1 << 24
_SEED_CHUNK = 1 << 14


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
    init_size : int or None, default=None
        Rows sampled for k-means++ seeding; None seeds on all rows.
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
                 engine: str = "faiss", init_size: int | None = None, random_state=None):
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
        if self.init_size is not None and (not isinstance(self.init_size, (int, np.integer)) or self.init_size < 1):
            raise UsageError(f"init_size must be an integer >= 1 or None, got {self.init_size!r}")

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
        tol = float(self.tol) * float(np.mean(np.var(X, axis=0, dtype=np.float64)))
        best = None
        with _faiss_threads(X.size * self.n_clusters):
            for _ in range(self.n_init):
                seeds = _kmeans_plusplus(X, self.n_clusters, self._init_size(len(X)), rng)
                lloyd = bounded_lloyd if self.engine == "faiss" else _lloyd_sklearn
                centers, n_iter = lloyd(X, seeds, self.max_iter, tol, rng)
                labels, squared = assign(X, centers)
                inertia = float(squared.sum(dtype=np.float64))
                if best is None or inertia < best[2]:
                    best = (centers, labels, inertia, n_iter)
        self.cluster_centers_, self.labels_, self.inertia_, self.n_iter_ = best
        return self

    def _init_size(self, n: int) -> int:
        return n if self.init_size is None else min(n, max(self.init_size, self.n_clusters))

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


def _kmeans_plusplus(X: np.ndarray, k: int, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Greedy k-means++ seeds on ``size`` sampled rows (all rows when ``size >= n``).

    Each step draws ``2 + ln k`` candidates with probability proportional
    to their squared distance to the nearest seed so far and keeps the one
    that lowers the sum of those distances most (scikit-learn's variant,
    in float32 with one thin matrix product per step, on the idle cores).
    """
    from threadpoolctl import threadpool_limits

    if size < len(X):
        X = X[np.sort(rng.choice(len(X), size, replace=False))]
    n = len(X)
    trials = 2 + int(np.log(k))
    norms = np.einsum("ij,ij->i", X, X)
    seeds = np.empty((k, X.shape[1]), np.float32)
    first = rng.randint(n)
    seeds[0] = X[first]
    with threadpool_limits(idle_cores(), user_api="blas"):
        closest = _squared_distances(X, norms, X[[first]])[:, 0]
        distances = np.empty((n, trials), np.float32)
        ones = np.ones(_SEED_CHUNK, np.float32)
        for c in range(1, k):
            cumulative = np.cumsum(closest, dtype=np.float64)
            candidates = np.minimum(np.searchsorted(cumulative, rng.uniform(size=trials) * cumulative[-1]), n - 1)
            potentials = np.zeros(trials)
            for start in range(0, n, _SEED_CHUNK):  # in chunks that stay in cache
                rows = slice(start, start + _SEED_CHUNK)
                chunk = _squared_distances(X[rows], norms[rows], X[candidates])
                np.minimum(chunk, closest[rows, None], out=distances[rows])
                potentials += ones[:len(chunk)] @ distances[rows]  # a matrix product sums fastest
            best = int(np.argmin(potentials))
            closest = np.ascontiguousarray(distances[:, best])
            seeds[c] = X[candidates[best]]
    return seeds


def _squared_distances(X: np.ndarray, norms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``(n, m)`` of the rows of ``X`` (squared norms given) to ``points``."""
    out = X @ (-2.0 * points.T)
    out += norms[:, None]
    out += np.einsum("ij,ij->i", points, points)
    return np.maximum(out, 0.0, out=out)


def _lloyd_sklearn(X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float,
                   rng: np.random.RandomState) -> tuple[np.ndarray, int]:
    """scikit-learn's Lloyd iterations from ``centers`` (its ``tol`` is relative, ours absolute)."""
    from sklearn.cluster import KMeans as SklearnKMeans

    variance = float(np.mean(np.var(X, axis=0, dtype=np.float64)))
    model = SklearnKMeans(len(centers), init=centers, n_init=1, max_iter=max_iter,
                          tol=tol / variance if variance > 0 else 0.0, random_state=rng, algorithm="lloyd")
    model.fit(X)
    return np.ascontiguousarray(model.cluster_centers_, np.float32), int(model.n_iter_)
