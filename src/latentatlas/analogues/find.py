"""Finding analogues as meteorologists do: the nearest codes under the options of :class:`AnalogueOptions`.

:func:`find_analogues` ranks the candidates:

* ``season_window``: only rows within that many days of the query's time of year;
* ``trend``: the distance of a row at ``t`` sums the code distances at
  ``t, t - step, ...`` back to ``t - trend`` (AnEn's time window), where
  ``step`` is the atlas's most common spacing of times; rows lacking a full
  window are skipped and counted;
* ``min_separation``: nearest first, a row is kept unless it lies closer in
  time than this to a row already kept, so each result is its own event;
  the scan goes on down the ranking until ``k`` are kept or none is left;
* ``channel_weights``: the nearest codes re-ranked by the distance :func:`rerank_for` gives.

The options that need the atlas rather than the codes apply before:
:func:`restrict` keeps the rows overlapping the ``region``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..errors import UsageError
from ..search.engine import Engine
from ..search.metrics import get_metric
from ..store.database import Store
from .options import AnalogueOptions
from .timeline import Timeline, shown_step

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["Analogues", "find_analogues", "separated", "restrict", "rerank_for", "channel_weighted", "RERANK_POOL"]

RERANK_POOL = 256  # a rerank (channel weights) orders at least this many of the nearest codes, and 8 k


@dataclass
class Analogues:
    """The ``k`` analogues of one query: ids, times and distances (nearest first); rows skipped for lack of a trend window."""

    ids: np.ndarray
    times: np.ndarray
    distances: np.ndarray
    skipped: int = 0


def find_analogues(engine: Engine, timeline: Timeline, vector: np.ndarray, k: int, metric: str,
                   options: AnalogueOptions, query_id: int | None = None, query_time: np.datetime64 | None = None,
                   allowed: np.ndarray | None = None,
                   rerank: Callable[[np.ndarray], np.ndarray] | None = None) -> Analogues:
    """The ``k`` analogues of one query under ``options`` (see the module's notes), among ``allowed`` ids.

    ``query_time`` is needed by a season window, ``query_id`` (a stored
    row, for its earlier hours) by a trend window. Fewer than ``k`` come
    back only when fewer qualify. ``rerank(ids)`` gives other distances of
    rows to the query (the channel-weighted distance of decoded fields):
    the nearest ``max(8 k, RERANK_POOL)`` codes are ordered by it, widened
    as a minimum separation needs.

    Raises
    ------
    UsageError
        If an option needs a time or stored row the query lacks, or a rerank comes with a trend window.
    """
    candidates = timeline.ids if allowed is None else np.intersect1d(allowed, timeline.ids)
    if options.season_window is not None:
        if query_time is None or np.isnat(query_time):
            raise UsageError("season_window needs a query with a time", parameter="season_window")
        candidates = candidates[timeline.in_season(candidates, query_time, options.season_window)]
    skipped = 0
    if rerank is not None and options.trend is not None:
        raise UsageError("channel_weights cannot be combined with trend yet", parameter=("channel_weights", "trend"))
    if options.trend is not None:
        ranked, distances, skipped = _trend_ranking(engine, timeline, candidates, k, metric, options.trend, query_id)
        chosen = separated(timeline.time_of(ranked), k, options.min_separation)
        return Analogues(ranked[chosen], timeline.time_of(ranked[chosen]), distances[chosen], skipped)
    if rerank is not None:
        wanted = min(len(candidates), max(8 * k, RERANK_POOL))
    else:
        wanted = k if options.min_separation is None else min(len(candidates), 8 * k)
    while True:
        ids, distances = engine.search(vector[None], max(wanted, 1), metric, candidates)
        ids, distances = ids[0][ids[0] >= 0], distances[0][ids[0] >= 0]
        if rerank is not None and len(ids):
            distances = np.asarray(rerank(ids), np.float32)
            order = np.lexsort((ids, distances))
            ids, distances = ids[order], distances[order]
        chosen = separated(timeline.time_of(ids), k, options.min_separation)
        if len(chosen) == k or wanted >= len(candidates):
            return Analogues(ids[chosen], timeline.time_of(ids[chosen]), distances[chosen])
        wanted = min(len(candidates), 4 * wanted)


def _trend_ranking(engine: Engine, timeline: Timeline, candidates: np.ndarray, k: int, metric: str,
                   span: timedelta, query_id: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Candidates with a full window, ranked by the sum of their window's code distances to the query's."""
    if query_id is None:
        raise UsageError("trend needs a stored row as the query (by id or time) to read its earlier hours",
                         parameter="trend")
    query = timeline.window(np.array([query_id]), span)[0]
    if (query < 0).any():
        raise UsageError(f"trend: the query lacks {int((query < 0).sum())} of the {len(query)} rows of its "
                         f"{span} window (one every {shown_step(timeline.step)})", parameter="trend")
    lagged = timeline.window(candidates, span)
    full = (lagged >= 0).all(axis=1)
    lagged, candidates = lagged[full], candidates[full]
    measure = get_metric(metric)
    distances = np.zeros(len(candidates), np.float64)
    for lag in range(lagged.shape[1]):
        distances += measure.distance(engine.vectors(lagged[:, lag]), engine.vectors(query[lag:lag + 1])[0])
    order = np.lexsort((candidates, distances))
    return candidates[order], distances[order].astype(np.float32), int((~full).sum())


def separated(times: np.ndarray, k: int, separation: timedelta | None) -> np.ndarray:
    """Positions of the first ``k`` of ``times`` (in ranking order) that keep ``separation`` from every earlier kept one."""
    if separation is None:
        return np.arange(min(k, len(times)))
    gap = np.timedelta64(int(separation.total_seconds() * 1e6), "us")
    kept: list[int] = []
    for position, when in enumerate(times):
        if not kept or (np.abs(times[kept] - when) >= gap).all():
            kept.append(position)
            if len(kept) == k:
                break
    return np.array(kept, np.int64)


def restrict(store: Store, options: AnalogueOptions, ids: np.ndarray) -> np.ndarray:
    """The ``ids`` the atlas-bound options allow: those overlapping the ``region`` (all without one).

    Raises
    ------
    UsageError
        If a region is asked of an atlas that does not know where its fields lie.
    """
    if options.region is None:
        return ids
    from .region import ids_in_region

    return np.intersect1d(ids, ids_in_region(store, options.region))


def rerank_for(options: AnalogueOptions, model: Callable[[], LatentModel] | None, engine: Engine,
               vector: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """The :func:`channel_weighted` distances to ``vector`` when ``options`` has channel weights, else None.

    Raises
    ------
    UsageError
        If there are weights but no ``model`` to decode the candidates.
    """
    if options.channel_weights is None:
        return None
    if model is None:
        raise UsageError("channel_weights need the atlas's model to decode the candidates", parameter="channel_weights")
    return channel_weighted(model(), engine, vector, options.channel_weights)


def channel_weighted(model: LatentModel, engine: Engine, vector: np.ndarray,
                     weights: Sequence[float]) -> Callable[[np.ndarray], np.ndarray]:
    """Distances of stored rows to the code ``vector``: the weighted mean over channels of their decoded fields' MSE.

    Each channel's mean squared difference is taken in the model's [0, 1]
    scale, so variables of different units weigh as ``weights`` say
    (normalised to sum 1), as AnEn weighs its predictors.

    Raises
    ------
    UsageError
        If there is not one weight per channel of the model's fields.
    """
    channels = model.architecture.out_channels
    if len(weights) != channels:
        raise UsageError(f"channel_weights has {len(weights)} weight(s); the atlas's fields have {channels} channel(s)",
                         parameter="channel_weights")
    share = np.asarray(weights, np.float64) / float(np.sum(weights))
    target = model.decode(np.asarray(vector, np.float32)[None])[0].astype(np.float64)

    def distances(ids: np.ndarray) -> np.ndarray:
        decoded = model.decode(engine.vectors(ids)).astype(np.float64)
        return (((decoded - target) ** 2).mean(axis=(2, 3)) @ share).astype(np.float32)

    return distances
