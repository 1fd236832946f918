"""Lloyd's k-means iterations that skip the rows whose centre cannot change (Hamerly's bounds).

Each row keeps an upper bound on the distance to its centre and a lower
bound on the distance to every other centre. When the centres move, the
bounds move by the shifts; a row is looked at again only when its upper
bound is no longer below both its lower bound and half the distance from
its centre to the nearest other centre (G. Hamerly, "Making k-means even
faster", SDM 2010). Those rows get their two nearest centres from FAISS,
and the sums behind the centres are corrected by the rows that changed
cluster. The iterations compute what plain Lloyd iterations compute; once
few rows change, they compute a small fraction of the distances.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bounded_lloyd"]

_SLACK = 1e-4  # relative: FAISS's float32 distances are not exact, so near-ties are always looked at
_SPLIT = 1.0 / 1024.0  # how far apart the two halves of a split cluster start, relative to its centre


def bounded_lloyd(X: np.ndarray, centers: np.ndarray, max_iter: int, tol: float,
                  rng: np.random.RandomState) -> tuple[np.ndarray, int]:
    """Lloyd iterations from ``centers`` until the summed squared shift is at most ``tol``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32, C order
    centers : ndarray of shape (n_clusters, n_features)
        The starting centres (e.g. k-means++ seeds).
    max_iter : int
        Upper bound on iterations (one assignment and one update each).
    tol : float
        Absolute bound on the summed squared shift of the centres.
    rng : RandomState
        Chooses which cluster a cluster left empty splits from.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), float32
    n_iter : int
        Iterations run.
    """
    k = len(centers)
    centers = np.ascontiguousarray(centers, np.float32)
    labels, upper, lower = _two_nearest(X, centers)
    sums = _cluster_sums(X, labels, np.ones(len(X), np.float32), k)
    counts = np.bincount(labels, minlength=k)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        if n_iter > 1:
            _reassign(X, centers, labels, upper, lower, sums, counts)
        moved = _centres(sums, counts, centers, rng)
        shift = np.sqrt(np.sum((moved - centers) ** 2, axis=1, dtype=np.float64))
        centers = moved
        upper += shift[labels].astype(np.float32)
        lower -= _other_shift(shift, labels)
        if float(np.sum(shift**2)) <= tol:
            break
    return centers, n_iter


def _reassign(X: np.ndarray, centers: np.ndarray, labels: np.ndarray, upper: np.ndarray, lower: np.ndarray,
              sums: np.ndarray, counts: np.ndarray) -> None:
    """Give the rows whose bounds allow a change their nearest centre; correct bounds, sums and counts in place."""
    half = 0.5 * _nearest_other(centers)
    bound = np.maximum(lower, half[labels]) * np.float32(1.0 - _SLACK)
    rows = np.flatnonzero(upper > bound)
    if len(rows) == 0:
        return
    difference = X[rows] - centers[labels[rows]]
    upper[rows] = np.sqrt(np.einsum("ij,ij->i", difference, difference))
    rows = rows[upper[rows] > bound[rows]]
    if len(rows) == 0:
        return
    nearest, upper[rows], lower[rows] = _two_nearest(X[rows], centers)
    changed = nearest != labels[rows]
    rows, nearest = rows[changed], nearest[changed]
    if len(rows):
        sums += _cluster_sums(X[rows], nearest, np.ones(len(rows), np.float32), len(centers))
        sums -= _cluster_sums(X[rows], labels[rows], np.ones(len(rows), np.float32), len(centers))
        counts += np.bincount(nearest, minlength=len(centers)) - np.bincount(labels[rows], minlength=len(centers))
        labels[rows] = nearest


def _other_shift(shift: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The largest shift of a centre other than each row's own (float32): what its lower bound loses."""
    if len(shift) == 1:
        return np.zeros(len(labels), np.float32)
    order = np.argsort(shift)
    largest, second = order[-1], shift[order[-2]]
    return np.where(labels == largest, second, shift[largest]).astype(np.float32)


def _two_nearest(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's nearest centre, the distance to it, and the distance to the second nearest (inf for k = 1)."""
    import faiss

    index = faiss.IndexFlatL2(centers.shape[1])
    index.add(centers)
    squared, nearest = index.search(np.ascontiguousarray(X, np.float32), min(2, len(centers)))
    distances = np.sqrt(np.maximum(squared, 0.0))
    second = distances[:, 1] if len(centers) > 1 else np.full(len(X), np.inf, np.float32)
    return nearest[:, 0].astype(np.int64), np.ascontiguousarray(distances[:, 0]), np.ascontiguousarray(second)


def _cluster_sums(X: np.ndarray, labels: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Sum of the rows of each cluster, float64 ``(k, n_features)``: one sparse matrix product."""
    from scipy.sparse import csr_matrix

    membership = csr_matrix((weights, (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    return np.asarray(membership @ X, np.float64)


def _nearest_other(centers: np.ndarray) -> np.ndarray:
    """Distance from each centre to the nearest other centre (inf for k = 1)."""
    c = centers.astype(np.float64)
    squared = np.sum(c**2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * c @ c.T
    np.fill_diagonal(distances, np.inf)
    return np.sqrt(np.maximum(distances.min(axis=1), 0.0)).astype(np.float32)


def _centres(sums: np.ndarray, counts: np.ndarray, previous: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Means of the clusters; an empty cluster takes half of a large one (chosen by size), as FAISS does."""
    centers = previous.copy()
    full = counts > 0
    centers[full] = (sums[full] / counts[full, None]).astype(np.float32)
    sizes = counts.astype(np.float64)
    for empty in np.flatnonzero(~full):
        weights = np.maximum(sizes - 1.0, 0.0)
        if weights.sum() == 0:
            break
        donor = rng.choice(len(sizes), p=weights / weights.sum())
        sign = np.where(rng.uniform(size=centers.shape[1]) < 0.5, 1.0, -1.0).astype(np.float32)
        centers[empty] = centers[donor] * (1.0 + sign * _SPLIT)
        centers[donor] = centers[donor] * (1.0 - sign * _SPLIT)
        sizes[empty] = sizes[donor] = sizes[donor] / 2.0
    return centers
