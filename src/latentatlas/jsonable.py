"""JSON text of the results every face returns: datetimes, paths and numpy values included."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = ["dumps"]


def dumps(data: Any) -> str:
    """``data`` as JSON; datetimes as ISO 8601, paths as text, numpy scalars and arrays as numbers and lists.

    Raises
    ------
    TypeError
        On a value of another type.
    ValueError
        On NaN or an infinity, which JSON cannot hold.
    """
    return json.dumps(data, default=_jsonable, allow_nan=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
