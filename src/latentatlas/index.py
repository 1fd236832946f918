"""Exact k-nearest-neighbour search over a float32 matrix of codes."""

from __future__ import annotations

import numpy as np

from .errors import UsageError

__all__ = ["METRICS", "check_metric", "exact_search"]

METRICS = ("l2", "cosine")
_CHUNK = 1 << 16


def check_metric(metric: str) -> str:
    """Return ``metric`` if known, else raise :class:`UsageError`."""
    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric


def exact_search(matrix: np.ndarray, query: np.ndarray, k: int, metric: str = "l2") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``matrix`` nearest to ``query``, nearest first.

    Parameters
    ----------
    matrix : ndarray of shape (n, d), float32
    query : ndarray of shape (d,)
    k : int
        At most ``n`` results come back.
    metric : {"l2", "cosine"}
        Euclidean distance, or one minus the cosine similarity.

    Returns
    -------
    rows : ndarray of shape (min(k, n),), int64
        Row positions in ``matrix``; ties go to the lower position.
    distances : ndarray of shape (min(k, n),), float32
    """
    check_metric(metric)
    query = np.asarray(query, np.float32).reshape(-1)
    n = len(matrix)
    k = min(k, n)
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    distances = np.empty(n, np.float32)
    if metric == "cosine":
        q = query / max(float(np.linalg.norm(query)), np.finfo(np.float32).tiny)
    for start in range(0, n, _CHUNK):
        chunk = matrix[start:start + _CHUNK]
        if metric == "l2":
            diff = chunk - query
            distances[start:start + len(chunk)] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        else:
            norms = np.maximum(np.linalg.norm(chunk, axis=1), np.finfo(np.float32).tiny)
            distances[start:start + len(chunk)] = 1.0 - (chunk @ q) / norms
    candidates = np.argpartition(distances, k - 1)[:k] if k < n else np.arange(n)
    order = np.lexsort((candidates, distances[candidates]))
    rows = candidates[order].astype(np.int64)
    return rows, distances[rows]
