"""A query by time: the stored row valid at a given time (at one tile position when the atlas has tiles).

Times are compared as stored: naive UTC, as GRIB, NetCDF and manifests give
them. A time the atlas does not hold is refused with the nearest times it
does hold, so a user can correct it.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from ..errors import UsageError
from ..store.database import Store

__all__ = ["parse_time", "format_time", "row_at"]


def parse_time(value: str | datetime | np.datetime64) -> datetime:
    """``"2019-09-20 05:00"``, ``"2019-09-20T05:00:00Z"``, ``"2019-09-20 05:00:00 UTC"`` or a datetime, as naive UTC.

    Raises
    ------
    UsageError
        If the text is not an ISO 8601 date and time.
    """
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").item()
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value).strip()
        if text.upper().endswith(" UTC"):
            text = text[:-4].rstrip()
        if text.upper().endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(f"time must be a date and time such as '2019-09-20 05:00', got {value!r}",
                             parameter="time") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def format_time(when: datetime | np.datetime64) -> str:
    """``YYYY-MM-DD HH:MM`` (with seconds when there are any)."""
    when = parse_time(when)
    return when.strftime("%Y-%m-%d %H:%M:%S" if when.second or when.microsecond else "%Y-%m-%d %H:%M")


def row_at(store: Store, when: str | datetime, tile: tuple[int, int] | None = None) -> int:
    """The id of the stored row valid at ``when`` (and at tile position ``(tile_row, tile_col)``).

    Raises
    ------
    UsageError
        If no row has that time (the message names the nearest stored
        times before and after it), if several rows do and ``tile`` does not
        tell them apart, or if none of them is at ``tile``.
    """
    when = parse_time(when)
    ids, times = store.times()
    at = ids[times == np.datetime64(when, "us")]
    shown = format_time(when)
    if len(at) == 0:
        raise UsageError(f"no row at {shown} in {store.path}; {_nearest(times, when)}")
    rows = store.images(at.tolist())
    positions = {i: (rows[i]["tile_row"], rows[i]["tile_col"]) for i in at.tolist()}
    tiled = any(p != (None, None) for p in positions.values())
    if tile is not None:
        chosen = [i for i, p in positions.items() if p == tuple(tile)]
        if not chosen:
            where = f"its tiles are {_span(positions.values())}" if tiled else "the atlas has no tiles"
            raise UsageError(f"no tile ({tile[0]}, {tile[1]}) at {shown} in {store.path}; {where}")
    else:
        chosen = list(positions)
    if len(chosen) > 1:
        if tiled and tile is None:
            raise UsageError(f"{shown} has {len(chosen)} rows, one per tile ({_span(positions.values())}); "
                             "choose one with tile_row and tile_col", parameter=("tile_row", "tile_col"))
        listed = ", ".join(str(i) for i in chosen[:5]) + (", ..." if len(chosen) > 5 else "")
        raise UsageError(f"{shown} matches {len(chosen)} rows (ids {listed}); query one of them by id",
                         parameter="id")
    return int(chosen[0])


def _nearest(times: np.ndarray, when: datetime) -> str:
    """Which stored times lie just before and just after ``when``."""
    known = np.unique(times[~np.isnat(times)])
    if len(known) == 0:
        return "no row has a time"
    place = int(np.searchsorted(known, np.datetime64(when, "us")))
    near = [format_time(known[i]) for i in (place - 1, place) if 0 <= i < len(known)]
    return f"the nearest times are {' and '.join(near)}" if len(near) == 2 else f"the nearest time is {near[0]}"


def _span(positions) -> str:
    """``rows 0-1, cols 0-3`` of a set of tile positions."""
    rows = sorted({p[0] for p in positions if p[0] is not None})
    cols = sorted({p[1] for p in positions if p[1] is not None})
    return f"rows {rows[0]}-{rows[-1]}, cols {cols[0]}-{cols[-1]}" if rows and cols else "none"
