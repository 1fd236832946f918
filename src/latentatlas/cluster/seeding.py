"""Greedy k-means++ seeding in one cache-sized pass over the rows a step, on every core.

scikit-learn's greedy variant: each step draws ``2 + ln k`` candidates with
probability proportional to the squared distance of each row to its nearest
seed so far, and keeps the one that lowers the sum of those distances most.
A step is one pass over the rows in blocks that stay in cache: a thin matrix
product of the block with the candidates, then the gains
``max(d_seed - d_candidate, 0)``, formed candidate by candidate along the
rows and summed. Threads, one a core, each with a single-threaded BLAS
(BLAS threads cost more than such thin products gain), take runs of blocks
as they finish the last, so a core busy with other work takes fewer. Draws go through the sums of blocks first, so no step takes a
cumulative sum over all the rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["kmeans_plusplus"]

_BLOCK = 1 << 14  # rows a block: the rows, their products and gains stay in cache
_RUN = 8  # blocks a thread takes at a time


def kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.RandomState) -> np.ndarray:
    """Greedy k-means++ seeds of the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32, C order
    k : int
        Seeds wanted, at most ``n_samples``.
    rng : RandomState
        Draws the first seed and the candidates of every step.

    Returns
    -------
    ndarray of shape (k, n_features), float32
        Rows of ``X``.
    """
    n = len(X)
    trials = 2 + int(np.log(k))
    norms = np.einsum("ij,ij->i", X, X)
    seeds = np.empty((k, X.shape[1]), np.float32)
    seeds[0] = X[rng.randint(n)]
    closest = np.maximum(norms - 2.0 * (X @ seeds[0]) + seeds[0] @ seeds[0], 0.0)
    width = min(_BLOCK, n)
    gains = np.empty((-(-n // width), trials, width), np.float32)  # block, candidate, row in block
    runs = [range(start, min(start + _RUN, len(gains))) for start in range(0, len(gains), _RUN)]
    with ThreadPoolExecutor(min(os.cpu_count() or 1, len(runs))) as pool, threadpool_limits(1, user_api="blas"):
        for c in range(1, k):
            points = X[_draw(closest, trials, rng)]
            offset = closest - norms  # gain of a row = max(offset + 2 x.p - |p|^2, 0)
            step = _Step(X, offset, points, gains)
            total = sum(pool.map(step.gains_of, runs))
            best = int(np.argmax(total))  # the candidate of least summed squared distance
            closest -= gains[:, best, :].reshape(-1)[:n]
            np.maximum(closest, 0.0, out=closest)  # float32 rounding, at rows on a seed
            seeds[c] = points[best]
    return seeds


class _Step:
    """One step's gains of the candidates ``points``, block by block."""

    def __init__(self, X: np.ndarray, offset: np.ndarray, points: np.ndarray, gains: np.ndarray):
        self.X, self.offset, self.gains = X, offset, gains
        self.twice = np.ascontiguousarray(2.0 * points.T)
        self.point_norms = np.einsum("ij,ij->i", points, points)[:, None]

    def gains_of(self, blocks: range) -> np.ndarray:
        """Fill ``gains`` for ``blocks``; the candidates' summed gains over those blocks."""
        width = self.gains.shape[2]
        products = np.empty((width, self.twice.shape[1]), np.float32)
        ones = np.ones(width, np.float32)
        total = np.zeros(self.twice.shape[1])
        for b in blocks:
            rows = slice(b * width, (b + 1) * width)
            m = len(self.offset[rows])
            np.matmul(self.X[rows], self.twice, out=products[:m])
            block = self.gains[b, :, :m]
            np.copyto(block, products[:m].T)  # candidate by candidate along the rows: fast broadcasts
            block += self.offset[rows]
            block -= self.point_norms
            np.maximum(block, 0.0, out=block)
            total += block @ ones[:m]  # a matrix product sums fastest
        return total


def _draw(weights: np.ndarray, size: int, rng: np.random.RandomState) -> np.ndarray:
    """``size`` row indices drawn with probability proportional to ``weights`` (two-level inverse CDF)."""
    n = len(weights)
    blocks = np.add.reduceat(weights, np.arange(0, n, _BLOCK), dtype=np.float64)
    cumulative = np.cumsum(blocks)
    targets = rng.uniform(size=size) * cumulative[-1]
    picked = np.minimum(np.searchsorted(cumulative, targets), len(blocks) - 1)
    rows = np.empty(size, np.int64)
    for i, (block, target) in enumerate(zip(picked, targets)):
        start = block * _BLOCK
        inside = np.cumsum(weights[start:start + _BLOCK], dtype=np.float64)
        before = cumulative[block - 1] if block else 0.0
        rows[i] = start + min(int(np.searchsorted(inside, target - before)), len(inside) - 1)
    return rows
