"""Project: a 2-D or 3-D picture of the codes (PCA, t-SNE, UMAP, LDA) and its coordinates as Parquet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import at_least, one_of
from ..errors import UsageError
from ..progress import ProgressCallback, silent
from ..sources import Failure
from ..space.projection import METHODS, Projection
from ..store.clusters import load_run
from ..store.database import Store
from .rows import column_of, read_pixels

__all__ = ["ProjectSettings", "ProjectionResult", "project", "map_points", "spread", "COLOR_BY"]

COLOR_BY = ("label", "cluster:RUN", "time", "none")


@dataclass(frozen=True, kw_only=True)
class ProjectSettings:
    """How to project.

    Parameters
    ----------
    method : {"pca", "tsne", "umap", "lda"}
    dims : {2, 3}
    color_by : str or None
        ``label``, ``cluster:RUN`` (a stored cluster run), ``time`` or
        ``none``; None colours by label when the rows have labels.
    thumbnails : int
        Images drawn at their points (spread over the picture; 2-D only); 0 for none.
    where : str or None
        SQL predicate on ``images``: only matching rows are projected.
    seed : int
    perplexity : float
        t-SNE's perplexity.
    max_rows : int or None
        At most this many rows are projected, spread evenly over the ids
        of those that match (the result says how many there were); None
        projects all, holding every code in memory.

    Raises
    ------
    UsageError
        Naming the parameter, on a value that cannot be used.
    """

    method: str = "pca"
    dims: int = 2
    color_by: str | None = None
    thumbnails: int = 0
    where: str | None = None
    seed: int = 0
    perplexity: float = 30.0
    max_rows: int | None = 200_000

    def __post_init__(self) -> None:
        one_of(METHODS)("method", self.method)
        if self.dims not in (2, 3):
            raise UsageError(f"dims must be 2 or 3, got {self.dims}", parameter="dims")
        known = self.color_by in (None, "label", "time", "none") or self.color_by.startswith("cluster:")
        if not known:
            raise UsageError(f"color_by must be one of {', '.join(COLOR_BY)}, got {self.color_by!r}", parameter="color_by")
        if self.max_rows is not None:
            at_least(3)("max_rows", self.max_rows)
        at_least(0)("thumbnails", self.thumbnails)
        if self.thumbnails and self.dims == 3:
            raise UsageError("thumbnails are drawn on 2-D pictures only; use dims 2", parameter="dims")


@dataclass
class ProjectionResult:
    """The projected rows, their coordinates, and the files written."""

    method: str
    dims: int
    ids: np.ndarray
    coords: np.ndarray
    color_by: str
    plot: Path
    coordinates: Path | None
    failures: list[Failure] = field(default_factory=list)
    matched: int = 0

    def to_dict(self) -> dict[str, Any]:
        """``{"method", "dims", "rows", "matched", "color_by", "plot", "coordinates", "failures"}``.

        ``rows`` were projected of the ``matched`` rows (fewer when sampled, see ``max_rows``).
        """
        return {
            "method": self.method, "dims": self.dims, "rows": len(self.ids), "matched": self.matched,
            "color_by": self.color_by,
            "plot": str(self.plot), "coordinates": None if self.coordinates is None else str(self.coordinates),
            "failures": [{"uri": f.uri, "reason": f.reason} for f in self.failures],
        }


def project(
    store: Store,
    settings: ProjectSettings,
    out: str | Path,
    coordinates: str | Path | None = None,
    progress: ProgressCallback = silent,
) -> ProjectionResult:
    """Project the stored codes and write the picture to ``out``.

    The coordinates go to ``coordinates`` when given (nothing else is
    written) with the columns ``id, x, y[, z], label, time`` and the
    colour column. LDA is fitted on the labelled rows and places the
    others too.

    Raises
    ------
    UsageError
        On a bad setting, LDA on rows without labels, an unknown cluster
        run, or too few rows.
    """
    matched = store.ids_where(settings.where) if settings.where else store.embedding_ids()
    ids, codes = store.vectors(spread(matched, settings.max_rows))
    if len(ids) == 0:
        raise UsageError(f"no embedded rows{' match the where predicate' if settings.where else ''} in {store.path}",
                         parameter="where")
    labels = column_of(store, ids, "label::TEXT")
    has_label = np.array([v is not None for v in labels], bool)
    estimator = Projection(settings.method, settings.dims, perplexity=settings.perplexity, random_state=settings.seed)
    progress(settings.method, 0, 1)
    if settings.method == "lda":
        if not has_label.any():
            raise UsageError(f"LDA needs labels and the rows of {store.path} have none; use pca, tsne or umap")
        estimator.fit(codes[has_label], labels[has_label])
        coords = estimator.transform(codes)
    else:
        coords = estimator.fit_transform(codes)
    progress(settings.method, 1, 1)

    color_by = settings.color_by or ("label" if has_label.any() else "none")
    values, continuous = _colours(store, ids, color_by, labels)
    out = Path(out)
    if coordinates is not None:
        coordinates = Path(coordinates)
        _write_coordinates(coordinates, ids, coords, store, labels, color_by, values)
    thumbs, failures = _thumbnails(store, ids, coords, settings)
    from ..pictures.grids import save_png
    from ..pictures.plots import scatter

    sampled = f" (a sample spread over {len(matched)})" if len(ids) < len(matched) else ""
    title = f"{settings.method.upper() if settings.method != 'tsne' else 't-SNE'} of {len(ids)} codes{sampled}"
    figure = scatter(coords, values, continuous, title, color_by if color_by != "none" else "", thumbs)
    plot = save_png(figure, out)
    return ProjectionResult(settings.method, settings.dims, ids, coords, color_by, plot, coordinates, failures,
                            len(matched))


def map_points(store: Store, color_by: str = "label", limit: int = 5000) -> dict[str, Any]:
    """A 2-D PCA map of at most ``limit`` stored codes (spread evenly over the ids), for the web page.

    Returns ``{"ids", "x", "y", "color_by", "values", "continuous", "total"}``
    (``total``: the stored codes, of which ``ids`` are shown):
    ``values`` colour the points by ``label``, ``time`` (seconds since
    1970) or ``cluster:RUN``; ``none`` gives no values.

    Raises
    ------
    UsageError
        For an unknown ``color_by`` or cluster run, ``time`` on rows without
        times, or an atlas without codes.
    """
    if color_by not in ("none", "label", "time") and not color_by.startswith("cluster:"):
        raise UsageError(f"color_by must be none, label, time or cluster:RUN, got {color_by!r}")
    count, _ = store.embedding_span()
    if count == 0:
        raise UsageError(f"no embedded rows in {store.path}")
    ids, codes = store.vectors(spread(store.embedding_ids(), limit))
    coords = Projection("pca", 2).fit_transform(codes) if len(ids) > 2 else np.zeros((len(ids), 2))
    labels = column_of(store, ids, "label::TEXT") if color_by == "label" else None
    values, continuous = _colours(store, ids, color_by, labels)
    shown = None if values is None else [None if v is None or v != v else v for v in values.tolist()]  # NaN: none
    coords = coords.astype(np.float64).round(4)
    return {"ids": ids.tolist(), "x": coords[:, 0].tolist(), "y": coords[:, 1].tolist(),
            "color_by": color_by, "values": shown, "continuous": continuous, "total": int(count)}


def spread(ids: np.ndarray, limit: int | None) -> np.ndarray:
    """At most ``limit`` of ``ids`` (all when None), spread evenly over them."""
    if limit is None or len(ids) <= limit:
        return ids
    return ids[np.unique(np.linspace(0, len(ids) - 1, limit).astype(np.int64))]


def _colours(store: Store, ids: np.ndarray, color_by: str, labels: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """The values to colour by, and whether they are continuous."""
    if color_by == "none":
        return None, False
    if color_by == "label":
        return labels, False
    if color_by == "time":
        times = column_of(store, ids, "epoch(time)")
        if all(t is None for t in times):
            raise UsageError(f"color_by time: the rows of {store.path} have no time", parameter="color_by")
        return np.array([np.nan if t is None else float(t) for t in times]), True
    run = load_run(store, color_by.split(":", 1)[1])
    where = np.searchsorted(run.ids, ids)
    inside = (where < len(run.ids)) & (run.ids[np.minimum(where, len(run.ids) - 1)] == ids)
    return np.array([int(run.clusters[w]) if i else None for w, i in zip(where, inside)], dtype=object), False


def _write_coordinates(path: Path, ids: np.ndarray, coords: np.ndarray, store: Store, labels: np.ndarray,
                       color_by: str, values: np.ndarray | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {"id": ids}
    for axis, name in enumerate("xyz"[:coords.shape[1]]):
        columns[name] = coords[:, axis]
    columns["label"] = pa.array(list(labels), pa.string())
    columns["time"] = pa.array(list(column_of(store, ids, "time")), pa.timestamp("us"))
    if color_by.startswith("cluster:"):
        columns["cluster"] = pa.array(list(values), pa.int32())
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def _thumbnails(store: Store, ids: np.ndarray, coords: np.ndarray,
                settings: ProjectSettings) -> tuple[list[tuple[int, np.ndarray]], list[Failure]]:
    if not settings.thumbnails:
        return [], []
    from ..pictures.grids import to_display
    from ..pictures.plots import spread_points

    rows = spread_points(coords, settings.thumbnails, settings.seed)
    pixels = read_pixels(store, ids[rows])
    row_of = {int(i): int(r) for i, r in zip(ids[rows], rows)}
    return [(row_of[int(i)], to_display(image)) for i, image in zip(pixels.ids, pixels.images)], pixels.failures
