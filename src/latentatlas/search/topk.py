"""Running top-k: the ``m`` smallest scores per query over a stream of score chunks.

A score enters only if it beats its query's threshold (the m-th best seen
so far), so once the first chunk has set the thresholds almost every score
costs one vectorised comparison; the few that enter are sorted now and then.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TopK", "merge_topk"]


class TopK:
    """The ``m`` smallest finite scores of each of ``nq`` queries, with their rows.

    Examples
    --------
    >>> best = TopK(1, 2)
    >>> best.add(np.array([[3.0, 1.0, 2.0]], np.float32), start=10)
    >>> best.result()[0].tolist()
    [[11, 12]]
    """

    def __init__(self, nq: int, m: int):
        self.nq, self.m = nq, m
        self.threshold = np.full(nq, np.inf, np.float32)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.size = 0
        self.limit = max(4 * nq * m, 1 << 14)

    def add(self, scores: np.ndarray, start: int) -> None:
        """Offer the scores ``(nq, b)`` of rows ``start .. start + b`` (inf: never a result)."""
        limit = self.threshold
        unset = np.isinf(limit)
        if unset.any() and scores.shape[1] > self.m:  # no threshold yet: take each such row's m best directly
            first = np.flatnonzero(unset)
            part = scores[first]
            columns = np.argpartition(part, self.m - 1, axis=1)[:, :self.m]
            self._keep(np.repeat(first, self.m), columns.reshape(-1), np.take_along_axis(part, columns, 1).reshape(-1), start)
            limit = np.where(unset, -np.inf, limit)
        queries, columns = np.divmod(np.flatnonzero(scores < limit[:, None]), scores.shape[1])  # 2-D nonzero is slower
        self._keep(queries, columns, scores[queries, columns], start)
        if self.size > self.limit or np.isinf(self.threshold).any():
            self._reduce()

    def _keep(self, queries: np.ndarray, columns: np.ndarray, scores: np.ndarray, start: int) -> None:
        finite = np.isfinite(scores)
        if not finite.all():
            queries, columns, scores = queries[finite], columns[finite], scores[finite]
        if len(queries):
            self.pending.append((queries, columns + start, scores))
            self.size += len(queries)

    def _reduce(self) -> None:
        if not self.pending:
            return
        queries, rows, scores = (np.concatenate(parts) for parts in zip(*self.pending))
        order = np.lexsort((rows, scores, queries))
        queries, rows, scores = queries[order], rows[order], scores[order]
        keep = np.arange(len(queries)) - np.searchsorted(queries, np.arange(self.nq))[queries] < self.m
        queries, rows, scores = queries[keep], rows[keep], scores[keep]
        first = np.searchsorted(queries, np.arange(self.nq))
        full = np.bincount(queries, minlength=self.nq) >= self.m
        self.threshold[full] = scores[first[full] + self.m - 1]
        self.pending = [(queries, rows, scores)]
        self.size = len(queries)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores ``(nq, m)``, best first (ties to the lower row); -1 and inf in empty slots."""
        rows = np.full((self.nq, self.m), -1, np.int64)
        scores = np.full((self.nq, self.m), np.inf, np.float32)
        self._reduce()
        if self.pending:
            queries, found, values = self.pending[0]
            rank = np.arange(len(queries)) - np.searchsorted(queries, np.arange(self.nq))[queries]
            rows[queries, rank] = found
            scores[queries, rank] = values
        return rows, scores


def merge_topk(parts: list[tuple[np.ndarray, np.ndarray]], m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` best per query of several results over disjoint rows, in row order of the parts."""
    rows = np.concatenate([p[0] for p in parts], axis=1)
    scores = np.concatenate([p[1] for p in parts], axis=1)
    order = np.argsort(scores, axis=1, kind="stable")[:, :m]
    return np.take_along_axis(rows, order, 1), np.take_along_axis(scores, order, 1)
