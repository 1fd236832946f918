"""Search: the nearest stored images to a query (an id, an image, or a vector).

The query is resolved to a code (and, when known, a time) by
:func:`resolve_query`; :func:`search` ranks the stored codes with the
atlas's engine (its ANN index when fresh, else an exact scan) under the
filters of :func:`latentatlas.search.neighbours.nearest`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..analogues import AnalogueOptions, Timeline, find_analogues
from ..analogues.find import rerank_for, restrict
from ..search.engine import Engine, EngineCache, ann_dir
from ..search.neighbours import Filters, NeighbourOptions, nearest
from ..sources import read_source
from ..store.database import Store

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["Hit", "SearchResult", "SearchOptions", "Query", "resolve_query", "image_query", "search"]


@dataclass(frozen=True, kw_only=True)
class SearchOptions(NeighbourOptions):
    """The options of one search: those of :class:`~latentatlas.search.neighbours.NeighbourOptions` and ``analogue``.

    ``analogue`` (:class:`~latentatlas.analogues.options.AnalogueOptions`):
    season window, minimum separation, trend window, region and channel
    weights of an analogue query; when any is set the codes are scanned exactly.
    """

    analogue: AnalogueOptions = AnalogueOptions()


@dataclass
class Hit:
    """One result: a stored image and its distance to the query."""

    id: int
    uri: str
    label: str | None
    time: datetime | None
    distance: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (time as ISO 8601)."""
        data = asdict(self)
        data["time"] = self.time.isoformat() if self.time else None
        return data


@dataclass
class Query:
    """A query code, what it came from (an id, a time, an image file, or a given vector) and its time if known.

    ``pixels`` holds the image of an image query (as read), for pictures.
    """

    vector: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)
    time: datetime | None = None
    pixels: np.ndarray | None = None


@dataclass
class SearchResult:
    """The query, the settings, the hits in order of distance, and the picture of them if one was drawn.

    ``pixels`` is the query image as read, when the query was an image.
    """

    query: dict[str, Any]
    hits: list[Hit]
    out: Path | None = None
    pixels: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"query": {...}, "results": [{"id", "uri", "label", "time", "distance"}, ...]}`` (and ``"out"``)."""
        data: dict[str, Any] = {"query": self.query, "results": [h.to_dict() for h in self.hits]}
        if self.out is not None:
            data["out"] = str(self.out)
        return data


def resolve_query(
    store: Store,
    model: Callable[[], LatentModel],
    id: int | None = None,
    image: str | Path | None = None,
    vector: Sequence[float] | None = None,
    time: str | datetime | None = None,
    tile: tuple[int, int] | None = None,
) -> Query:
    """Turn exactly one of ``id``, ``image``, ``vector`` or ``time`` into a query code.

    ``time`` is the stored row valid then (see
    :func:`latentatlas.ops.at_time.row_at`); in an atlas of tiles, ``tile``
    ``(tile_row, tile_col)`` says which of that time's rows. ``model`` is
    called only when an image has to be encoded; an image is read with the
    atlas's reading options (variable, clip, crop, scale).

    Raises
    ------
    UsageError
        If not exactly one is given, the id or time is unknown, ``tile``
        comes without ``time``, or the vector has the wrong length.
    BadInputError
        If the image cannot be read or does not fit the atlas (see :func:`image_query`).
    ModelMismatchError
        If the model's codes are not those stored in the atlas.
    """
    given = [name for name, value in (("id", id), ("image", image), ("vector", vector), ("time", time))
             if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one query: an image file, id, vector or time"
                         + (f" (got {', '.join(given)})" if given else ""), parameter=("id", "vector", "time"))
    if tile is not None and time is None:
        raise UsageError("tile_row and tile_col pick the tile of a query by time",
                         parameter=("tile_row", "tile_col", "time"))
    if time is not None:
        from .at_time import parse_time, row_at

        found = resolve_query(store, model, id=row_at(store, time, tile))
        where = {"tile": [int(tile[0]), int(tile[1])]} if tile is not None else {}
        return Query(found.vector, {"time": parse_time(time).isoformat(), **where, **found.source}, found.time)
    if id is not None:
        ids, vectors = store.vectors(np.array([id]))
        if len(ids) == 0:
            raise UsageError(f"unknown id {id} in {store.path} ({store.count('embeddings')} rows)")
        return Query(vectors[0], {"id": int(id)}, store.images([int(id)])[int(id)]["time"])
    if vector is not None:
        values = np.asarray(vector, np.float32).reshape(-1)
        d = store.code_size()
        if d is not None and len(values) != d:
            raise UsageError(f"vector has {len(values)} numbers; the atlas's codes have {d}", parameter="vector")
        if not np.isfinite(values).all():
            raise UsageError("vector contains NaN or infinite values", parameter="vector")
        return Query(values, {"vector": values.tolist()})
    from .embed import check_model_matches, whole_image_options

    records = read_source(image, whole_image_options(store)).records
    if len(records) != 1:
        raise BadInputError(f"{image}: a query must be one image, this source holds {len(records)}")
    encoder = model()
    check_model_matches(store, encoder)
    return image_query(store, encoder, records[0].load(), records[0].uri, records[0].time)


def image_query(store: Store, model: LatentModel, pixels: np.ndarray, uri: str, time: datetime | None = None) -> Query:
    """The query of one image: checked against the atlas, encoded, its conversions in ``source["conversions"]``.

    Raises
    ------
    BadInputError
        If the image does not fit the atlas (see :func:`latentatlas.ops.query_fit.fit_query`).
    """
    from .query_fit import Collection, fit_query

    conversions = fit_query(pixels, Collection.of(store, model.preprocess), uri)
    return Query(model.encode([pixels], [uri])[0], {"image": uri, "conversions": conversions}, time, pixels)


def search(
    store: Store,
    query: Query,
    options: SearchOptions = SearchOptions(),
    engines: EngineCache | None = None,
    model: Callable[[], LatentModel] | None = None,
) -> SearchResult:
    """The ``options.k`` stored images nearest to ``query``, ranked as ``options`` say (see :class:`SearchOptions`).

    Parameters
    ----------
    engines : EngineCache, optional
        Reuses loaded codes between calls (the Python face keeps one).
    model : callable, optional
        Returns the atlas's model; needed by channel weights only.

    Raises
    ------
    UsageError
        On a malformed predicate, a query of the wrong length,
        ``exclude_within`` or a season window for a query without a time,
        or a trend window for a query that is not a stored row.
    """
    k, metric, where, exclude_within = options.k, options.metric, options.where, options.exclude_within
    window = options.window
    if window is not None and query.time is None:
        raise UsageError("exclude_within needs a query with a time (a stored row, or an image from a manifest with times)",
                         parameter="exclude_within")
    analogue = options.analogue if options.analogue.used else None
    engine = (engines or EngineCache()).get(store, metric, options.exact or analogue is not None, options.dtype)
    d = store.code_size()
    if d is not None and d != len(query.vector):
        raise UsageError(f"query has {len(query.vector)} numbers; the atlas's codes have {d}")
    times = None if query.time is None else np.array([query.time], "datetime64[us]")
    filters = Filters.of(store, where, window)
    settings = {**query.source, "k": k, "metric": metric, "where": where}
    if analogue is None:
        ids, distances = nearest(engine, query.vector[None], k, metric, filters, times)
        ids, distances = ids[0], distances[0]
    else:
        found = _analogues(store, engine, query, k, metric, filters, times, analogue, model)
        ids, distances = found.ids, found.distances
        settings.update(analogue.to_dict())
        if analogue.trend is not None:
            settings["skipped_without_trend_window"] = found.skipped
    found = [(int(i), float(dist)) for i, dist in zip(ids, distances) if i >= 0]
    info = store.images([i for i, _ in found])
    hits = [Hit(i, info[i]["uri"], info[i]["label"], info[i]["time"], dist) for i, dist in found]
    if window is not None:
        settings["exclude_within"] = str(exclude_within)
    if engine.kind != "exact" or options.exact or ann_dir(store).is_dir():
        settings["engine"] = engine.kind
    return SearchResult(query=settings, hits=hits)


def _analogues(store: Store, engine: Engine, query: Query, k: int, metric: str, filters: Filters,
               times: np.ndarray | None, options: AnalogueOptions, model: Callable[[], LatentModel] | None):
    """The analogues of ``query`` among the rows ``filters`` allow."""
    allowed = engine.ids if filters.allowed is None else filters.allowed
    if filters.width is not None:
        allowed = np.setdiff1d(allowed, filters.near(times[0]), assume_unique=True)
    return find_analogues(engine, Timeline.of(store), query.vector, k, metric, options, query.source.get("id"),
                          None if times is None else times[0], restrict(store, options, allowed),
                          rerank_for(options, model, engine, query.vector))
