"""The coded rows of an atlas in time: which row is an hour earlier or a lead later at the same place, and the time of year.

A season window compares times of year (days since 1 January, fractional)
around a year of 365.2425 days, so 5 January is about 10 days from 26 December.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Sequence

import numpy as np

from ..errors import UsageError
from ..store.database import Store

__all__ = ["Timeline", "day_of_year", "season_distance", "shown_step", "YEAR_DAYS"]

YEAR_DAYS = 365.2425
_DAY_US = 86_400_000_000


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

    def last(self, id: int, count: int) -> np.ndarray:
        """The ids of the ``count`` rows one step apart ending at row ``id``, oldest first, at its tile (-1: missing)."""
        return np.array([self.shifted(np.array([id]), -lag * self.step)[0] for lag in range(count - 1, -1, -1)])

    def steps_of(self, spans: Sequence[timedelta], parameter: str = "lead") -> list[int]:
        """Each of ``spans`` in steps of this timeline.

        Raises
        ------
        UsageError
            Naming ``parameter``, if one is not a whole number of steps.
        """
        found = [np.timedelta64(span) / self.step for span in spans]
        if any(n != int(n) or n < 1 for n in found):
            raise UsageError(f"{parameter} must be whole steps of the atlas ({shown_step(self.step)}), got "
                             f"{', '.join(str(span) for span in spans)}", parameter=parameter)
        return [int(n) for n in found]

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


def shown_step(step: np.timedelta64) -> str:
    """A step as text (``1:00:00``)."""
    return str(timedelta(microseconds=int(step / np.timedelta64(1, "us"))))

