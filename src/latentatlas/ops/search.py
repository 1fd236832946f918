"""Search: the nearest stored images to a query (an id, an image, or a vector)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..index import check_metric, exact_search
from ..models import LatentModel
from ..sources import read_source
from ..store import Store
from .embed import check_model_matches

__all__ = ["Hit", "SearchResult", "Query", "resolve_query", "search"]


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
    """A query code and what it came from (an id, an image file, or a given vector)."""

    vector: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """The query, the settings, and the hits in order of distance."""

    query: dict[str, Any]
    hits: list[Hit]

    def to_dict(self) -> dict[str, Any]:
        """``{"query": {...}, "results": [{"id", "uri", "label", "time", "distance"}, ...]}``."""
        return {"query": self.query, "results": [h.to_dict() for h in self.hits]}


def resolve_query(
    store: Store,
    model: Callable[[], LatentModel],
    id: int | None = None,
    image: str | Path | None = None,
    vector: Sequence[float] | None = None,
) -> Query:
    """Turn exactly one of ``id``, ``image`` or ``vector`` into a query code.

    ``model`` is called only when an image has to be encoded.

    Raises
    ------
    UsageError
        If not exactly one is given, the id is unknown, or the vector has the
        wrong length.
    BadInputError
        If the image cannot be read.
    ModelMismatchError
        If the model's codes are not those stored in the atlas.
    """
    given = [name for name, value in (("id", id), ("image", image), ("vector", vector)) if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one query: an image file, --id or --vector" + (f" (got {', '.join(given)})" if given else ""))
    if id is not None:
        ids, vectors = store.vectors(np.array([id]))
        if len(ids) == 0:
            raise UsageError(f"unknown id {id} in {store.path} ({store.count('embeddings')} rows)")
        return Query(vectors[0], {"id": int(id)})
    if vector is not None:
        values = np.asarray(vector, np.float32).reshape(-1)
        d = store.code_size()
        if d is not None and len(values) != d:
            raise UsageError(f"--vector has {len(values)} numbers; the atlas's codes have {d}")
        if not np.isfinite(values).all():
            raise UsageError("--vector contains NaN or infinite values")
        return Query(values, {"vector": values.tolist()})
    records = read_source(image).records
    if len(records) != 1:
        raise BadInputError(f"{image}: a query must be one image, this source holds {len(records)}")
    pixels = records[0].load()
    encoder = model()
    check_model_matches(store, encoder)
    return Query(encoder.encode([pixels], [records[0].uri])[0], {"image": records[0].uri})


def search(
    store: Store,
    query: Query,
    k: int = 10,
    metric: str = "l2",
    where: str | None = None,
) -> SearchResult:
    """The ``k`` stored images nearest to ``query``.

    ``where`` is an SQL predicate on the ``images`` table, applied before
    ranking, so ``k`` results come back whenever ``k`` rows match.

    Raises
    ------
    UsageError
        On ``k < 1``, an unknown metric or a malformed predicate.
    """
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    check_metric(metric)
    wanted = store.ids_where(where) if where else None
    ids, matrix = store.vectors(wanted)
    if matrix.size and matrix.shape[1] != len(query.vector):
        raise UsageError(f"query has {len(query.vector)} numbers; the atlas's codes have {matrix.shape[1]}")
    rows, distances = exact_search(matrix, query.vector, k, metric)
    hit_ids = ids[rows]
    info = store.images(hit_ids.tolist())
    hits = [
        Hit(int(i), info[i]["uri"], info[i]["label"], info[i]["time"], float(d))
        for i, d in zip(hit_ids.tolist(), distances.tolist())
    ]
    settings = {**query.source, "k": k, "metric": metric, "where": where}
    return SearchResult(query=settings, hits=hits)
