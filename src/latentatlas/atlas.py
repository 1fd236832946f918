"""The Python face: ``Atlas.open(path)`` and one method per operation.

Each method is a thin call into :mod:`latentatlas.ops`; the CLI and the web
page call the same functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .models import LatentModel, load_model
from .ops import decode as decode_op
from .ops import embed as embed_op
from .ops import fit as fit_op
from .ops import info as info_op
from .ops import search as search_op
from .ops import sql as sql_op
from .progress import ProgressCallback, silent
from .sources import ReaderOptions
from .store import QueryResult, Store

__all__ = ["Atlas"]

Sources = Sequence[str | Path] | str | Path


def _as_list(sources: Sources) -> list[str | Path]:
    return [sources] if isinstance(sources, (str, Path)) else list(sources)


class Atlas:
    """One latent space: a model, the images embedded with it, and the operations over them.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block.

    Examples
    --------
    >>> atlas = Atlas.open("digits.atlas")                      # doctest: +SKIP
    >>> atlas.build("data/digits", code_size=32, epochs=30)    # doctest: +SKIP
    >>> atlas.search(id=17, k=5).hits[0].distance               # doctest: +SKIP
    0.0
    """

    def __init__(self, store: Store):
        self.store = store
        self._model: LatentModel | None = None

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> "Atlas":
        """Open the atlas at ``path``, creating it unless ``read_only``."""
        return cls(Store(path, read_only=read_only))

    @property
    def path(self) -> Path:
        """The atlas directory."""
        return self.store.path

    @property
    def model(self) -> LatentModel:
        """The trained model (loaded on first use); :class:`NotFittedError` before ``fit``."""
        if self._model is None:
            self._model = load_model(self.store.model_dir)
        return self._model

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    def __enter__(self) -> "Atlas":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def fit(self, sources: Sources, overwrite: bool = False, progress: ProgressCallback = silent,
            reader: ReaderOptions | None = None, **settings: Any) -> fit_op.FitReport:
        """Train the autoencoder on ``sources``; see :func:`latentatlas.ops.fit.fit`.

        ``settings`` are fields of :class:`~latentatlas.ops.fit.ModelOptions`
        (``code_size``, ``size``, ``channels``, ``fit``, ``value_range``,
        ``base_channels``, ...) and :class:`~latentatlas.train.TrainConfig`
        (``epochs``, ``batch_size``, ``val_fraction``, ``loss``, ``seed``, ...).
        ``reader`` says how to read the sources (variable, clip, crop,
        scale, tiles: :class:`~latentatlas.sources.ReaderOptions`); it is
        stored and :meth:`embed` reuses it.
        """
        options, train_config = fit_op.split_settings(settings)
        report = fit_op.fit(self.store, _as_list(sources), options, train_config, overwrite, progress,
                            reader or ReaderOptions())
        self._model = report.model
        return report

    def embed(self, sources: Sources, batch_size: int = 256, progress: ProgressCallback = silent,
              reader: ReaderOptions | dict[str, Any] | None = None) -> embed_op.EmbedReport:
        """Encode and store the images of ``sources`` not yet in the atlas.

        ``reader``: how to read them; by default as :meth:`fit` did, a dict
        changes some of those settings (``{"tile": 64}``).
        """
        return embed_op.embed(self.store, self.model, _as_list(sources), batch_size, progress, reader)

    def build(self, sources: Sources, overwrite: bool = False, progress: ProgressCallback = silent,
              reader: ReaderOptions | None = None, **settings: Any) -> tuple[fit_op.FitReport, embed_op.EmbedReport]:
        """:meth:`fit` then :meth:`embed` on the same sources."""
        fitted = self.fit(sources, overwrite=overwrite, progress=progress, reader=reader, **settings)
        return fitted, self.embed(sources, progress=progress)

    def search(self, query: str | Path | np.ndarray | None = None, *, id: int | None = None,
               vector: Sequence[float] | None = None, k: int = 10, metric: str = "l2",
               where: str | None = None) -> search_op.SearchResult:
        """The ``k`` nearest stored images to an image (file or pixels), an ``id`` or a ``vector``.

        ``where`` is an SQL predicate on ``images`` applied before ranking.
        """
        if isinstance(query, np.ndarray):
            if query.ndim == 1:
                query, vector = None, query
            else:
                resolved = search_op.Query(self.model.encode([query])[0], {"image": "<array>"})
                return search_op.search(self.store, resolved, k, metric, where)
        resolved = search_op.resolve_query(self.store, lambda: self.model, id=id, image=query, vector=vector)
        return search_op.search(self.store, resolved, k, metric, where)

    def decode(self, id: int | None = None, vector: Sequence[float] | None = None) -> np.ndarray:
        """The image decoded from row ``id``'s code or from ``vector``, in the collection's units."""
        return decode_op.decode(self.store, self.model, id=id, vector=vector)

    def encode(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Codes ``(N, d)`` of images given as arrays."""
        return self.model.encode(images)

    def sql(self, query: str, dialect: str | None = None) -> QueryResult:
        """Run one read-only SQL statement on the atlas's tables and the ``items`` view.

        ``dialect`` (``"bigquery"``, ``"postgres"``, ...) translates the
        statement to DuckDB's SQL first; see :func:`latentatlas.ops.sql.translate`.
        """
        return sql_op.sql(self.store, query, dialect)

    def info(self) -> dict[str, Any]:
        """Model, code size, rows and training summary."""
        return info_op.info(self.store)
