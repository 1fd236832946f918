"""Export: the atlas as one Parquet file in the layout Apple's Embedding Atlas reads.

One row per embedded image, in id order::

    id, uri, label, time        what ``images`` holds
    cluster_<run>               each stored cluster run (null outside it)
    x, y                        a 2-D projection of the codes (PCA, t-SNE or UMAP)
    neighbors                   {"ids": [...], "distances": [...]}: the row's nearest rows,
                                as zero-based row numbers of this file (itself left out)
    image                       a PNG thumbnail (fields in their colours), null if unreadable

``embedding-atlas FILE --x x --y y --neighbors neighbors --image image``
opens it (what ``latentatlas explore`` runs). Only pyarrow is needed to
write it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import at_least, one_of
from ..errors import UsageError
from ..models import has_model, load_model
from ..progress import ProgressCallback, silent
from ..sources import Failure
from ..store.clusters import load_run, run_names
from ..store.database import Store

__all__ = ["ExportOptions", "ExportReport", "export_embedding_atlas", "FORMATS", "PROJECTIONS"]

FORMATS = ("embedding-atlas",)
PROJECTIONS = ("pca", "tsne", "umap")
_BATCH = 256  # thumbnails read per batch


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """What an export writes.

    Parameters
    ----------
    format : {"embedding-atlas"}
        The file's layout.
    neighbours : int
        Nearest rows listed for each row (at least 1).
    projection : {"pca", "tsne", "umap"}
        The 2-D map.
    thumbnail : int
        Longer side of each thumbnail in pixels (at least 8).
    seed : int
        Seeds t-SNE and UMAP.

    Raises
    ------
    UsageError
        Naming the parameter, on an unknown format or projection, or too few neighbours or thumbnail pixels.
    """

    format: str = "embedding-atlas"
    neighbours: int = 10
    projection: str = "pca"
    thumbnail: int = 96
    seed: int = 0

    def __post_init__(self) -> None:
        one_of(FORMATS)("format", self.format)
        at_least(1)("neighbours", self.neighbours)
        one_of(PROJECTIONS)("projection", self.projection)
        at_least(8)("thumbnail", self.thumbnail)


@dataclass
class ExportReport:
    """What was written: the file, its rows and columns, and the thumbnails that could not be made."""

    path: Path
    rows: int
    columns: list[str]
    command: list[str]
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"path", "rows", "columns", "command", "failures"}``."""
        return {"path": str(self.path), "rows": self.rows, "columns": self.columns, "command": self.command,
                "failures": [{"uri": f.uri, "reason": f.reason} for f in self.failures]}


def export_embedding_atlas(store: Store, out: str | Path, options: ExportOptions = ExportOptions(),
                           progress: ProgressCallback = silent) -> ExportReport:
    """Write the atlas's rows, codes' projection, neighbours and thumbnails to ``out`` (a ``.parquet`` file).

    Raises
    ------
    UsageError
        On an atlas without codes.
    """
    neighbours, projection, thumbnail, seed = options.neighbours, options.projection, options.thumbnail, options.seed
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..search.neighbours import NeighbourOptions, search_batch
    from ..space.projection import Projection

    ids, codes = store.vectors()
    if len(ids) < 2:
        raise UsageError(f"{store.path}: {len(ids)} embedded row(s); an export needs at least 2 (run `latentatlas embed`)")
    columns: dict[str, Any] = _metadata(store, ids)
    for run in run_names(store):
        stored = load_run(store, run)
        where = dict(zip(stored.ids.tolist(), stored.clusters.tolist()))
        columns[f"cluster_{run}"] = pa.array([where.get(int(i)) for i in ids], pa.int32())
    progress(projection, 0, 1)
    coords = Projection(projection, 2, random_state=seed).fit_transform(codes)
    progress(projection, 1, 1)
    columns["x"], columns["y"] = coords[:, 0].astype(np.float32), coords[:, 1].astype(np.float32)
    k = min(neighbours, len(ids) - 1)
    found = search_batch(store, None, NeighbourOptions(k=k), exclude_self=True, progress=progress)
    columns["neighbors"] = _neighbours(ids, found.query_ids, found.ids, found.distances)
    columns["image"], failures = _thumbnails(store, ids, thumbnail, progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    pq.write_table(pa.table(columns), staging)
    os.replace(staging, out)
    command = ["embedding-atlas", str(out), "--x", "x", "--y", "y", "--neighbors", "neighbors", "--image", "image"]
    return ExportReport(out, len(ids), list(columns), command, failures)


def _metadata(store: Store, ids: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa

    table = store.con.sql("SELECT id, uri, label, time FROM images WHERE id IN (SELECT id FROM embeddings) "
                              "ORDER BY id").to_arrow_table()
    if not np.array_equal(table.column("id").to_numpy(), ids):
        raise UsageError(f"{store.path}: codes without their images rows; rebuild the atlas")
    return {"id": pa.array(ids, pa.int64()), "uri": table.column("uri"), "label": table.column("label"),
            "time": table.column("time")}


def _neighbours(ids: np.ndarray, query_ids: np.ndarray, found: np.ndarray, distances: np.ndarray) -> Any:
    """Each row's neighbours as ``{"ids": row numbers, "distances": ...}``, rows in the order of ``ids``."""
    import pyarrow as pa

    order = np.searchsorted(ids, query_ids)  # the row of each query
    rows, dist = np.full_like(found, -1), np.zeros_like(distances)
    rows[order] = np.where(found >= 0, np.searchsorted(ids, np.maximum(found, 0)), -1)
    dist[order] = distances
    values = [{"ids": r[r >= 0].tolist(), "distances": d[r >= 0].tolist()} for r, d in zip(rows, dist)]
    return pa.array(values, pa.struct([("ids", pa.list_(pa.int64())), ("distances", pa.list_(pa.float32()))]))


def _thumbnails(store: Store, ids: np.ndarray, size: int, progress: ProgressCallback) -> tuple[Any, list[Failure]]:
    """A PNG of each row's image as embedded, its longer side ``size`` pixels (null where it cannot be read)."""
    import pyarrow as pa

    from ..pictures.grids import to_colour
    from .rows import RowReader, read_pixels

    value_range = load_model(store.model_dir).preprocess.value_range if has_model(store.model_dir) else None
    reader, pngs, failures = RowReader(store), [None] * len(ids), []
    progress("thumbnails", 0, len(ids))
    for start in range(0, len(ids), _BATCH):
        pixels = read_pixels(store, ids[start:start + _BATCH], reader)
        failures += pixels.failures
        for i, image in zip(pixels.ids, pixels.images):
            pngs[int(np.searchsorted(ids, i))] = _png(to_colour(image, value_range), size)
        progress("thumbnails", min(start + _BATCH, len(ids)), len(ids))
    return pa.array(pngs, pa.binary()), failures


def _png(image: np.ndarray, size: int) -> bytes:
    from PIL import Image

    picture = Image.fromarray(image)
    scale = size / max(picture.size)
    width, height = (max(1, round(side * scale)) for side in picture.size)
    picture = picture.resize((width, height), Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
