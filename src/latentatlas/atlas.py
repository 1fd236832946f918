"""The Python face: ``Atlas.open(path)`` and one method per operation.

Each method is a thin call into :mod:`latentatlas.ops`; the CLI and the web
page call the same functions.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .checks import options_of
from .errors import UsageError
from .models import LatentModel, load_model
from .models.options import ModelOptions
from .models.train import TrainConfig
from .store.switch import check_codes_made_by
from .ops import decode as decode_op
from .ops import duplicates as duplicates_op
from .ops import embed as embed_op
from .ops import features as features_op
from .analogues import forecast as forecast_op
from .analogues.forecast import ForecastOptions
from .analogues.options import AnalogueOptions
from .ops import fit as fit_op
from .ops import index as index_op
from .ops import info as info_op
from .ops import search as search_op
from .ops.search import SearchOptions
from .ops import sql as sql_op
from .progress import Progress, shows_progress
from .search import neighbours as neighbours_op
from .search.engine import EngineCache
from .search.neighbours import NeighbourOptions
from .sources import ReaderOptions
from .store.database import QueryResult, Store

if TYPE_CHECKING:
    from .ops.cluster import ClusterReport, ClusterSettings
    from .analogues.verify import AnalogueEvaluation, VerifyOptions
    from .ops.export import ExportOptions, ExportReport
    from .ops.codec import CompressOptions, CompressReport, DecompressOptions, DecompressReport
    from .ops.evaluate.codec import CodecEvalOptions, CodecEvaluation
    from .ops.evaluate.interpolation import TemporalOptions, TemporalReport
    from .ops.evaluate.restore import RestoreEvalSettings, RestoreEvaluation
    from .ops.evaluate.space import SpaceReport, SpaceSettings
    from .ops.interpolate import InterpolateOptions, Interpolation
    from .ops.project import ProjectionResult, ProjectSettings
    from .ops.restore import RestoreReport, RestoreSettings

__all__ = ["Atlas"]

Sources = Sequence[str | Path] | str | Path


def _as_list(sources: Sources) -> list[str | Path]:
    return [sources] if isinstance(sources, (str, Path)) else list(sources)


class Atlas:
    """One latent space: a model, the images embedded with it, and the operations over them.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block. Long
    operations draw a progress bar on stderr in terminals and notebooks;
    ``progress=False`` silences it and a callable receives the events
    instead (see :class:`~latentatlas.progress.ProgressCallback`).

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
        self._engines = EngineCache()

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
        """The trained model (loaded on first use); :class:`NotFittedError` before ``fit``.

        :class:`ModelMismatchError` when it is not the model that made the
        stored codes (its fingerprint differs), so nothing decodes or
        searches with the wrong one.
        """
        if self._model is None:
            model = load_model(self.store.model_dir)
            check_codes_made_by(self.store, model.fingerprint, model.code_size if model.has_code else None)
            self._model = model
        return self._model

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    def cursor(self) -> "Atlas":
        """This atlas over a new database connection (:meth:`Store.cursor`), sharing the loaded model and codes.

        For work in another thread; close it when done.
        """
        other = Atlas(self.store.cursor())
        other._model, other._engines = self._model, self._engines
        return other

    def __enter__(self) -> "Atlas":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @shows_progress
    def fit(self, sources: Sources, overwrite: bool = False, progress: Progress = True,
            reader: ReaderOptions | None = None, options: ModelOptions | None = None, train: TrainConfig | None = None,
            **settings: Any) -> fit_op.FitReport:
        """Train the autoencoder on ``sources``; see :func:`latentatlas.ops.fit.fit`.

        ``settings`` are fields of :class:`~latentatlas.models.options.ModelOptions`
        (``code_size``, ``size``, ``channels``, ``fit``, ``value_range``,
        ``base_channels``, ``corrupt`` (e.g. ``["noise:0.1"]``: learn to undo
        it), ``bottleneck`` (``"conv"`` for restoration), ...) and :class:`~latentatlas.models.train.TrainConfig`
        (``epochs``, ``batch_size``, ``val_fraction``, ``loss``, ``seed``, ...),
        or those two whole as ``options`` and ``train`` (not both ways).
        ``reader`` says how to read the sources (variable, clip, crop,
        scale, tiles: :class:`~latentatlas.sources.ReaderOptions`); it is
        stored and :meth:`embed` reuses it.
        """
        options, train = fit_op.fit_settings(options, train, settings)
        report = fit_op.fit(self.store, _as_list(sources), options, train, overwrite, progress, reader or ReaderOptions())
        self._model = report.model
        return report

    @shows_progress
    def embed(self, sources: Sources, progress: Progress = True, reader: ReaderOptions | dict[str, Any] | None = None,
              options: embed_op.EmbedOptions | None = None, **settings: Any) -> embed_op.EmbedReport:
        """Encode and store the images of ``sources`` not yet in the atlas.

        ``reader``: how to read them; by default as :meth:`fit` did, a dict
        changes some of those settings (``{"tile": 64}``). ``options``
        (:class:`~latentatlas.ops.embed.EmbedOptions`) or its fields by name:
        ``batch_size`` (256), ``engine="ray"`` to encode on the Ray cluster
        at ``address`` (``"auto"``, ``"HOST:PORT"``; None: the one this
        process joined, or a new local one) with ``workers`` actors; Ray
        needs ``pip install latentatlas[scale]``.
        """
        chosen = options_of(embed_op.EmbedOptions, options, **settings)
        return embed_op.embed(self.store, self.model, _as_list(sources), chosen, reader, progress)

    @shows_progress
    def build(self, sources: Sources, overwrite: bool = False, progress: Progress = True,
              reader: ReaderOptions | None = None, options: ModelOptions | None = None, train: TrainConfig | None = None,
              **settings: Any) -> tuple[fit_op.FitReport, embed_op.EmbedReport]:
        """:meth:`fit` then :meth:`embed` on the same sources.

        A conv bottleneck (``bottleneck="conv"``) makes no code to embed, so
        it is refused before training: use :meth:`fit` for it.
        """
        options, train = fit_op.fit_settings(options, train, settings)
        if options.bottleneck == "conv":
            raise UsageError("build embeds the images, but a conv-bottleneck model makes no vector code; "
                             "train it with `latentatlas fit --bottleneck conv` instead")
        fitted = self.fit(sources, overwrite=overwrite, progress=progress, reader=reader, options=options, train=train)
        return fitted, self.embed(sources, progress=progress)

    def search(self, query: str | Path | np.ndarray | None = None, *, id: int | None = None,
               vector: Sequence[float] | None = None, time: str | datetime | None = None,
               tile: tuple[int, int] | None = None, out: str | Path | None = None,
               colormap: str = "reflectivity", options: SearchOptions | None = None,
               **settings: Any) -> search_op.SearchResult:
        """The ``k`` nearest stored images to an image (file or pixels), an ``id``, a ``vector`` or a ``time``.

        ``time`` (``"2019-09-20 05:00"``, a datetime) queries the row valid
        then; in an atlas of tiles ``tile=(tile_row, tile_col)`` says which.
        ``out`` draws the query and its hits into a PNG, fields in
        ``colormap`` (see :func:`latentatlas.ops.search_picture.draw_search`).

        How it ranks is ``options`` (:class:`~latentatlas.ops.search.SearchOptions`)
        or its fields by name: ``k`` (10), ``metric`` (l2, sqeuclidean,
        cosine or ip), ``where`` (an SQL predicate on ``images`` applied
        before ranking), ``exclude_within`` (``"1d"``, a timedelta: leave
        out rows that close in time to the query), ``exact`` and ``dtype``.
        The atlas's approximate index answers when it is fresh and serves
        the metric, unless ``exact``; an exact scan holds the codes as
        ``dtype`` (float16 halves the memory). Loaded codes are kept
        between calls and reloaded when the atlas changes.

        Analogue queries take an ``analogue``
        (:class:`latentatlas.analogues.options.AnalogueOptions`) or its
        options by name: ``season_window`` (``"45d"``) keeps rows within that
        many days of the query's time of year, ``min_separation`` (``"2d"``)
        makes each hit its own event, ``trend`` (``"3h"``) sums the code
        distances over the last hours of a stored query row, ``region``
        (``"40,50,-125,-115"``: LAT0,LAT1,LON0,LON1) keeps the tiles of a
        gridded atlas that overlap the box, ``channel_weights`` (``"1,0.5"``,
        one per channel of stacked variables) ranks by the weighted distance
        of the decoded channels.
        """
        chosen = options_of(SearchOptions, options, **_analogue_by_name(settings))
        if isinstance(query, np.ndarray) and query.ndim == 1:
            query, vector = None, query
        if isinstance(query, np.ndarray):
            resolved = search_op.image_query(self.store, self.model, query, "<array>")
        else:
            resolved = search_op.resolve_query(self.store, lambda: self.model, id=id, image=query, vector=vector,
                                               time=time, tile=tile)
        result = search_op.search(self.store, resolved, chosen, self._engines, lambda: self.model)
        result.pixels = resolved.pixels
        if out is not None:
            from .ops.search_picture import draw_search

            result.out = draw_search(self.store, resolved, result, out, colormap, lambda: self.model)
        return result

    def forecast(self, time: str | datetime, *, tile: tuple[int, int] | None = None, out: str | Path | None = None,
                 colormap: str = "reflectivity", options: ForecastOptions | None = None,
                 **settings: Any) -> forecast_op.Forecast:
        """The analogue forecast of the hours after ``time``: what followed its ``k`` analogues, per lead.

        ``options`` (:class:`~latentatlas.analogues.forecast.ForecastOptions`)
        or its fields by name: members are the stored fields at each
        analogue's time plus each of ``leads`` (``"1h,3h,6h"``), in the
        source's units; the result holds their mean, spread, the
        probability of exceeding each of ``thresholds`` and the truth when
        stored. ``k`` (20), ``metric``, ``where`` and the analogue options
        are those of :meth:`search`. ``references`` (``"extrapolation,steps"``)
        adds pySTEPS' nowcasts beside the analogues, ``blend`` the blend of
        extrapolation and analogues (weights learnt on the archive). ``out``
        (a folder) receives ``forecast.png`` and ``members.parquet``. See
        :func:`latentatlas.analogues.forecast.forecast`.
        """
        chosen = options_of(ForecastOptions, options, **_analogue_by_name(settings))
        result = forecast_op.forecast(self.store, time, chosen, tile, self._engines, lambda: self.model)
        if out is not None:
            forecast_op.save_forecast(self.store, result, out, colormap)
        return result

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

    @shows_progress
    def search_batch(self, ids: Sequence[int] | np.ndarray | None = None, *, exclude_self: bool = False,
                     out: str | Path | None = None, progress: Progress = True,
                     options: NeighbourOptions | None = None, **settings: Any) -> neighbours_op.Neighbours:
        """The ``k`` nearest rows of each stored row in ``ids`` (None: all rows), e.g. a kNN graph.

        ``options`` (:class:`~latentatlas.search.neighbours.NeighbourOptions`)
        or its fields by name: ``k``, ``metric``, ``where``,
        ``exclude_within``, ``exact``, ``dtype``, as :meth:`search`'s.
        ``out`` writes them as Parquet (``query_id, rank, id, distance``);
        see :func:`latentatlas.search.neighbours.search_batch`.
        """
        return neighbours_op.search_batch(self.store, ids, options_of(NeighbourOptions, options, **settings),
                                          exclude_self, out, self._engines, progress)

    @shows_progress
    def index(self, kind: str | None = None, progress: Progress = True, options: index_op.AnnSettings | None = None,
              **settings: Any) -> index_op.IndexReport:
        """Build the approximate index ``search`` then uses.

        ``options`` (:class:`~latentatlas.search.ann.AnnSettings`) or its fields by name:
        ``kind`` (ivfpq, the default, or hnsw), ``metric``, ``nlist``, ``pq_m``, ``hnsw_m``, ...
        """
        given = {} if kind is None else {"kind": kind}
        chosen = options_of(index_op.AnnSettings, options, **given, **settings)
        return index_op.build_index(self.store, chosen, progress)

    def remove_index(self) -> bool:
        """Delete the approximate index; returns whether there was one."""
        return index_op.remove_index(self.store)

    @shows_progress
    def duplicates(self, threshold: float | None = None, *, progress: Progress = True,
                   options: duplicates_op.DuplicatesOptions | None = None,
                   **settings: Any) -> duplicates_op.DuplicatesReport:
        """Groups of exact copies (same sha256) and near-copies (codes within ``threshold``).

        ``options`` (:class:`~latentatlas.ops.duplicates.DuplicatesOptions`)
        or its fields by name: ``threshold``, ``k``, ``metric``, ``where``, ``exact``.
        """
        given = {} if threshold is None else {"threshold": threshold}
        chosen = options_of(duplicates_op.DuplicatesOptions, options, **given, **settings)
        return duplicates_op.duplicates(self.store, chosen, self._engines, progress)

    @shows_progress
    def features_index(self, *, where: str | None = None, rebuild: bool = False, progress: Progress = True,
                       options: features_op.OrbSettings | None = None,
                       **settings: Any) -> features_op.FeaturesIndexReport:
        """Store ORB features of every image without them (``where``: only those rows; ``rebuild``: replace them).

        ``options`` (:class:`~latentatlas.search.orb.OrbSettings`) or its fields by name: ``max_features``, ``min_side``.
        """
        chosen = options_of(features_op.OrbSettings, options, **settings)
        return features_op.index_features(self.store, chosen, where, rebuild, progress)

    def features_search(self, image: str | Path | np.ndarray, *, k: int = 5, candidates: int | None = None,
                        out: str | Path | None = None, options: features_op.OrbSettings | None = None,
                        **settings: Any) -> features_op.FeaturesResult:
        """Stored images showing ``image`` (even rotated, scaled, cropped), ranked by RANSAC inliers.

        ``options`` (:class:`~latentatlas.search.orb.OrbSettings`) or its fields by name:
        ``ratio``, ``transform`` ("affine" or "homography"), ``reprojection``,
        ``min_inliers`` (fewer is no match); ``candidates`` pre-selects by embedding.
        """
        chosen = options_of(features_op.OrbSettings, options, **settings)
        return features_op.features_search(self.store, image, k, chosen, candidates, lambda: self.model, out)

    @shows_progress
    def cluster(self, k: int | str | None = 5, *, out: str | Path | None = None, progress: Progress = True,
                options: ClusterSettings | None = None, **settings: Any) -> ClusterReport:
        """K-means++ on the stored codes, stored as a run; see :func:`latentatlas.ops.cluster.cluster`.

        ``k="auto"`` (or None) picks k by silhouette over ``k_range``;
        ``options`` (:class:`~latentatlas.ops.cluster.ClusterSettings`) or
        its fields by name (``name``, ``where``, ``engine``, ``restarts``,
        ``max_iter``, ``seed``, ``replace``, ...); ``options`` carries its own ``k``.
        Read a stored run back with :func:`latentatlas.store.clusters.load_run`.
        """
        from .ops import cluster as cluster_op

        given = {} if options is not None else {"k": None if k in (None, "auto") else k}
        chosen = options_of(cluster_op.ClusterSettings, options, **given, **settings)
        return cluster_op.cluster(self.store, self.model, chosen, out, progress)

    @shows_progress
    def project(self, method: str | None = None, out: str | Path = "projection.png", *,
                coordinates: str | Path | None = None, progress: Progress = True,
                options: ProjectSettings | None = None, **settings: Any) -> ProjectionResult:
        """A 2-D or 3-D picture of the codes (and its coordinates as Parquet, given ``coordinates``); see :func:`latentatlas.ops.project.project`.

        ``options`` (:class:`~latentatlas.ops.project.ProjectSettings`) or its fields by name:
        ``method`` (pca, the default; tsne, umap, lda), ``dims``, ``color_by``, ``thumbnails``, ``where``,
        ``seed``, ``perplexity``, ``max_rows``.
        """
        from .ops import project as project_op

        given = {} if method is None else {"method": method}
        chosen = options_of(project_op.ProjectSettings, options, **given, **settings)
        return project_op.project(self.store, chosen, out, coordinates, progress)

    @shows_progress
    def export(self, out: str | Path, *, progress: Progress = True, options: ExportOptions | None = None,
               **settings: Any) -> ExportReport:
        """The atlas as one Parquet file for Apple's Embedding Atlas; see :func:`latentatlas.ops.export.export_embedding_atlas`.

        ``options`` (:class:`~latentatlas.ops.export.ExportOptions`) or its fields by name:
        ``format``, ``neighbours``, ``projection``, ``thumbnail``, ``seed``.
        """
        from .ops import export as export_op

        chosen = options_of(export_op.ExportOptions, options, **settings)
        return export_op.export_embedding_atlas(self.store, out, chosen, progress)

    @shows_progress
    def evaluate_space(self, label_column: str | None = None, *, progress: Progress = True,
                       options: SpaceSettings | None = None, **settings: Any) -> SpaceReport:
        """Raw pixels, PCA, LDA and our codes scored side by side; see :func:`latentatlas.ops.evaluate.space.evaluate_space`.

        ``options`` (:class:`~latentatlas.ops.evaluate.space.SpaceSettings`) or its fields by name:
        ``label_column`` ("label", the default), ``test_fraction``, ``knn``, ``seed``, ``where``.
        """
        from .ops.evaluate import space as space_op

        given = {} if label_column is None else {"label_column": label_column}
        chosen = options_of(space_op.SpaceSettings, options, **given, **settings)
        return space_op.evaluate_space(self.store, self.model, chosen, progress)

    @shows_progress
    def compress(self, sources: Sources, out: str | Path, progress: Progress = True,
                 options: CompressOptions | None = None, **settings: Any) -> CompressReport:
        """Write one small code file per image of ``sources`` into ``out``.

        ``options`` (:class:`~latentatlas.ops.codec.CompressOptions`) or its
        fields by name: ``dtype`` is ``float32``, ``float16`` (default) or ``int8``
        (per-dimension scale learned from this atlas's codes); ``batch_size``.
        See :func:`latentatlas.ops.codec.compress`.
        """
        from .ops import codec

        chosen = options_of(codec.CompressOptions, options, **settings)
        return codec.compress(self.store, self.model, _as_list(sources), out, chosen, progress)

    @shows_progress
    def decompress(self, files: Sources, out: str | Path, progress: Progress = True,
                   options: DecompressOptions | None = None, **settings: Any) -> DecompressReport:
        """Decode code files (or folders of them) to images at their original size in ``out``.

        ``options`` (:class:`~latentatlas.ops.codec.DecompressOptions`) or
        its fields by name: ``format``, ``batch_size``. Files made by
        another model are refused. See :func:`latentatlas.ops.codec.decompress`.
        """
        from .ops import codec

        chosen = options_of(codec.DecompressOptions, options, **settings)
        return codec.decompress(self.store, self.model, _as_list(files), out, chosen, progress)

    def interpolate(self, a: int | str | Path | np.ndarray, b: int | str | Path | np.ndarray, *,
                    options: InterpolateOptions | None = None, **settings: Any) -> Interpolation:
        """Decode ``steps`` codes from ``a``'s to ``b``'s (ids, image files or arrays), ends included.

        ``options`` (:class:`~latentatlas.ops.interpolate.InterpolateOptions`)
        or its fields by name: ``steps`` (8), ``spherical`` (the great circle).
        """
        from .ops import interpolate

        chosen = options_of(interpolate.InterpolateOptions, options, **settings)
        return interpolate.interpolate(self.store, self.model, a, b, chosen)

    @shows_progress
    def evaluate_codec(self, sources: Sources, pca_train: Sources | None = None, progress: Progress = True,
                       options: CodecEvalOptions | None = None, **settings: Any) -> CodecEvaluation:
        """Rate–distortion of our codes beside PCA, JPEG and WebP on held-out images.

        ``options`` (:class:`~latentatlas.ops.evaluate.codec.CodecEvalOptions`) or its fields by name:
        ``dtypes`` (all three), ``formats`` (jpeg, webp). See :func:`latentatlas.ops.evaluate.codec.evaluate_codec`.
        """
        from .ops.evaluate import codec as rate_distortion

        train = _as_list(pca_train) if pca_train is not None else None
        chosen = options_of(rate_distortion.CodecEvalOptions, options, **settings)
        return rate_distortion.evaluate_codec(self.store, self.model, _as_list(sources), train, chosen, progress)

    @shows_progress
    def evaluate_interpolation(self, step: str | timedelta | None = None, *, progress: Progress = True,
                               options: TemporalOptions | None = None, **settings: Any) -> TemporalReport:
        """Mean-of-neighbours prediction of each stored (t - step, t, t + step) triple.

        ``options`` (:class:`~latentatlas.ops.evaluate.interpolation.TemporalOptions`)
        or its fields by name: ``step`` (a ``timedelta`` or text like ``"1h"``,
        the default), ``where``, ``batch_size``. See
        :func:`latentatlas.ops.evaluate.interpolation.evaluate_interpolation`.
        """
        from .ops.evaluate import interpolation as temporal

        given = {} if step is None else {"step": step}
        chosen = options_of(temporal.TemporalOptions, options, **given, **settings)
        return temporal.evaluate_interpolation(self.store, self.model, chosen, progress=progress)

    @shows_progress
    def restore(self, images: Sources, out: str | Path, *, progress: Progress = True,
                options: RestoreSettings | None = None, **settings: Any) -> RestoreReport:
        """Restore ``images`` (files, folders, stacks) with the atlas's model and write them under ``out``.

        ``options`` (:class:`~latentatlas.ops.restore.RestoreSettings`) or its fields by name
        (``stride``, ``batch_size``, ``format``, ``upscale``). See
        :func:`latentatlas.ops.restore.restore`.
        """
        from .ops import restore as restore_op

        chosen = options_of(restore_op.RestoreSettings, options, **settings)
        return restore_op.restore(self.model, _as_list(images), out, chosen, progress)

    @shows_progress
    def evaluate_restore(self, images: Sources, *, out: str | Path | None = None, progress: Progress = True,
                         options: RestoreEvalSettings | None = None, **settings: Any) -> RestoreEvaluation:
        """Corrupt clean held-out ``images`` with the model's corruption; score ours beside classic filters.

        ``out`` writes the grid picture. ``options`` (or its fields by name) is
        :class:`~latentatlas.ops.evaluate.restore.RestoreEvalSettings` (``corrupt``,
        ``validation``, ``seed``, ``stride``, ``examples``, ``baselines``). See
        :func:`latentatlas.ops.evaluate.restore.evaluate_restore`.
        """
        from .ops.evaluate import restore as restoration

        chosen = options_of(restoration.RestoreEvalSettings, options, **settings)
        return restoration.evaluate_restore(self.model, _as_list(images), chosen, out, progress)


    @shows_progress
    def evaluate_analogues(self, test: str | tuple, *, out: str | Path | None = None, progress: Progress = True,
                           options: VerifyOptions | None = None, **settings: Any) -> AnalogueEvaluation:
        """Forecast every stored hour of ``test`` (``"START/END"``) from the other hours, and score it.

        CRPS and its skill against climatology, persistence and ``k``
        random hours, Brier scores and reliability per threshold, and the
        rank histogram, per lead. The test period never supplies analogues.
        ``out`` (a folder) receives ``verification.png`` and ``analogues.json``.
        ``options`` (:class:`~latentatlas.analogues.verify.VerifyOptions`) or
        its fields by name: those of :meth:`forecast` (``leads`` here
        ``"1h,3h,6h,12h"``), and ``seed``; ``spaces`` (``"codes,pca,pixels"``)
        also scores, on the same period and ``k``, the analogues found with
        the codes, PCA of their size and the raw pixels; ``every`` (``"6h"``)
        forecasts only the hours that far apart; ``blend`` scores the blend
        of extrapolation and analogues, its weight per lead learnt outside
        the test period; ``scales`` (``(1, 3, 9)``) adds the fractions skill
        score at those neighbourhoods and CSI, POD and FAR per threshold.
        See :func:`latentatlas.analogues.verify.evaluate_analogues`.
        """
        from .analogues import verify as verification

        chosen = options_of(verification.VerifyOptions, options, **_analogue_by_name(settings))
        result = verification.evaluate_analogues(self.store, test, chosen, self._engines, progress,
                                                 lambda: self.model)
        if out is not None:
            verification.save_evaluation(result, out)
        return result


def _analogue_by_name(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the analogue options given by name (``season_window="45d"``) gathered into ``analogue``."""
    named = {f.name for f in fields(AnalogueOptions)}
    if not named & set(settings):
        return settings
    rest = {name: value for name, value in settings.items() if name not in named}
    rest["analogue"] = AnalogueOptions.given(settings.get("analogue"),
                                             **{name: settings[name] for name in named & set(settings)})
    return rest
