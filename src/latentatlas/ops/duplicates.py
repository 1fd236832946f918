"""Duplicates: groups of identical files (same sha256) and of near-identical images (close codes).

Near-duplicates come from each row's ``k`` nearest neighbours, kept when
closer than the threshold and joined into connected groups: memory grows
as N x k, never N x N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..checks import at_least, one_of
from ..errors import UsageError
from ..progress import ProgressCallback, silent
from ..search.engine import EngineCache
from ..search.metrics import METRICS
from ..search.neighbours import Filters, nearest
from ..store.database import Store

__all__ = ["DuplicateGroup", "DuplicatesOptions", "DuplicatesReport", "duplicates"]

_BLOCK = 1024


@dataclass
class DuplicateGroup:
    """Rows that are copies of each other.

    ``kind`` is ``"exact"`` (same sha256) or ``"near"`` (codes within the
    threshold, through a chain of neighbours); ``distance`` is the largest
    distance along that chain (0 for exact copies).
    """

    kind: str
    ids: list[int]
    uris: list[str]
    distance: float = 0.0


@dataclass(frozen=True, kw_only=True)
class DuplicatesOptions:
    """What counts as a near-copy and which rows take part.

    Parameters
    ----------
    threshold : float
        Largest distance (in ``metric``) between two near-copies, >= 0.
    k : int
        Neighbours looked at per row; a group larger than ``k + 1`` is
        still found whole when its members chain together.
    metric : {"l2", "sqeuclidean", "cosine", "ip"}
    where : str, optional
        SQL predicate on ``images``: only matching rows take part.
    exact : bool
        Scan every code even when the atlas has an approximate index.

    Raises
    ------
    UsageError
        Naming the parameter, on a negative threshold, ``k < 1`` or an unknown metric.
    """

    threshold: float
    k: int = 10
    metric: str = "l2"
    where: str | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not self.threshold >= 0:
            raise UsageError(f"threshold must be a number >= 0, got {self.threshold!r}", parameter="threshold")
        at_least(1)("k", self.k)
        one_of(METRICS)("metric", self.metric)


@dataclass
class DuplicatesReport:
    """The groups found and the settings used."""

    threshold: float
    metric: str
    k: int
    rows: int
    engine: str
    groups: list[DuplicateGroup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def duplicates(store: Store, options: DuplicatesOptions, engines: EngineCache | None = None,
               progress: ProgressCallback = silent) -> DuplicatesReport:
    """Exact copies (same sha256) and near-copies (codes closer than ``options.threshold``) among the stored rows.

    Raises
    ------
    UsageError
        On a bad predicate.
    """
    threshold, k, metric, where = options.threshold, options.k, options.metric, options.where
    engine = (engines or EngineCache()).get(store, metric, options.exact)
    filters = Filters.of(store, where)
    ids = engine.ids if where is None else np.intersect1d(engine.ids, filters.allowed)
    exact_groups = _same_sha256(store, where)
    first, second, weights = [], [], []
    progress("duplicates", 0, len(ids))
    for start in range(0, len(ids), _BLOCK):
        block = ids[start:start + _BLOCK]
        found, distances = nearest(engine, engine.vectors(block), k, metric, filters, exclude_ids=block)
        close = (found >= 0) & (distances <= threshold)
        first.append(np.repeat(block, found.shape[1])[close.reshape(-1)])
        second.append(found[close])
        weights.append(distances[close])
        progress("duplicates", min(start + _BLOCK, len(ids)), len(ids))
    near = _components(ids, np.concatenate(first), np.concatenate(second), np.concatenate(weights))
    same = {frozenset(group) for group in exact_groups}
    near = [(members, distance) for members, distance in near if frozenset(members) not in same]
    uris = _uris(store, [i for group in exact_groups for i in group] + [i for group, _ in near for i in group])
    groups = [DuplicateGroup("exact", group, [uris[i] for i in group]) for group in exact_groups]
    groups += [DuplicateGroup("near", group, [uris[i] for i in group], distance) for group, distance in near]
    return DuplicatesReport(threshold, metric, k, len(ids), engine.kind, groups)


def _same_sha256(store: Store, where: str | None) -> list[list[int]]:
    """Ids of rows sharing a sha256, one list per sha256 with more than one row."""
    allowed = "" if where is None else f"WHERE id IN (SELECT id FROM images WHERE ({where}))"
    rows = store.con.execute(
        f"SELECT list(id ORDER BY id) FROM images {allowed} GROUP BY sha256 HAVING count(*) > 1 ORDER BY min(id)"
    ).fetchall()
    return [list(r[0]) for r in rows]


def _components(ids: np.ndarray, first: np.ndarray, second: np.ndarray,
                weights: np.ndarray) -> list[tuple[list[int], float]]:
    """Connected groups (of two or more ids) of the graph with these edges, with their largest edge."""
    if len(first) == 0:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b = np.searchsorted(ids, first), np.searchsorted(ids, second)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    largest = np.zeros(len(sizes))
    np.maximum.at(largest, labels[a], weights)
    order = np.argsort(labels, kind="stable")
    shared = np.flatnonzero(sizes > 1)
    starts = np.searchsorted(labels[order], shared)
    groups = [(ids[order[s:s + sizes[label]]].tolist(), float(largest[label])) for label, s in zip(shared, starts)]
    return sorted(groups, key=lambda group: group[0][0])


def _uris(store: Store, ids: list[int]) -> dict[int, str]:
    return {i: row["uri"] for i, row in store.images(ids).items()}
