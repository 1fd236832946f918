"""Fit: read a collection, choose preprocessing, train the autoencoder, save it in the atlas."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from ..errors import BadInputError, UsageError
from ..models import AutoencoderConfig, Corruption, LatentModel, save_model
from ..preprocess import PreprocessConfig
from ..progress import ProgressCallback, silent
from ..sources import Failure, ReaderOptions, read_sources
from ..sources.loading import load_records, transform_each
from ..store import Store
from ..train import History, TrainConfig, train
from .embed import READER_KEY

__all__ = ["ModelOptions", "FitReport", "fit", "architecture", "split_settings", "read_history", "HISTORY_FILE",
           "LOSS_PLOT"]

HISTORY_FILE = "history.json"
LOSS_PLOT = "loss.png"


@dataclass(frozen=True)
class ModelOptions:
    """What a user chooses about the model, its preprocessing and what it learns to undo.

    ``None`` for the preprocessing means "follow the data" (see
    :meth:`PreprocessConfig.infer`); for ``linear_path``, ``levels``,
    ``blocks`` and ``residual`` it means "what suits the bottleneck" (see
    :func:`architecture`). ``corrupt`` holds corruption specs such as
    ``"noise:0.1"`` (see :mod:`latentatlas.models.corruptions`).
    """

    code_size: int = 64
    size: int | tuple[int, int] | None = None
    channels: int | None = None
    fit: str = "resize"
    value_range: tuple[float, float] | None = None
    base_channels: int = 32
    max_channels: int = 256
    norm: str = "batch"
    linear_path: bool | None = None
    bottleneck: str = "linear"
    levels: int | None = None
    blocks: int | None = None
    residual: bool | None = None
    corrupt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        specs = (self.corrupt,) if isinstance(self.corrupt, str) else self.corrupt
        object.__setattr__(self, "corrupt", tuple(specs or ()))


@dataclass
class FitReport:
    """What :func:`fit` did."""

    model: LatentModel
    history: History
    images: int
    failures: list[Failure] = field(default_factory=list)


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
    (see :func:`latentatlas.train.train`).

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
            "pass --overwrite to train a new model and clear them"
        )
    scan = read_sources(sources, reader)
    progress("read", 0, len(scan.records))
    loaded = load_records(scan.records)
    progress("read", len(scan.records), len(scan.records))
    failures = scan.failures + loaded.failures
    if len(loaded.images) < 2:
        detail = f"; {len(failures)} failed, first: {failures[0]}" if failures else ""
        raise BadInputError(f"need at least 2 readable images to train, found {len(loaded.images)}{detail}")

    preprocess = PreprocessConfig.infer(
        loaded.images, size=options.size, channels=options.channels,
        fit=options.fit, value_range=options.value_range or reader.clip,
    )
    model = LatentModel.create(architecture(options, preprocess, corruption), preprocess, seed=train_config.seed,
                               corruption=corruption)
    inputs, loaded = transform_each(loaded, model.preprocessor)
    failures = scan.failures + loaded.failures
    del loaded
    history = train(model, inputs, train_config, progress=progress, corrupt=corruption or None)
    model.training = {**train_config.to_dict(), "images": len(inputs), "sources": [str(s) for s in sources]}

    save_model(model, store.model_dir)
    write_history(history, store.model_dir)
    if rows:
        store.clear()
    store.set_setting(READER_KEY, reader.to_dict())
    return FitReport(model=model, history=history, images=len(inputs), failures=failures)


CONV_BLOCKS = 6


def architecture(options: ModelOptions, preprocess: PreprocessConfig, corruption: Corruption) -> AutoencoderConfig:
    """The network for ``options`` on images of ``preprocess``, taking inputs corrupted by ``corruption``.

    Unset choices follow the bottleneck. ``linear``: the linear (PCA) path
    on, as many levels as the size allows, no extra blocks, no residual.
    ``conv`` (restoration): no linear path (there is no vector code to add
    it to), no halving, ``CONV_BLOCKS`` convolutions at full resolution and
    residual prediction, which measured best for a short CPU budget.
    """
    conv = options.bottleneck == "conv"
    linear_path = not conv if options.linear_path is None else options.linear_path
    residual = conv if options.residual is None else options.residual
    return AutoencoderConfig(
        in_channels=corruption.input_channels(preprocess.channels), out_channels=preprocess.channels,
        height=preprocess.height, width=preprocess.width, code_size=options.code_size,
        base_channels=options.base_channels, max_channels=options.max_channels, norm=options.norm,
        linear_path=linear_path, output="identity" if linear_path or residual else "sigmoid",
        bottleneck=options.bottleneck, levels=0 if conv and options.levels is None else options.levels,
        blocks=(CONV_BLOCKS if conv else 0) if options.blocks is None else options.blocks, residual=residual,
    )


def write_history(history: History, directory: Path) -> None:
    """Write ``history.json`` and the ``loss.png`` curve beside the weights."""
    from ..viz import loss_curve, save_png

    data = history.to_dict()
    (directory / HISTORY_FILE).write_text(json.dumps(data, indent=2) + "\n")
    figure = loss_curve(data["epochs"], history.loss, history.baseline_val_loss, history.initial_val_loss)
    save_png(figure, directory / LOSS_PLOT)


def read_history(directory: Path) -> History | None:
    """The saved training history, or None when there is none."""
    path = directory / HISTORY_FILE
    if not path.is_file():
        return None
    return History.from_dict(json.loads(path.read_text()))


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
