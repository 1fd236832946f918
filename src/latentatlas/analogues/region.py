"""Rows of a gridded atlas that cover a latitude/longitude box: the tiles (or whole fields) overlapping it.

A row overlaps the box when the centre of one of its pixels lies inside
it, on the grid ``fit`` found for the fields (:func:`latentatlas.ops.rows.atlas_geometry`),
through the row's tile window when the atlas has tiles.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..sources.geometry import GridGeometry
from ..ops.rows import atlas_geometry
from ..store.database import Store
from .options import Region

__all__ = ["ids_in_region"]


def ids_in_region(store: Store, region: Region) -> np.ndarray:
    """Ids (sorted) of the rows whose tile, or whole field, has a pixel centre inside ``region``.

    Raises
    ------
    UsageError
        If the atlas does not know where its fields lie.
    """
    geometry = atlas_geometry(store)
    if geometry is None:
        raise UsageError("region needs an atlas of gridded fields whose grid fit found (GRIB2, NetCDF)",
                         parameter="region")
    table = store.con.sql(
        "SELECT id, coalesce(TRY_CAST(meta->>'top' AS INTEGER), -1) AS top, "
        "coalesce(TRY_CAST(meta->>'left' AS INTEGER), -1) AS lft, height, width FROM images ORDER BY id").fetchnumpy()
    windows = np.stack([np.asarray(table[c], np.int64) for c in ("top", "lft", "height", "width")], axis=1)
    unique, which = np.unique(windows, axis=0, return_inverse=True)
    inside = np.array([_overlaps(geometry, tuple(int(v) for v in w), region) for w in unique], bool)
    return np.asarray(table["id"], np.int64)[inside[which.reshape(-1)]]


def _overlaps(geometry: GridGeometry, window: tuple[int, int, int, int], region: Region) -> bool:
    """Whether a pixel centre of ``window`` (top, left, height, width; top -1: the whole field) lies in ``region``."""
    top, left, height, width = window
    placed = geometry if top < 0 else geometry.window(top, left, height, width)
    rows, cols = placed.shape
    west, east, south, north = placed.extent
    x = west + (np.arange(cols) + 0.5) * (east - west) / cols
    y = north - (np.arange(rows) + 0.5) * (north - south) / rows
    lat, lon = placed.inverse(*np.meshgrid(x, y))
    lat0, lat1, lon0, lon1 = region
    across = (lon >= lon0) & (lon <= lon1) if lon0 < lon1 else (lon >= lon0) | (lon <= lon1)
    return bool(((lat >= lat0) & (lat <= lat1) & across).any())
