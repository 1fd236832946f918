"""A generated year of hourly composite reflectivity (dBZ) over a CONUS-like domain.

The weather is a set of moving systems drawn from a seed: summer convective
cells that spawn in the afternoon (the diurnal cycle), spring squall lines
with trailing stratiform rain, cool-season frontal rain shields, and bands
of rain that come ashore in the north-west and rain out over the coastal
mountains most of the cool season. Every system moves west to east, grows
and decays smoothly, and is built of separable Gaussian echoes, so an hour
is one small matrix product and hour t lies between hours t-1 and t+1.

Sizes and speeds are in kilometres over HRRR's 5,397 x 3,177 km domain, so
any grid shows the same weather; a grid point averages the echo over its
cell. The weather of a date depends only on the seed and the date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

import numpy as np

from ..errors import UsageError

__all__ = ["RadarYear", "DEFAULT_GRID", "DEFAULT_START", "NO_ECHO_DBZ", "REGIMES"]

DEFAULT_GRID = (64, 112)
DEFAULT_START = datetime(2019, 1, 1)
NO_ECHO_DBZ = -10.0
DOMAIN_KM = (3177.0, 5397.0)  # north-south, west-east
KINDS = ("cells", "squall", "stratiform", "coastal")
REGIMES = ("quiet", "coastal", "cells", "squall", "stratiform")
_SPIN_UP_DAYS = 3  # systems born before the first hour are already under way
_MAX_LIFE = 72.0
_RISE_DB = 60.0  # how far below its peak a system is born and dies


@dataclass
class _Systems:
    """Every system of the period (sorted by birth) and the echoes it is made of."""

    kind: np.ndarray      # (n,) index into KINDS
    born: np.ndarray      # (n,) hours since the start
    life: np.ndarray      # (n,) hours
    x0: np.ndarray        # (n,) km east of the west edge at birth
    y0: np.ndarray        # (n,) km south of the north edge at birth
    vx: np.ndarray        # (n,) km/h
    vy: np.ndarray        # (n,) km/h
    grows: np.ndarray     # (n,) whether echoes grow and shrink with the system
    first: np.ndarray     # (n,) index of the system's first echo
    count: np.ndarray     # (n,) number of echoes
    dx: np.ndarray        # (m,) echo offset from the system centre, km
    dy: np.ndarray
    sx: np.ndarray        # (m,) echo size (Gaussian sigma), km
    sy: np.ndarray
    dbz: np.ndarray       # (m,) echo peak, dBZ


class RadarYear:
    """Hourly reflectivity fields from ``start`` for ``days`` days on a ``grid``, drawn from ``seed``.

    Parameters
    ----------
    seed : int
    days : int
        Length of the period; ``len(year) == 24 * days``.
    grid : (int, int)
        ``(height, width)`` of a field; rows run north to south.
    start : datetime
        The first hour (UTC).

    Examples
    --------
    >>> year = RadarYear(seed=0, days=2, grid=(32, 56))
    >>> year.field(5).shape, len(year)
    ((32, 56), 48)
    """

    def __init__(self, seed: int = 0, days: int = 365, grid: tuple[int, int] = DEFAULT_GRID,
                 start: datetime = DEFAULT_START):
        if days < 1:
            raise UsageError(f"days must be >= 1, got {days}")
        if min(grid) < 4:
            raise UsageError(f"grid must be at least 4x4, got {grid[0]}x{grid[1]}")
        self.seed, self.days, self.grid = seed, days, (int(grid[0]), int(grid[1]))
        self.start = datetime(start.year, start.month, start.day, start.hour)
        height, width = self.grid
        self._cell = (DOMAIN_KM[0] / height, DOMAIN_KM[1] / width)
        self._rows = (np.arange(height) + 0.5) * self._cell[0]
        self._cols = (np.arange(width) + 0.5) * self._cell[1]
        self._systems = _draw(seed, self.start, days)

    def __len__(self) -> int:
        return 24 * self.days

    @property
    def times(self) -> list[datetime]:
        """The valid time of every hour."""
        return [self.start + timedelta(hours=h) for h in range(len(self))]

    def fields(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """The fields of hours ``start`` to ``stop`` (exclusive), one at a time."""
        for hour in range(start, len(self) if stop is None else stop):
            yield self.field(hour)

    def field(self, hour: int) -> np.ndarray:
        """Reflectivity (dBZ, float32, north up) at ``hour`` hours after the start.

        Points without echo hold :data:`NO_ECHO_DBZ` (-10 dBZ, as in HRRR).
        """
        amplitude, x, y, sx, sy, _ = self._echoes(hour)
        gx = np.exp(-0.5 * ((self._cols[None, :] - x[:, None]) / sx[:, None]) ** 2)
        gy = np.exp(-0.5 * ((self._rows[None, :] - y[:, None]) / sy[:, None]) ** 2)
        z = gy.T @ (amplitude[:, None] * gx)
        return (10.0 * np.log10(z + 10.0 ** (NO_ECHO_DBZ / 10.0))).astype(np.float32)

    def regime(self, hour: int) -> str:
        """The kind of weather that covers most ground at ``hour`` (one of :data:`REGIMES`).

        Echo area above 20 dBZ, roughly, per kind of system: the largest of
        cells, squall lines and rain shields when it covers more than about
        a 150 km disc, else ``coastal`` when north-west coastal rain does,
        else ``quiet``.
        """
        amplitude, _, _, sx, sy, kind = self._echoes(hour)
        strong = amplitude > 100.0
        area = np.bincount(kind[strong], weights=(sx * sy)[strong], minlength=len(KINDS))
        best = int(np.argmax(area[:3]))
        if area[best] > 150.0**2 / 2:
            return KINDS[best]
        return "coastal" if area[3] > 150.0**2 / 8 else "quiet"

    def _echoes(self, hour: int) -> tuple[np.ndarray, ...]:
        """Linear amplitude, centre, effective size and kind of every echo alive at ``hour``."""
        s = self._systems
        t = float(hour)
        candidates = np.arange(np.searchsorted(s.born, t - _MAX_LIFE), np.searchsorted(s.born, t, side="right"))
        alive = candidates[t < s.born[candidates] + s.life[candidates]]
        owner = np.repeat(alive, s.count[alive])
        echo = np.repeat(s.first[alive] - np.cumsum(s.count[alive]) + s.count[alive], s.count[alive]) + np.arange(len(owner))
        age = t - s.born[owner]
        phase = 2.0 * age / s.life[owner] - 1.0  # -1 at birth, 0 at maturity, 1 at death
        growth = np.where(s.grows[owner], 1.0 - 0.4 * phase**2, 1.0)
        x = s.x0[owner] + s.vx[owner] * age + s.dx[echo]
        y = s.y0[owner] + s.vy[owner] * age + s.dy[echo]
        # a parabola in dB: echoes rise from below -10 dBZ and fall back at a steady, smoothly changing rate
        amplitude = 10.0 ** ((s.dbz[echo] - _RISE_DB * phase**2) / 10.0)
        amplitude = np.where(s.kind[owner] == KINDS.index("coastal"), amplitude * _coast_mask(x, y), amplitude)
        sx, sy = s.sx[echo] * growth, s.sy[echo] * growth
        # a grid point averages its cell: widen each echo by the cell, keeping its total
        wide_x = np.sqrt(sx**2 + self._cell[1] ** 2 / 12.0)
        wide_y = np.sqrt(sy**2 + self._cell[0] ** 2 / 12.0)
        return amplitude * (sx / wide_x) * (sy / wide_y), x, y, wide_x, wide_y, s.kind[owner]


def _coast_x(y: np.ndarray) -> np.ndarray:
    """Where the Pacific coast is (km east of the west edge) at ``y`` km south of the north edge."""
    return 330.0 - 0.12 * y + 40.0 * np.sin(y / 300.0)


def _coast_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rain enhanced over the coastal mountains, weak offshore, dying inland and to the south."""
    onshore = x - _coast_x(y)
    mask = (0.3 + 0.9 * np.exp(-(((onshore - 120.0) / 160.0) ** 2))) * np.exp(-np.maximum(0.0, onshore - 300.0) / 150.0)
    return mask * np.exp(-np.maximum(0.0, y - 1300.0) / 250.0)


def _season(when: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Summer weight (0 mid-January, 1 mid-July), squall-season weight (peak late May), UTC hour."""
    day_of_year = np.array([(w - datetime(w.year, 1, 1)).total_seconds() / 86400.0 for w in when.tolist()])
    f = day_of_year / 365.25
    summer = 0.5 * (1.0 - np.cos(2.0 * np.pi * (f - 0.04)))
    squall_season = np.exp(-(((f - 0.42) / 0.12) ** 2))
    return summer, squall_season, np.array([w.hour for w in when.tolist()], np.float64)


def _draw(seed: int, start: datetime, days: int) -> _Systems:
    """The systems born from ``_SPIN_UP_DAYS`` before the start to the end; each day has its own stream."""
    rows: list[tuple] = []
    for offset in range(-_SPIN_UP_DAYS, days):
        day = (start + timedelta(days=offset)).date()
        rng = np.random.default_rng([seed, day.toordinal()])
        rows += _day(rng, day, (datetime.combine(day, datetime.min.time()) - start).total_seconds() / 3600.0)
    rows.sort(key=lambda r: r[1])
    echoes = [r[-1] for r in rows]
    count = np.array([len(e) for e in echoes], np.int64)
    table = np.concatenate(echoes) if echoes else np.empty((0, 5))
    columns = list(zip(*[r[:-1] for r in rows])) if rows else [()] * 8
    kind, born, life, x0, y0, vx, vy, grows = (np.array(c, float) for c in columns)
    return _Systems(
        kind=kind.astype(np.int64), born=born, life=life, x0=x0, y0=y0, vx=vx, vy=vy, grows=grows.astype(bool),
        first=np.cumsum(count) - count, count=count,
        dx=table[:, 0], dy=table[:, 1], sx=table[:, 2], sy=table[:, 3], dbz=table[:, 4],
    )


def _day(rng: np.random.Generator, day: date, first_hour: float) -> list[tuple]:
    """Systems born on one day: (kind, born, life, x0, y0, vx, vy, grows, echoes)."""
    hours = np.array([datetime.combine(day, datetime.min.time()) + timedelta(hours=h) for h in range(24)])
    summer, squall_season, utc = _season(hours)
    afternoon = 0.5 * (1.0 + np.cos(2.0 * np.pi * (utc - 19.0) / 24.0))
    evening = 0.5 * (1.0 + np.cos(2.0 * np.pi * (utc - 23.0) / 24.0))
    rates = {
        "cells": 0.1 + 3.5 * summer * (0.03 + 0.97 * afternoon),
        "squall": 0.008 + 0.10 * squall_season * (0.3 + 0.7 * evening),
        "stratiform": 0.01 + 0.04 * (1.0 - summer),
        "coastal": 0.08 + 0.16 * (1.0 - summer),
    }
    systems = []
    for kind, rate in rates.items():
        for hour in np.repeat(np.arange(24), rng.poisson(rate)):
            born = first_hour + hour + rng.uniform()
            systems.append((KINDS.index(kind), born, *_MAKERS[kind](rng)))
    return systems


def _cells(rng: np.random.Generator) -> tuple:
    n = rng.integers(1, 4)
    echoes = np.column_stack([
        np.r_[0.0, rng.normal(0, 35, n - 1)], np.r_[0.0, rng.normal(0, 35, n - 1)],
        *(np.r_[rng.uniform(30, 60), rng.uniform(20, 40, n - 1)] for _ in range(2)),
        rng.uniform(45, 62) + np.r_[0.0, rng.uniform(-6, 0, n - 1)],
    ])
    return (rng.uniform(6, 12), rng.uniform(1300, 5200), rng.uniform(600, 3050),
            rng.uniform(20, 45), rng.uniform(-15, 5), True, echoes)


def _squall(rng: np.random.Generator) -> tuple:
    n, length, bow = rng.integers(10, 17), rng.uniform(500, 1000), rng.uniform(0, 80)
    angle = np.radians(rng.uniform(-35, 15))
    along = np.linspace(-length / 2, length / 2, n) + rng.normal(0, 15, n)
    forward = bow * (1.0 - (2.0 * along / length) ** 2)
    line = np.column_stack([along * np.sin(angle) + forward * np.cos(angle), along * np.cos(angle) - forward * np.sin(angle),
                            rng.uniform(28, 50, n), rng.uniform(28, 50, n), rng.uniform(50, 60) + rng.uniform(-4, 2, n)])
    k = rng.integers(3, 6)
    behind = np.linspace(-length / 3, length / 3, k)
    back = rng.uniform(80, 150)
    trailing = np.column_stack([behind * np.sin(angle) - back * np.cos(angle), behind * np.cos(angle) + back * np.sin(angle),
                                rng.uniform(80, 130, k), rng.uniform(80, 130, k), line[0, 4] + rng.uniform(-18, -12, k)])
    return (rng.uniform(10, 22), rng.uniform(1500, 3300), rng.uniform(700, 2300),
            rng.uniform(45, 70), rng.uniform(-20, 10), False, np.vstack([line, trailing]))


def _stratiform(rng: np.random.Generator) -> tuple:
    n, length, angle = rng.integers(6, 13), rng.uniform(700, 1500), np.radians(rng.uniform(20, 60))
    along = np.linspace(-length / 2, length / 2, n) + rng.normal(0, 40, n)
    across = rng.normal(0, 60, n)
    size = rng.uniform(90, 200, n)
    shield = np.column_stack([along * np.cos(angle) + across * np.sin(angle), -along * np.sin(angle) + across * np.cos(angle),
                              size * rng.uniform(0.8, 1.2, n), size * rng.uniform(0.8, 1.2, n),
                              rng.uniform(30, 42) + rng.uniform(-6, 0, n)])
    k = rng.integers(0, 4)
    embedded = np.column_stack([rng.uniform(-length / 3, 0, k) * np.cos(angle), rng.uniform(0, 150, k),
                                rng.uniform(40, 60, k), rng.uniform(40, 60, k), shield[0, 4] + rng.uniform(5, 12, k)])
    return (rng.uniform(36, _MAX_LIFE), rng.uniform(900, 3200), rng.uniform(500, 2500),
            rng.uniform(30, 55), rng.uniform(-25, -5), False, np.vstack([shield, embedded]))


def _coastal(rng: np.random.Generator) -> tuple:
    n, y0 = rng.integers(4, 8), 1300.0 * rng.uniform() ** 1.5 + 50.0
    along = np.linspace(-250, 250, n) + rng.normal(0, 30, n)
    band = np.column_stack([rng.normal(0, 25, n), along, rng.uniform(60, 120, n), rng.uniform(60, 120, n),
                            rng.uniform(25, 38) + rng.uniform(-5, 0, n)])
    return (rng.uniform(18, 40), float(_coast_x(np.array(y0))) - rng.uniform(100, 350), y0,
            rng.uniform(15, 35), rng.uniform(-8, 8), False, band)


_MAKERS = {"cells": _cells, "squall": _squall, "stratiform": _stratiform, "coastal": _coastal}
