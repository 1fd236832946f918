"""The picture of a search: the query beside its results, with times and distances.

Fields (single-channel floats such as radar reflectivity) are drawn as maps
in a colour map, by default the National Weather Service's dBZ colours, on
their grid's coordinates (coastlines, borders, latitudes and longitudes)
when the atlas knows where its fields lie (``fit`` stores it for GRIB2 and
NetCDF sources); other images as they are. Times are UTC. The pictures are
the originals, read again as they were embedded; a query given as a bare
vector is shown decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import UsageError
from ..pictures.grids import REFLECTIVITY, captioned_rows, field_colours, is_field, save_png
from ..sources.geometry import GridGeometry
from ..store.database import Store
from .at_time import format_time
from .embed import reader_options
from .rows import atlas_geometry, read_pixels, row_geometry
from .search import Query, SearchResult

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["draw_search", "PICTURE_SUFFIX", "placed"]

PICTURE_SUFFIX = ".png"
_COLUMNS = 6


def draw_search(store: Store, query: Query, result: SearchResult, path: str | Path,
                colormap: str = REFLECTIVITY, model: Callable[[], LatentModel] | None = None) -> Path:
    """Draw the query and its hits in rows of six and write the PNG to ``path``.

    ``colormap`` colours fields (``"reflectivity"``: NWS dBZ colours; or a
    matplotlib name, over the atlas's ``--clip`` range or the fields' own).
    ``model`` is called only to decode a query given as a vector. Hits whose
    originals cannot be read any more are left blank, captioned so. Fields
    are maps when the atlas knows its grid (:func:`atlas_geometry`) and
    they have its shape (or their tile's); a query that is not a stored
    row (an image file, a decoded vector) takes the whole grid.

    Raises
    ------
    UsageError
        On an unknown colour map or a ``path`` that does not end in ``.png``.
    """
    path = Path(path)
    if path.suffix.lower() != PICTURE_SUFFIX:
        raise UsageError(f"out must end in {PICTURE_SUFFIX} (the picture of a search is a PNG file), got {path.name}",
                         parameter="out")
    ids = [hit.id for hit in result.hits]
    stored = read_pixels(store, ids + ([query.source["id"]] if "id" in query.source else []))
    pixels = dict(zip(stored.ids.tolist(), stored.images))
    rows = store.images(ids + ([query.source["id"]] if "id" in query.source else []))
    shown = _query_pixels(query, pixels, model)
    images = [shown] + [pixels.get(i) for i in ids]
    captions = [_query_caption(query)] + [
        f"{_when(rows[hit.id])}\nd={hit.distance:.3g}" if hit.id in pixels else f"id {hit.id}\nunreadable"
        for hit in result.hits]
    present = [im for im in images if im is not None]
    fields = bool(present) and all(is_field(im) for im in present)
    style: dict = {}
    starts = range(0, len(images), _COLUMNS)
    if fields:
        clip = reader_options(store).clip
        cmap, span = field_colours(colormap, clip or (float(np.min(present)), float(np.max(present))))
        style = {"cmap": cmap, "value_range": span, "colorbar": "dBZ" if colormap == REFLECTIVITY else "value"}
        geometry = atlas_geometry(store)
        if geometry is not None:
            query_row = rows.get(query.source.get("id"))
            places = [row_geometry(geometry, query_row) if query_row else geometry] + [
                row_geometry(geometry, rows.get(i)) for i in ids]
            style["geometries"] = [[placed(place, image) for place, image in zip(places[i:i + _COLUMNS],
                                                                                 images[i:i + _COLUMNS])]
                                   for i in starts]
    images = [_blank(present, fields) if im is None else im for im in images]
    figure = captioned_rows([images[i:i + _COLUMNS] for i in starts], [captions[i:i + _COLUMNS] for i in starts],
                            **style)
    return save_png(figure, path)


def placed(geometry: GridGeometry | None, image: np.ndarray | None) -> GridGeometry | None:
    """``geometry`` if ``image`` has its shape (a field of another grid, or none, is drawn without a map)."""
    if geometry is None or image is None or tuple(np.shape(image)[:2]) != tuple(geometry.shape):
        return None
    return geometry


def _blank(present: list[np.ndarray], fields: bool) -> np.ndarray:
    """An empty panel the size of the others: NaN (not drawn) for fields, white for images."""
    shape = present[0].shape if present else (8, 8)
    return np.full(shape, np.nan, np.float32) if fields else np.full(shape, 255, np.uint8)


def _query_pixels(query: Query, stored: dict[int, np.ndarray], model: Callable[[], LatentModel] | None):
    if query.pixels is not None:
        return query.pixels
    if "id" in query.source:
        return stored.get(query.source["id"])
    if model is None:
        return None
    return model().decode_images(query.vector[None])[0]


def _query_caption(query: Query) -> str:
    if query.time is not None:
        tile = query.source.get("tile")
        return f"query\n{format_time(query.time)} UTC" + (f" ({tile[0]},{tile[1]})" if tile else "")
    if "id" in query.source:
        return f"query\nid {query.source['id']}"
    if "image" in query.source:
        return f"query\n{Path(str(query.source['image'])).name}"
    return "query\n(vector, decoded)"


def _when(row: dict) -> str:
    text = f"{format_time(row['time'])} UTC" if row["time"] is not None else f"id {row['id']}"
    if row["tile_row"] is not None:
        text += f" ({row['tile_row']},{row['tile_col']})"
    return text
