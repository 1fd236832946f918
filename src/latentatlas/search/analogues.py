"""Analogue queries as meteorologists make them: the same season, separate events, a matching trend, one region.

:class:`AnalogueOptions` holds the choices (``season_window``,
``min_separation``, ``trend``, ``region``); :class:`Timeline` knows each coded row's
time and tile position, so it finds the row an hour earlier or a lead
later at the same place; :func:`find_analogues` ranks the candidates:

* ``season_window``: only rows whose time of year (days since 1 January,
  fractional) lies within that many days of the query's, around a year of
  365.2425 days, so 5 January is about 10 days from 26 December.
* ``trend``: the distance of a row at ``t`` sums the code distances at
  ``t, t - step, ...`` back to ``t - trend`` (AnEn's time window), where
  ``step`` is the atlas's most common spacing of times; rows lacking a full
  window are skipped and counted.
* ``min_separation``: nearest first, a row is kept unless it lies closer in
  time than this to a row already kept, so each result is its own event;
  the scan goes on down the ranking until ``k`` are kept or none is left.
* ``region``: a latitude/longitude box; the caller, which knows the
  atlas's grid, passes only the rows overlapping it as the allowed ids
  (:func:`latentatlas.ops.region.ids_in_region`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import UsageError
from ..store.database import Store
from .engine import Engine
from .metrics import get_metric
from .neighbours import parse_window

__all__ = ["AnalogueOptions", "Analogues", "Region", "Timeline", "find_analogues", "parse_region", "parse_weights",
           "YEAR_DAYS", "RERANK_POOL"]

YEAR_DAYS = 365.2425
RERANK_POOL = 256  # a rerank (channel weights) orders at least this many of the nearest codes, and 8 k
_DAY_US = 86_400_000_000

Region = tuple[float, float, float, float]


def parse_region(region: str | Sequence[float] | None) -> Region | None:
    """``"LAT0,LAT1,LON0,LON1"`` (degrees north and east) or four numbers, checked.

    A box with ``LON0 > LON1`` crosses the antimeridian.

    Raises
    ------
    UsageError
        If it is not four numbers with ``-90 <= LAT0 < LAT1 <= 90`` and longitudes in -180..360.
    """
    if region is None:
        return None
    parts = str(region).replace(" ", "").split(",") if isinstance(region, str) else list(region)
    try:
        lat0, lat1, lon0, lon1 = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise UsageError(f"region must be LAT0,LAT1,LON0,LON1 in degrees, got {region!r}", parameter="region") from None
    if not (-90 <= lat0 < lat1 <= 90) or not all(-180 <= lon <= 360 for lon in (lon0, lon1)) or lon0 == lon1:
        raise UsageError(f"region must have -90 <= LAT0 < LAT1 <= 90 and two different longitudes, got {region!r}",
                         parameter="region")
    return lat0, lat1, _wrapped(lon0), _wrapped(lon1)


def parse_weights(weights: str | Sequence[float] | None) -> tuple[float, ...] | None:
    """``"1,0.5"`` or numbers: one finite weight >= 0 per channel, not all 0.

    Raises
    ------
    UsageError
        If a weight is not a number, is negative or infinite, or all are 0.
    """
    if weights is None:
        return None
    parts = str(weights).replace(" ", "").split(",") if isinstance(weights, str) else list(weights)
    try:
        values = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        raise UsageError(f"channel_weights must be numbers separated by commas, got {weights!r}",
                         parameter="channel_weights") from None
    if not values or not all(np.isfinite(v) and v >= 0 for v in values) or not any(values):
        raise UsageError(f"channel_weights must be finite numbers >= 0, not all 0, got {weights!r}",
                         parameter="channel_weights")
    return values


def _wrapped(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0 if lon != 180.0 else 180.0


@dataclass(frozen=True)
class AnalogueOptions:
    """Season window, minimum separation, trend window and region of an analogue query (None: not used).

    ``region`` is applied by the caller, which knows the atlas's grid: it
    passes only the rows overlapping the box as the allowed ids
    (:func:`latentatlas.ops.region.ids_in_region`). ``channel_weights``
    (one per channel of stacked variables) likewise: the caller, which has
    the model, passes :func:`find_analogues` a ``rerank`` that measures the
    channel-weighted distance of the decoded fields.
    """

    season_window: timedelta | None = None
    min_separation: timedelta | None = None
    trend: timedelta | None = None
    region: Region | None = None
    channel_weights: tuple[float, ...] | None = None

    @classmethod
    def of(cls, season_window: str | timedelta | None = None, min_separation: str | timedelta | None = None,
           trend: str | timedelta | None = None, region: str | Sequence[float] | None = None,
           channel_weights: str | Sequence[float] | None = None) -> "AnalogueOptions":
        """Options from durations such as ``"45d"``, ``"2d"``, ``"3h"``, a box ``"LAT0,LAT1,LON0,LON1"`` and weights ``"1,0.5"``.

        Raises
        ------
        UsageError
            If a duration is not positive, the box is malformed or a weight is not a number >= 0.
        """
        return cls(parse_window(season_window, "season_window"), parse_window(min_separation, "min_separation"),
                   parse_window(trend, "trend"), parse_region(region), parse_weights(channel_weights))

    @property
    def used(self) -> bool:
        """Whether any option is set."""
        return any(v is not None for v in (self.season_window, self.min_separation, self.trend, self.region,
                                           self.channel_weights))

    def to_dict(self) -> dict[str, Any]:
        """The options set, durations as text (``{"season_window": "45 days, 0:00:00"}``), the region as four numbers."""
        data: dict[str, Any] = {name: str(value) for name, value in (("season_window", self.season_window),
                                ("min_separation", self.min_separation), ("trend", self.trend)) if value is not None}
        if self.region is not None:
            data["region"] = list(self.region)
        if self.channel_weights is not None:
            data["channel_weights"] = list(self.channel_weights)
        return data


@dataclass
class Analogues:
    """The ``k`` analogues of one query: ids, times and distances (nearest first); rows skipped for lack of a trend window."""

    ids: np.ndarray
    times: np.ndarray
    distances: np.ndarray
    skipped: int = 0


class Timeline:
    """The coded rows of an atlas in time: id, time and tile position of each, and the step between times.

    Rows without a time are never analogues.
    """

    def __init__(self, ids: np.ndarray, times: np.ndarray, tiles: np.ndarray):
        known = ~np.isnat(times)
        self.ids, self.times, self.tiles = ids[known], times[known].astype("datetime64[us]"), tiles[known]
        self._micros = self.times.astype(np.int64)
        self._order = np.lexsort((self._micros, self.tiles))
        self._keys = (self.tiles[self._order], self._micros[self._order])
        self._by_id = np.argsort(self.ids, kind="stable")
        spacing = np.diff(np.unique(self._micros))
        values, counts = np.unique(spacing[spacing > 0], return_counts=True)
        self.step = np.timedelta64(int(values[np.argmax(counts)]) if len(values) else 3_600_000_000, "us")

    @classmethod
    def of(cls, store: Store) -> "Timeline":
        """Read the rows that have a code from ``store``."""
        table = store.con.sql(
            "SELECT i.id, i.time, coalesce(i.tile_row, -1) AS r, coalesce(i.tile_col, -1) AS c "
            "FROM images i JOIN embeddings e ON e.id = i.id ORDER BY i.id").fetchnumpy()
        times = np.ma.filled(table["time"], np.datetime64("NaT")).astype("datetime64[us]")
        tiles = np.asarray(table["r"], np.int64) * 1_000_003 + np.asarray(table["c"], np.int64)
        return cls(np.asarray(table["id"], np.int64), times, tiles)

    def position(self, ids: np.ndarray) -> np.ndarray:
        """Index of each id in this timeline, -1 when it has no time (or no code)."""
        ids = np.asarray(ids, np.int64)
        if len(self.ids) == 0:
            return np.full(ids.shape, -1)
        at = np.minimum(np.searchsorted(self.ids[self._by_id], ids), len(self.ids) - 1)
        found = self.ids[self._by_id][at] == ids
        return np.where(found, self._by_id[at], -1)

    def time_of(self, ids: np.ndarray) -> np.ndarray:
        """The times of ``ids`` (NaT when unknown)."""
        at = self.position(ids)
        return np.where(at >= 0, self.times[np.maximum(at, 0)], np.datetime64("NaT"))

    def shifted(self, ids: np.ndarray, offset: np.timedelta64) -> np.ndarray:
        """The id of the row ``offset`` later than each of ``ids`` at the same tile position (-1: none)."""
        at = self.position(ids)
        ok = at >= 0
        tiles, micros = self.tiles[np.maximum(at, 0)], self._micros[np.maximum(at, 0)] + int(offset / np.timedelta64(1, "us"))
        found = np.full(len(at), -1, np.int64)
        keys_tiles, keys_micros = self._keys
        low = np.searchsorted(keys_tiles, tiles, "left")
        high = np.searchsorted(keys_tiles, tiles, "right")
        for tile in np.unique(tiles[ok]):  # one search per tile position over its sorted times
            chosen = ok & (tiles == tile)
            lo, hi = low[chosen][0], high[chosen][0]
            where = np.searchsorted(keys_micros[lo:hi], micros[chosen])
            inside = where < hi - lo
            hit = np.zeros(len(where), bool)
            hit[inside] = keys_micros[lo:hi][where[inside]] == micros[chosen][inside]
            found[np.flatnonzero(chosen)[hit]] = self.ids[self._order[lo + where[hit]]]
        return found

    def window(self, ids: np.ndarray, span: timedelta) -> np.ndarray:
        """``(len(ids), L)`` ids at ``t, t - step, ...`` back to ``t - span`` at the same tile (-1: missing)."""
        steps = int(np.timedelta64(int(span.total_seconds() * 1e6), "us") // self.step)
        return np.stack([self.shifted(ids, -lag * self.step) for lag in range(steps + 1)], axis=1)

    def in_season(self, ids: np.ndarray, when: np.datetime64, window: timedelta) -> np.ndarray:
        """Whether each of ``ids`` lies within ``window`` days of ``when``'s time of year."""
        return season_distance(self.time_of(ids), when) <= window.total_seconds() / 86400


def day_of_year(times: np.ndarray) -> np.ndarray:
    """Days since 1 January of each time's year, fractional (NaN for NaT)."""
    times = np.asarray(times, "datetime64[us]")
    years = times.astype("datetime64[Y]").astype("datetime64[us]")
    days = (times - years).astype(np.int64) / _DAY_US
    return np.where(np.isnat(times), np.nan, days)


def season_distance(times: np.ndarray, when: np.datetime64) -> np.ndarray:
    """Days between each time's time of year and ``when``'s, around the year (NaN-safe: NaT is infinitely far)."""
    gap = np.abs(day_of_year(times) - day_of_year(np.array([when]))[0]) % YEAR_DAYS
    return np.nan_to_num(np.minimum(gap, YEAR_DAYS - gap), nan=np.inf)


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
        chosen = _separated(timeline.time_of(ranked), k, options.min_separation)
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
        chosen = _separated(timeline.time_of(ids), k, options.min_separation)
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
                         f"{span} window (one every {_shown(timeline.step)})", parameter="trend")
    lagged = timeline.window(candidates, span)
    full = (lagged >= 0).all(axis=1)
    lagged, candidates = lagged[full], candidates[full]
    measure = get_metric(metric)
    distances = np.zeros(len(candidates), np.float64)
    for lag in range(lagged.shape[1]):
        distances += measure.distance(engine.vectors(lagged[:, lag]), engine.vectors(query[lag:lag + 1])[0])
    order = np.lexsort((candidates, distances))
    return candidates[order], distances[order].astype(np.float32), int((~full).sum())


def _separated(times: np.ndarray, k: int, separation: timedelta | None) -> np.ndarray:
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


def _shown(step: np.timedelta64) -> str:
    return str(timedelta(microseconds=int(step / np.timedelta64(1, "us"))))
