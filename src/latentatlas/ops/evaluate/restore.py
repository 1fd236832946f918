"""Evaluate restoration: corrupt clean held-out images, restore them, and score ours beside classic filters.

Every image is mapped to the model's value scale at its own size (as
``restore`` reads it), corrupted with the model's own corruption (or
another given one) from a seed, and restored with the same tiled pass
``restore`` uses. The images are split: a validation share tunes each
classic baseline's one parameter (by mean PSNR), the rest are scored. PSNR
and SSIM compare with the clean image in [0, 1]; a grey corrupted input is
compared as grey in every channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ...baselines.restoration import BASELINES, Baseline, Known, applicable, known_for
from ...checks import at_least
from ...errors import BadInputError, UsageError
from ...models import Corruption, LatentModel
from ...models.tiled import apply_tiled
from ...models.train import split
from ...progress import ProgressCallback, silent
from ...sources import Failure, read_sources
from ...sources.loading import load_records, transformed
from .quality import psnr, ssim

__all__ = ["RestoreEvalSettings", "RestoreRow", "Example", "RestoreEvaluation", "evaluate_restore"]


@dataclass(frozen=True, kw_only=True)
class RestoreEvalSettings:
    """How :func:`evaluate_restore` corrupts, tunes and shows.

    Parameters
    ----------
    corrupt : tuple of str, optional
        Corruption specs to evaluate with; default the model's own.
    validation : float, default 0.3
        Share of the images that tunes the baselines (not scored).
    seed : int, default 0
        Fixes the corruption's draws and the split.
    stride : int, optional
        Step between tiles (default: half the model's input size).
    batch_size : int, default 64
    examples : int, default 4
        Scored images shown in the grid picture.
    baselines : tuple of str, optional
        Baselines to run (default: every one that applies).
    """

    corrupt: tuple[str, ...] | None = None
    validation: float = 0.3
    seed: int = 0
    stride: int | None = None
    batch_size: int = 64
    examples: int = 4
    baselines: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("corrupt", "baselines"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if not 0.0 <= self.validation < 1.0:
            raise UsageError(f"validation must be a share in [0, 1), got {self.validation}", parameter="validation")
        at_least(0)("examples", self.examples)
        at_least(1)("batch_size", self.batch_size)
        if self.stride is not None:
            at_least(1)("stride", self.stride)
        unknown = sorted(set(self.baselines or ()) - set(BASELINES))
        if unknown:
            raise UsageError(f"unknown baseline(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}",
                             parameter="baselines")


@dataclass
class RestoreRow:
    """One method's mean PSNR (dB) and SSIM over the scored images, and its tuned parameter."""

    method: str
    psnr: float
    ssim: float | None
    parameter: dict[str, float] | None = None


@dataclass
class Example:
    """One scored image as shown in the grid: clean, corrupted, ours, best baseline, with captions."""

    uri: str
    images: list[np.ndarray]
    captions: list[str]


@dataclass
class RestoreEvaluation:
    """The table (``corrupted``, ``ours``, then each baseline), what was scored, and the grid's examples."""

    rows: list[RestoreRow]
    images: int
    tuned_on: int
    corruption: str
    best_baseline: str | None
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    grid: Path | None = None

    def row(self, method: str) -> RestoreRow:
        """The row of ``method``."""
        return next(r for r in self.rows if r.method == method)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``rows``, ``images``, ``tuned_on``, ``corruption``, ``best_baseline``, ``failed``, ``notes``, ``grid``."""
        return {
            "rows": [asdict(r) for r in self.rows], "images": self.images, "tuned_on": self.tuned_on,
            "corruption": self.corruption, "best_baseline": self.best_baseline,
            "failed": [{"uri": f.uri, "reason": f.reason} for f in self.failures], "notes": self.notes,
            "grid": None if self.grid is None else str(self.grid),
        }


@dataclass
class _Set:
    """The evaluated images: clean references, corrupted inputs, what the baselines may know."""

    uris: list[str] = field(default_factory=list)
    clean: list[np.ndarray] = field(default_factory=list)
    corrupted: list[np.ndarray] = field(default_factory=list)
    known: list[Known] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def evaluate_restore(
    model: LatentModel,
    sources: Sequence[str | Path],
    settings: RestoreEvalSettings = RestoreEvalSettings(),
    out: str | Path | None = None,
    progress: ProgressCallback = silent,
) -> RestoreEvaluation:
    """PSNR and SSIM of the corrupted input, of ``model``'s restoration and of the classic baselines.

    Parameters
    ----------
    model : LatentModel
    sources
        Clean images the model was not trained on.
    settings : RestoreEvalSettings
    out : path, optional
        Write the grid picture (clean, corrupted, ours, best baseline) here.

    Raises
    ------
    UsageError
        If there is no corruption to evaluate, or it does not give the model's input channels.
    BadInputError
        If no image could be read.
    """
    corruption = model.corruption if settings.corrupt is None else Corruption.parse(settings.corrupt)
    if not corruption:
        raise UsageError("the model was trained without a corruption, so there is nothing to undo; "
                         "give one to evaluate with (corrupt noise:0.1)", parameter="corrupt")
    channels = corruption.input_channels(model.preprocess.channels)
    if channels != model.architecture.in_channels:
        raise UsageError(f"corruption {corruption} gives {channels}-channel inputs; "
                         f"the model takes {model.architecture.in_channels}")
    if out is not None and settings.examples < 1:
        raise UsageError("the grid picture needs at least one example (examples >= 1)")
    data = _read(model, sources, corruption, settings.seed)
    scored, tuning = split(len(data.clean), settings.validation, settings.seed)
    notes = []
    if not len(tuning):
        tuning = scored
        notes.append("one image only: the baselines were tuned on the scored image itself")
    spread = np.linspace(0, len(scored) - 1, min(settings.examples, len(scored))).round().astype(int)
    shown = sorted({int(scored[i]) for i in spread})

    def ours(i: int) -> np.ndarray:
        return apply_tiled(model, data.corrupted[i], settings.stride, settings.batch_size)

    rows, outputs = [], {}
    for method, restore in (("corrupted", lambda i: data.corrupted[i]), ("ours", ours)):
        row, outputs[method] = _score(method, restore, data, scored, shown, progress)
        rows.append(row)
    chosen = [b for b in applicable(corruption) if settings.baselines is None or b.name in settings.baselines]
    for baseline in chosen:
        value = _tune(baseline, data, tuning, progress)

        def classic(i: int, baseline: Baseline = baseline, value: float = value) -> np.ndarray:
            return baseline.run(data.corrupted[i], value, data.known[i])

        row, outputs[baseline.name] = _score(baseline.name, classic, data, scored, shown, progress)
        row.parameter = None if baseline.parameter is None else {baseline.parameter: value}
        rows.append(row)
    best = max(rows[2:], key=lambda r: r.psnr).method if len(rows) > 2 else None
    evaluation = RestoreEvaluation(rows, len(scored), len(tuning), str(corruption), best, data.failures, notes,
                                   _examples(data, shown, outputs, best))
    if out is not None:
        from ...pictures.grids import restoration_grid, save_png

        evaluation.grid = save_png(restoration_grid(evaluation.examples), out)
    return evaluation


def _read(model: LatentModel, sources: Sequence[str | Path], corruption: Corruption, seed: int) -> _Set:
    scan = read_sources(sources)
    loaded = load_records(scan.records)
    data = _Set(failures=scan.failures + loaded.failures)
    rng = np.random.default_rng(seed)
    for record, _, clean in transformed(loaded, model.preprocessor.native, data.failures):
        corrupted = corruption.corrupt(clean[None], rng)
        damaged = None if corrupted.damaged is None else corrupted.damaged[0]
        data.uris.append(record.uri)
        data.clean.append(clean)
        data.corrupted.append(corrupted.inputs[0])
        data.known.append(known_for(corruption, damaged))
    if not data.clean:
        first = f": {data.failures[0]}" if data.failures else ""
        raise BadInputError(f"no readable image to evaluate{first}")
    return data


def _as_output(estimate: np.ndarray, channels: int) -> np.ndarray:
    """A grey estimate repeated to the reference's channels."""
    return np.repeat(estimate, channels, axis=0) if len(estimate) == 1 < channels else estimate


def _score(method: str, restore: Callable[[int], np.ndarray], data: _Set, scored: np.ndarray, shown: list[int],
           progress: ProgressCallback) -> tuple[RestoreRow, dict[int, np.ndarray]]:
    """Mean PSNR and SSIM of ``restore(i)`` over the scored images, and the outputs of the ``shown`` ones."""
    psnrs, ssims, kept = [], [], {}
    progress(method, 0, len(scored))
    for done, i in enumerate(scored, start=1):
        estimate = _as_output(restore(int(i)), len(data.clean[i]))
        psnrs.append(float(psnr(data.clean[i][None], estimate[None])[0]))
        ssims.append(ssim(data.clean[i], estimate))
        if i in shown:
            kept[int(i)] = estimate
        progress(method, done, len(scored))
    mean_ssim = None if np.isnan(ssims).all() else float(np.nanmean(ssims))
    return RestoreRow(method, float(np.mean(psnrs)), mean_ssim), kept


def _tune(baseline: Baseline, data: _Set, tuning: np.ndarray, progress: ProgressCallback) -> float:
    """The value of the baseline's parameter with the best mean PSNR on the tuning images."""
    if len(baseline.grid) == 1:
        return baseline.grid[0]
    means = []
    stage = f"tune {baseline.name}"
    progress(stage, 0, len(baseline.grid))
    for done, value in enumerate(baseline.grid, start=1):
        scores = [psnr(data.clean[i][None], baseline.run(data.corrupted[i], value, data.known[i])[None])[0]
                  for i in tuning]
        means.append(float(np.mean(scores)))
        progress(stage, done, len(baseline.grid))
    return baseline.grid[int(np.argmax(means))]


def _examples(data: _Set, shown: list[int], outputs: dict[str, dict[int, np.ndarray]],
              best: str | None) -> list[Example]:
    """The grid's rows: clean, corrupted, ours and the best baseline, captioned with their PSNR."""
    methods = ["corrupted", "ours"] + ([best] if best else [])
    examples = []
    for i in shown:
        images = [data.clean[i]] + [outputs[m][i] for m in methods]
        captions = ["clean"] + [f"{m} {psnr(data.clean[i][None], outputs[m][i][None])[0]:.1f} dB" for m in methods]
        examples.append(Example(data.uris[i], images, captions))
    return examples
