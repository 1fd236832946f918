"""Fit: read a collection, choose preprocessing, train the autoencoder, save it in the atlas."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, UsageError, first_line
from ..models import Corruption, LatentModel, stage_model
from ..models.augment import Augmentation
from ..models.objectives import Objective
from ..models.options import ModelOptions, architecture
from ..models.preprocess import PreprocessConfig, Preprocessor
from ..models.train import History, TrainConfig, series_step, train
from ..models.training_set import StreamingImages
from ..progress import ProgressCallback, silent
from ..sources import Failure, ReaderOptions, Record, read_sources
from ..sources.geometry import file_geometry
from ..sources.loading import Loaded, iter_batches, load_records, transform_each
from ..store.database import Store
from ..store.schema import GRID_SETTING, READER_SETTING
from ..store.switch import staging_dir, switch_model

__all__ = ["FitReport", "fit", "fit_settings", "split_settings", "read_history", "HISTORY_FILE", "LOSS_PLOT"]

HISTORY_FILE = "history.json"
LOSS_PLOT = "loss.png"


@dataclass
class FitReport:
    """What :func:`fit` did."""

    model: LatentModel
    history: History
    images: int
    failures: list[Failure] = field(default_factory=list)
    notes: tuple[str, ...] = ()


def fit(
    store: Store,
    sources: Sequence[str | Path],
    options: ModelOptions = ModelOptions(),
    train_config: TrainConfig = TrainConfig(),
    overwrite: bool = False,
    progress: ProgressCallback = silent,
    reader: ReaderOptions = ReaderOptions(),
) -> FitReport:
    """Train a new autoencoder on the images of ``sources`` and save it in ``store``.

    Unreadable images are skipped and reported. An atlas that already has
    embedded rows keeps them unless ``overwrite`` is given: then the new
    model is saved first and the rows made by the old one are cleared.
    Sources are read with ``reader``, which is stored so that ``embed``
    reads new sources the same way; its ``clip`` is the default value range.

    With ``options.corrupt`` the model learns to undo that corruption: each
    training batch is corrupted afresh and the clean images are the targets
    (see :func:`latentatlas.models.train.train`).

    Raises
    ------
    UsageError
        If the atlas already holds rows and ``overwrite`` is false, or on a
        bad corruption spec.
    BadInputError
        If no image could be read.
    """
    corruption = Corruption.parse(options.corrupt)
    rows = store.count("embeddings")
    if rows and not overwrite:
        raise UsageError(
            f"{store.path}: atlas already holds {rows} embedded images made by its current model; "
            "pass overwrite to train a new model and clear them", parameter="overwrite"
        )
    progress("scan", 0, None)
    scan = read_sources(sources, reader)
    progress("scan", len(scan.records), len(scan.records))
    records = _sample(scan.records, options.max_images, train_config.seed)
    streaming = options.cache_images is not None
    progress("read", 0, len(records))
    loaded = _check_readable(records, progress) if streaming else load_records(records, progress=progress)
    progress("read", len(records), len(records))
    failures = scan.failures + loaded.failures
    readable = len(loaded.records)
    if readable < 2:
        detail = f"; {len(failures)} failed, first: {failures[0]}" if failures else ""
        raise BadInputError(f"need at least 2 readable images to train, found {readable}{detail}")

    sample = loaded.images if not streaming else [r.load() for r in loaded.records[:PREPROCESS_SAMPLE]]
    preprocess = PreprocessConfig.infer(
        sample, size=options.size, channels=options.channels,
        fit=options.fit, value_range=options.value_range or reader.clip,
    )
    model = LatentModel.create(architecture(options, preprocess, corruption, readable), preprocess,
                               seed=train_config.seed, corruption=corruption)
    augment = Augmentation.choose(train_config.augment, georeferenced=preprocess.holds_fields,
                                  square=preprocess.height == preprocess.width)
    if streaming:
        inputs = _streamed(loaded.records, model.preprocessor, options.cache_images)
    else:
        progress("prepare", 0, None)
        inputs, loaded = transform_each(loaded, model.preprocessor)
        progress("prepare", len(inputs), len(inputs))
        failures = scan.failures + loaded.failures
    times, places = _times_and_places(loaded.records)  # those that survived preprocessing
    del loaded, sample
    objective = Objective.parse(train_config.objective).choose(times is not None, preprocess.holds_fields,
                                                               series_step(times))
    train_config = replace(train_config, objective=objective.spec)
    history = train(model, inputs, train_config, progress=progress, corrupt=corruption or None, augment=augment,
                    times=times, places=places)
    model.training = {**train_config.to_dict(), "augment": augment.specs, "images": len(inputs),
                      "sources": [str(s) for s in sources], "split": history.split}

    write_history(history, stage_model(model, staging_dir(store)))  # then in place at once (store.switch)
    geometry = file_geometry(records[0].uri.partition("#")[0])
    switch_model(store, model.fingerprint, {READER_SETTING: reader.to_dict(),
                                            GRID_SETTING: None if geometry is None else geometry.to_dict()})
    return FitReport(model=model, history=history, images=len(inputs), failures=failures,
                     notes=restoration_notes(options, corruption) + size_notes(options, preprocess))


def _times_and_places(records: list[Record]) -> tuple[np.ndarray | None, list[tuple] | None]:
    """The records' times (None unless every record has one) and places (a tile's row and column)."""
    if not records or any(r.time is None for r in records):
        return None, None
    times = np.array([np.datetime64(r.time.replace(tzinfo=None), "us") for r in records])
    return times, [(r.tile_row, r.tile_col) for r in records]


def size_notes(options: ModelOptions, preprocess: PreprocessConfig) -> tuple[str, ...]:
    """Why a field was read at the size it was, when the user did not choose one.

    Measured by ``bench/field_size.py`` on a generated period on a 144x256
    grid: analogues found at 64, 128 and 256 pixels on the long side
    verified alike at the full grid (CRPS within 0.1 % at every lead), while
    training took about 3.4 and 5.5 times as long per field.
    """
    if options.size is not None or not preprocess.holds_fields:
        return ()
    return (f"fields are read at {preprocess.height}x{preprocess.width} (at most 64 pixels a side): analogues "
            "found at 64, 128 and 256 pixels verified alike on generated radar while training cost 3 to 5 times "
            "more per field (docs/model.md); --size sets another",)


def restoration_notes(options: ModelOptions, corruption: Corruption) -> tuple[str, ...]:
    """Advice on a restoration model: a vector code limits how much detail comes back.

    Measured on held-out shapes with ``noise:0.1`` (issue 13): the linear
    bottleneck restored at 26.9 dB, a Gaussian blur at 33.0 dB and the conv
    bottleneck at 35.6 dB. The vector code is kept as the default because it
    is also the searchable code; the note says what to use for restoration.
    """
    if not corruption or options.bottleneck != "linear":
        return ()
    return (f"a vector code of {options.code_size} numbers limits what restoration can bring back "
            "(often below a classic filter); for restoration only, fit with --bottleneck conv",)


PREPROCESS_SAMPLE = 256  # images a streamed fit infers its preprocessing from


def _sample(records: list[Record], max_images: int | None, seed: int) -> list[Record]:
    """A seeded sample of ``max_images`` records, in their order (all of them when fewer)."""
    if max_images is None or len(records) <= max_images:
        return records
    chosen = np.sort(np.random.default_rng(seed).choice(len(records), max_images, replace=False))
    return [records[i] for i in chosen]


def _check_readable(records: list[Record], progress: ProgressCallback) -> Loaded:
    """The records whose pixels can be read (pixels not kept), one batch in memory at a time."""
    kept = Loaded()
    done = 0
    for batch in iter_batches(records, 256):
        kept.records += batch.records
        kept.failures += batch.failures
        done += len(batch.records) + len(batch.failures)
        progress("read", done, len(records))
    return kept


def _streamed(records: list[Record], preprocessor: Preprocessor, cache_size: int) -> StreamingImages:
    def load(i: int) -> np.ndarray:
        return preprocessor(records[i].load(), records[i].uri)
    return StreamingImages(len(records), load, cache_size)


def write_history(history: History, directory: Path) -> None:
    """Write ``history.json`` and the ``loss.png`` curve beside the weights."""
    from ..pictures.grids import loss_curve, save_png

    data = history.to_dict()
    (directory / HISTORY_FILE).write_text(json.dumps(data, indent=2) + "\n")
    figure = loss_curve(data["epochs"], history.loss, history.baseline_val_loss, history.initial_val_loss)
    save_png(figure, directory / LOSS_PLOT)


def read_history(directory: Path) -> History | None:
    """The saved training history, or None when there is none.

    Raises
    ------
    BadInputError
        ``"<path>: not a training history (...)"`` for a file that is not one.
    """
    path = directory / HISTORY_FILE
    if not path.is_file():
        return None
    try:
        return History.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # JSONDecodeError and UnicodeError are ValueErrors
        raise BadInputError(f"{path}: not a training history ({first_line(error)})") from None


def fit_settings(options: ModelOptions | None, train: TrainConfig | None,
                 settings: dict[str, Any]) -> tuple[ModelOptions, TrainConfig]:
    """``options`` and ``train`` as given (None: the defaults), or both made from ``settings`` by field name.

    Raises
    ------
    UsageError
        If both are given, or as :func:`split_settings`.
    """
    if options is None and train is None:
        return split_settings(settings)
    if settings:
        raise UsageError(f"give options and train whole or their fields by name ({', '.join(settings)}), not both",
                         parameter=tuple(settings))
    return options or ModelOptions(), train or TrainConfig()


def split_settings(settings: dict[str, Any]) -> tuple[ModelOptions, TrainConfig]:
    """Keyword settings to a :class:`ModelOptions` and a :class:`TrainConfig` by field name.

    Raises
    ------
    UsageError
        On a name that is neither's field.
    """
    model_fields = {f.name for f in fields(ModelOptions)}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - model_fields - train_fields)
    if unknown:
        raise UsageError(f"unknown fit setting(s) {', '.join(unknown)}; known: {', '.join(sorted(model_fields | train_fields))}")
    model = ModelOptions(**{k: v for k, v in settings.items() if k in model_fields})
    train_config = TrainConfig(**{k: v for k, v in settings.items() if k in train_fields})
    return model, train_config
