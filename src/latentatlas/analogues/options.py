"""The options of an analogue query, declared once: each field with the parser of its text form.

``AnalogueOptions`` travels whole, keyword-only, from the CLI, the page and
``Atlas`` to the search, the forecast and its verification. A new option is
a field here (with its parser and its help in the field's metadata, from
which the CLI makes its flag) and its effect in :mod:`latentatlas.analogues.find`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import UsageError, UsageErrors
from ..search.neighbours import parse_window

__all__ = ["AnalogueOptions", "Region", "parse_region", "parse_weights", "parse_names"]

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


def parse_names(names: str | Sequence[str], known: Sequence[str], parameter: str) -> tuple[str, ...]:
    """``"a,b"`` or names, each one of ``known`` (order kept, repeats dropped).

    Raises
    ------
    UsageError
        Naming ``parameter``, if a name is unknown or none is given.
    """
    given = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if not given or any(n not in known for n in given):
        raise UsageError(f"{parameter} must be some of {', '.join(known)}, got {names!r}", parameter=parameter)
    return tuple(dict.fromkeys(given))


def _wrapped(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0 if lon != 180.0 else 180.0


def _duration(name: str) -> Callable[[Any], timedelta | None]:
    return lambda value: parse_window(value, name)


def _option(parse: Callable[[Any], Any], help: str) -> Any:
    """A field of :class:`AnalogueOptions`, unset by default, read from text by ``parse``; ``help`` for its flag."""
    return field(default=None, kw_only=True, metadata={"parse": parse, "help": help})


@dataclass(frozen=True)
class AnalogueOptions:
    """Season window, minimum separation, trend window, region and channel weights of an analogue query (None: unused).

    * ``season_window``: only rows whose time of year lies within that many
      days of the query's (around a year of 365.2425 days).
    * ``min_separation``: no two analogues closer in time than this, each its own event.
    * ``trend``: match the last hours too (AnEn's time window), summing the
      code distances at ``t, t - step, ...`` back to ``t - trend``.
    * ``region``: a latitude/longitude box; only the rows (tiles or whole
      fields) of a gridded atlas that overlap it.
    * ``channel_weights``: one weight per channel of stacked variables; the
      nearest codes are re-ranked by the weighted distance of their decoded channels.
    """

    season_window: timedelta | None = _option(
        _duration("season_window"), "Analogues: only rows within this many days of the query's time of year (45d).")
    min_separation: timedelta | None = _option(
        _duration("min_separation"), "Analogues: no two results closer in time than this (2d), each its own event.")
    trend: timedelta | None = _option(
        _duration("trend"), "Analogues: match the last hours too, summing code distances at t, t-1h, ... back this far (3h).")
    region: Region | None = _option(
        parse_region, "Analogues in a gridded atlas: only the tiles overlapping LAT0,LAT1,LON0,LON1 (degrees).")
    channel_weights: tuple[float, ...] | None = _option(
        parse_weights, "Analogues of stacked variables: weights per channel (1,0.5), on the decoded fields.")

    @classmethod
    def of(cls, **values: Any) -> "AnalogueOptions":
        """Options from text or values by name: durations ``"45d"``, a box ``"LAT0,LAT1,LON0,LON1"``, weights ``"1,0.5"``.

        Every option is checked: one bad option raises its own error, several a
        :class:`~latentatlas.errors.UsageErrors` holding each one's.

        Raises
        ------
        UsageError
            If a name is unknown, a duration is not positive, the box is malformed or a weight is not a number >= 0.
        """
        known = {f.name: f.metadata["parse"] for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UsageError(f"unknown analogue option(s) {', '.join(unknown)}; known: {', '.join(known)}",
                             parameter=tuple(unknown))
        parsed, problems = {}, []
        for name, value in values.items():
            if value is not None:
                try:
                    parsed[name] = known[name](value)
                except UsageError as problem:
                    problems.append(problem)
        UsageErrors.raise_any(problems)
        return cls(**parsed)

    @classmethod
    def given(cls, analogue: "AnalogueOptions | None" = None, **values: Any) -> "AnalogueOptions":
        """``analogue`` as given, or the options :meth:`of` builds from ``values`` by name (none: no option).

        Raises
        ------
        UsageError
            If both are given, or as :meth:`of`.
        """
        if analogue is not None and any(v is not None for v in values.values()):
            raise UsageError(f"give analogue or its options by name ({', '.join(values)}), not both",
                             parameter=("analogue", *values))
        return analogue if analogue is not None else cls.of(**values)

    @property
    def used(self) -> bool:
        """Whether any option is set."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """The options set, durations as text (``{"season_window": "45 days, 0:00:00"}``), boxes and weights as lists."""
        data: dict[str, Any] = {}
        for option in fields(self):
            value = getattr(self, option.name)
            if value is not None:
                data[option.name] = str(value) if isinstance(value, timedelta) else list(value)
        return data
