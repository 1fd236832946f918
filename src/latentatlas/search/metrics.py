"""The search metrics in one table: what each means, how the scan ranks by it, its exact value, its index.

A metric is added here and nowhere else: the exact scan, the FAISS index,
the CLI's choices and the tests all read this table. Smaller is nearer for
every metric.

The scan ranks rows by a cheap score computed from the inner products
``x.q`` of a chunk of rows with the queries and one per-row term (see
:mod:`latentatlas.search.exact`); the few best candidates are then scored
exactly, in float64, by :attr:`Metric.distance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from ..checks import one_of

__all__ = ["Metric", "METRICS", "get_metric"]

RowTerm = Literal["half_squared_norm", "inverse_norm"] | None
_TINY = np.finfo(np.float32).tiny


@dataclass(frozen=True)
class Metric:
    """One search metric.

    Attributes
    ----------
    name : str
        What users pass (``metric="cosine"``).
    meaning : str
        One line for help texts.
    row_term : {"half_squared_norm", "inverse_norm", None}
        The per-row term the scan's score needs.
    unit_queries : bool
        Whether queries are scaled to unit length before the scan.
    family : {"l2", "ip", "cosine"}
        The kind of FAISS index that serves it.
    exact : callable
        ``exact(x, q)``: float64 distances of rows ``x (..., m, d)`` to queries ``q (..., 1, d)``.
    to_scores : callable
        ``to_scores(dots, terms)``: inner products to scores that rank like the metric, in place.
    """

    name: str
    meaning: str
    row_term: RowTerm
    unit_queries: bool
    family: str
    exact: Callable[[np.ndarray, np.ndarray], np.ndarray]
    to_scores: Callable[[np.ndarray, np.ndarray | None], None]

    def distance(self, vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Distances between ``vectors[..., j, :]`` and ``queries[..., :]``, computed in float64, as float32."""
        x = np.asarray(vectors, np.float64)
        q = np.asarray(queries, np.float64)[..., None, :]
        return self.exact(x, q).astype(np.float32)


def _squared(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    diff = x - q
    return np.einsum("...j,...j->...", diff, diff)


def _cosine(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    dots = np.einsum("...j,...j->...", x, q)
    norms = np.maximum(np.linalg.norm(x, axis=-1), _TINY) * np.maximum(np.linalg.norm(q, axis=-1), _TINY)
    return np.maximum(1.0 - dots / norms, 0.0)


def _terms_minus_dots(dots: np.ndarray, terms: np.ndarray | None) -> None:
    np.subtract(terms, dots, out=dots)  # ||x||^2 / 2 - x.q ranks like ||x - q||^2


def _scaled_negated(dots: np.ndarray, terms: np.ndarray | None) -> None:
    np.multiply(dots, terms, out=dots)
    np.negative(dots, out=dots)


def _negated(dots: np.ndarray, terms: np.ndarray | None) -> None:
    np.negative(dots, out=dots)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("l2", "Euclidean distance", "half_squared_norm", False, "l2",
           lambda x, q: np.sqrt(_squared(x, q)), _terms_minus_dots),
    Metric("sqeuclidean", "squared Euclidean distance", "half_squared_norm", False, "l2",
           _squared, _terms_minus_dots),
    Metric("cosine", "one minus the cosine similarity", "inverse_norm", True, "cosine", _cosine, _scaled_negated),
    Metric("ip", "the negative inner product", None, False, "ip",
           lambda x, q: -np.einsum("...j,...j->...", x, q), _negated),
)}


_known = one_of(METRICS)


def get_metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises
    ------
    UsageError
        If no metric has that name.
    """
    _known("metric", name)
    return METRICS[name]
