"""The weather study: the radar article's questions asked of the generated year, end to end.

The generated radar period is exported as the files a meteorologist has
(GRIB2, one file per hour on HRRR's Lambert grid) and built into an atlas
through the real GRIB reader: composite reflectivity clipped to 0..60 dBZ,
50 numbers per field. Then, with the ops every user has: the nearest hours
of a chosen time, its analogues more than a day away, the mean of the codes
of t - 1 h and t + 1 h as a prediction of t (against blending the pixels),
five k-means++ regimes with their decoded centroids, and what followed:
the analogue forecast of the chosen hour, and the verification of the
analogue forecasts of a held-out month (the last of the period), both
beside pySTEPS' extrapolation nowcast and the blend of the two. Beside the model
stands PCA of the same size fitted on the same training hours, scored on
hours neither trained on.
:mod:`latentatlas.demos.weather_report` writes the report.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..atlas import Atlas
from ..baselines.codec import LinearCodec
from ..datasets.radar import DEFAULT_GRID, REGIMES, RadarYear
from ..datasets.radar_files import export_radar
from ..errors import UsageError
from ..ops.evaluate.quality import psnr
from ..ops.fit import FitReport
from ..ops.search import Hit
from ..progress import ProgressCallback, silent
from ..sources import ReaderOptions, read_sources
from ..sources.loading import load_records
from ..store.clusters import load_run
from .weather_report import write_report

__all__ = ["WeatherSettings", "WeatherStudy", "weather_demo", "DEFAULT_TIME", "READER"]

DEFAULT_TIME = datetime(2019, 9, 20, 5)
READER = ReaderOptions(variables=("refc",), clip=(0.0, 60.0))
RUN = "regimes"
SAMPLES = Path("samples", "radar")
TRAINING = Path("samples", "radar-training")
EXPORT_RECORD = "export.json"
PICTURES = "weather"
HELD_OUT_HOURS = 480  # hours outside the training set on which the model and PCA are scored
ANALOGUE_QUERY = {"season_window": "45d", "min_separation": "2d"}  # each analogue its own event, in the same season
FORECAST_LEADS = "1h,6h"
VERIFICATION_LEADS = FORECAST_LEADS  # the verification of the held-out month scores the leads shown
MEMBERS = 20
VERIFICATION_EVERY = "3h"  # one held-out hour in three is forecast: the nowcasts and three spaces keep the demo short


@dataclass(frozen=True, kw_only=True)
class WeatherSettings:
    """What the study runs on.

    Parameters
    ----------
    days : int
        Length of the generated period, centred on the day of ``time``
        (365: a year).
    grid : (int, int)
        Points per field, north-south by west-east, on HRRR's domain.
    time : datetime
        The chosen hour whose neighbours and analogues are shown.
    time_budget : float, optional
        Seconds of training (None: until early stopping, at most 200 epochs).
    train_every : int
        The model trains on every ``train_every``-th hour (all hours are
        embedded and studied): neighbouring hours add little, as the study
        shows, and shorter epochs keep the time budget. 5, prime to 24,
        samples every hour of the day.
    code_size : int
        Numbers per field (the article's 50).
    base_channels : int
        Width of the first convolution level.
    clusters : int
        Weather regimes, k of k-means++ (the article's 5).
    seed : int
        Seed of the generated weather, the training and k-means.
    """

    days: int = 365
    grid: tuple[int, int] = DEFAULT_GRID
    time: datetime = DEFAULT_TIME
    time_budget: float | None = 150.0
    train_every: int = 5
    code_size: int = 50
    base_channels: int = 16
    clusters: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.days < 3:
            raise UsageError(f"days must be >= 3 (analogues lie more than a day from the chosen hour), got {self.days}",
                             parameter="days")
        if self.time.minute or self.time.second or self.time.microsecond:
            raise UsageError(f"the chosen time must be on the hour (the fields are hourly), got {self.time}",
                             parameter="time")
        if not 1 <= self.train_every <= 12 * self.days:
            raise UsageError(f"train_every must be in 1..{12 * self.days} (at least two training hours), "
                             f"got {self.train_every}", parameter="train_every")
        if self.clusters < 2:
            raise UsageError(f"clusters must be >= 2, got {self.clusters}", parameter="clusters")

    @property
    def start(self) -> datetime:
        """The first hour of the period: midnight, ``days // 2`` days before the chosen day."""
        return datetime.combine(self.time.date() - timedelta(days=self.days // 2), datetime.min.time())

    @property
    def held_out(self) -> tuple[datetime, datetime]:
        """The period whose analogue forecasts are verified: the last month (a quarter of shorter periods, a day at least)."""
        end = self.start + timedelta(days=self.days)
        return end - timedelta(days=max(1, min(30, self.days // 4))), end


@dataclass
class WeatherStudy:
    """The study's figures, as :func:`weather_demo` returns them (``to_dict`` is the JSON)."""

    settings: WeatherSettings
    fields: int
    input_shape: list[int]
    training: dict[str, Any]
    nearest: list[dict[str, Any]]
    analogues: list[dict[str, Any]]
    interpolation: dict[str, Any]
    clusters: dict[str, Any]
    against_pca: dict[str, Any]
    forecast: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)
    pictures: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    report: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: settings, figures, timings, and the paths of the report and its pictures."""
        data = asdict(self)
        data["settings"] = {**asdict(self.settings), "time": self.settings.time.isoformat(),
                            "start": self.settings.start.isoformat(), "grid": list(self.settings.grid)}
        data["pictures"] = {name: str(path) for name, path in self.pictures.items()}
        data["report"] = str(self.report) if self.report else None
        return data


def weather_demo(atlas_path: str | Path, settings: WeatherSettings = WeatherSettings(),
                 progress: ProgressCallback = silent) -> WeatherStudy:
    """Export the generated period as GRIB2, build the atlas from it, run the study, write ``report.html``.

    The GRIB2 files go to ``<atlas>/samples/radar`` (kept, and reused when
    a later run asks for the same period, grid and seed) and links to the
    training hours to ``<atlas>/samples/radar-training``; the report to
    ``<atlas>/report.html`` and its pictures, as PNG files, to
    ``<atlas>/weather/``; the regimes are the cluster run ``regimes``.

    Raises
    ------
    UsageError
        As the operations it runs.
    """
    atlas_path = Path(atlas_path)
    clock = time.perf_counter()
    data = _export(atlas_path / SAMPLES, settings, progress)
    training = _training_hours(data, atlas_path / TRAINING, settings.train_every)
    seconds = {"export": time.perf_counter() - clock}
    with Atlas.open(atlas_path) as atlas:
        started = time.perf_counter()
        fitted = atlas.fit(training, overwrite=True, progress=progress, reader=READER, code_size=settings.code_size,
                           base_channels=settings.base_channels, epochs=200, patience=10,
                           time_budget=settings.time_budget, seed=settings.seed)
        seconds["fit"] = time.perf_counter() - started
        started = time.perf_counter()
        embedded = atlas.embed(data, progress=progress)
        seconds["embed"] = time.perf_counter() - started
        started = time.perf_counter()
        pca = _fit_pca(atlas, training, settings, progress)
        study = _study(atlas, settings, fitted, embedded.total_rows, atlas_path / PICTURES, progress)
        study.against_pca = _against_pca(atlas, pca, data, training, progress)
        seconds["study"] = time.perf_counter() - started
        study.seconds = {name: round(value, 1) for name, value in seconds.items()}
        study.report = write_report(atlas, study, pca, atlas_path / "report.html", atlas_path / PICTURES)
    study.seconds["total"] = round(time.perf_counter() - clock, 1)
    return study


def _export(folder: Path, settings: WeatherSettings, progress: ProgressCallback) -> Path:
    """The period as GRIB2 files in ``folder``, written unless a previous run left the same ones."""
    wanted = {"days": settings.days, "grid": list(settings.grid), "start": settings.start.isoformat(),
              "seed": settings.seed}
    record = folder / EXPORT_RECORD
    if record.is_file() and json.loads(record.read_text()) == wanted:
        return folder
    for stale in folder.glob("*.grib2"):
        stale.unlink()
    record.unlink(missing_ok=True)
    export_radar(folder, "grib2", settings.seed, settings.days, settings.grid, settings.start, progress)
    record.write_text(json.dumps(wanted) + "\n")
    return folder


def _training_hours(data: Path, folder: Path, every: int) -> Path:
    """A folder of links to every ``every``-th hour's file of ``data`` (copies where links cannot be made)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for file in sorted(data.glob("*.grib2"))[::every]:
        try:
            os.link(file, folder / file.name)
        except OSError:
            shutil.copyfile(file, folder / file.name)
    return folder


def _study(atlas: Atlas, settings: WeatherSettings, fitted: FitReport, fields: int, pictures: Path,
           progress: ProgressCallback) -> WeatherStudy:
    """Neighbours, analogues (drawn into ``pictures``), interpolation and regimes of the built atlas."""
    chosen = settings.time
    drawn = {"nearest": pictures / "nearest.png", "analogues": pictures / "analogues.png"}
    nearest = atlas.search(time=chosen, k=5, out=drawn["nearest"])
    analogues = atlas.search(time=chosen, k=5, exclude_within="1d", out=drawn["analogues"])
    interpolation = atlas.evaluate_interpolation("1h", progress=progress)
    clusters = atlas.cluster(settings.clusters, name=RUN, replace=True, seed=settings.seed, progress=progress)
    followed = atlas.forecast(chosen, leads=FORECAST_LEADS, k=MEMBERS, out=pictures, references="extrapolation",
                              blend=True, **ANALOGUE_QUERY)
    drawn["forecast"] = Path(followed.out["picture"])
    start, end = settings.held_out
    verified = atlas.evaluate_analogues((start, end), leads=VERIFICATION_LEADS, k=MEMBERS, out=pictures,
                                        references="extrapolation", blend=True, spaces="codes,pca,pixels",
                                        every=VERIFICATION_EVERY, progress=progress, **ANALOGUE_QUERY)
    drawn["verification"] = Path(verified.out["picture"])
    history = fitted.history
    return WeatherStudy(
        settings=settings, fields=fields, input_shape=list(atlas.model.preprocessor.input_shape),
        training={"fields": fitted.images, "epochs": len(history.epochs), "seconds": round(history.seconds, 1),
                  "best_val_loss": history.best_loss, "baseline_val_loss": history.baseline_val_loss,
                  "objective": history.objective, "stop_reason": history.stop_reason, "kept": history.kept},
        nearest=[_hit(hit, chosen) for hit in nearest.hits],
        analogues=[_hit(hit, chosen) for hit in analogues.hits],
        interpolation={**interpolation.to_dict(), "unreadable": len(interpolation.failures)},
        clusters={"run": clusters.run, "k": clusters.k, "sizes": clusters.sizes, "inertia": clusters.inertia,
                  "silhouette": clusters.silhouette, "regimes": _regime_shares(atlas, settings)},
        against_pca={}, pictures=drawn,
        forecast=_forecast_summary(followed.to_dict()), verification=_verification_summary(verified.to_dict()),
    )


def _forecast_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The chosen hour's forecast as the study reports it: analogues, and per lead the scores against the truth."""
    return {"analogues": data["analogues"], "settings": data["settings"],
            "leads": [{key: lead[key] for key in ("lead", "mean", "spread", "exceedance", "truth", "references", "blend")
                       if key in lead} for lead in data["leads"]]}


def _verification_summary(data: dict[str, Any]) -> dict[str, Any]:
    """The held-out month's verification without its reliability tables."""
    leads = [{**lead, "brier": {t: {k: v for k, v in scores.items() if k != "reliability"}
                                for t, scores in lead["brier"].items()}} for lead in data["leads"]]
    return {**data, "leads": leads}


def _fit_pca(atlas: Atlas, training: Path, settings: WeatherSettings, progress: ProgressCallback) -> LinearCodec:
    """PCA with the model's code size, fitted on the model inputs of the hours the model trained on."""
    progress("pca baseline", 0, None)
    loaded = load_records(read_sources([training], READER).records)
    inputs = atlas.model.prepare(loaded.images, [r.uri for r in loaded.records])
    progress("pca baseline", 1, 1)
    return LinearCodec.fit(inputs, settings.code_size, settings.seed)


def _against_pca(atlas: Atlas, pca: LinearCodec, data: Path, training: Path,
                 progress: ProgressCallback) -> dict[str, Any]:
    """PSNR of the mean squared error (model grid, [0, 1]) of the model and of PCA on up to HELD_OUT_HOURS other hours."""
    trained = {path.name for path in training.glob("*.grib2")}
    others = [r for r in read_sources([data], READER).records if Path(r.uri.split("#")[0]).name not in trained]
    chosen = others[::max(1, -(-len(others) // HELD_OUT_HOURS))]
    progress("against pca", 0, len(chosen))
    loaded = load_records(chosen, progress=progress)
    inputs = atlas.model.prepare(loaded.images, [r.uri for r in loaded.records])
    ours = float(psnr(inputs[None], atlas.model.reconstruct(inputs)[None])[0])
    linear = float(psnr(inputs[None], pca.decode(pca.encode(inputs))[None])[0])
    progress("against pca", len(chosen), len(chosen))
    return {"hours": len(inputs), "ours_psnr": round(ours, 2), "pca_psnr": round(linear, 2),
            "gain_db": round(ours - linear, 2)}


def _hit(hit: Hit, chosen: datetime) -> dict[str, Any]:
    """One result as the study reports it: time, hours from the chosen time, distance, id."""
    return {"id": hit.id, "time": hit.time.isoformat() if hit.time else None,
            "hours": (hit.time - chosen) / timedelta(hours=1) if hit.time else None, "distance": hit.distance}


def _regime_shares(atlas: Atlas, settings: WeatherSettings) -> list[dict[str, float]]:
    """Per cluster, the share of its hours in each of the generator's regimes (the truth it was drawn from)."""
    run = load_run(atlas.store, RUN)
    ids, times = atlas.store.times()
    year = RadarYear(settings.seed, settings.days, settings.grid, settings.start)
    hours = ((times[np.searchsorted(ids, run.ids)] - np.datetime64(settings.start, "us"))
             // np.timedelta64(1, "h")).astype(int)
    regime = np.array([year.regime(h) for h in hours])
    return [{name: float(np.mean(regime[run.clusters == c] == name)) for name in REGIMES}
            for c in range(len(run.centroids))]
