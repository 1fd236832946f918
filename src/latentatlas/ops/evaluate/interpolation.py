"""Temporal interpolation: predict the code at t as the mean of the codes at t - step and t + step.

For every triple of stored rows (t - step, t, t + step) at the same tile
position, the prediction is compared with the truth in code space (beside
the distance between consecutive steps) and, decoded, in pixel space
(beside the pixel average of the neighbours and the model's own
reconstruction of t, its ceiling). Pixels are compared at the model's input
size in [0, 1]; the originals are read again from their uris as ``embed``
read them (the atlas's reading options: clip, crop, scale, tiles) and must
be unchanged since they were embedded (same SHA-256).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from ...checks import at_least, parse_duration
from ...errors import BadInputError, UsageError
from ...models import LatentModel
from ...progress import ProgressCallback, silent
from ...sources import Failure
from ...store.database import Store
from ..embed import check_model_matches
from ..rows import RowReader
from .quality import psnr

__all__ = ["TemporalOptions", "TemporalReport", "find_triples", "evaluate_interpolation", "JSON_KEYS"]

JSON_KEYS = ("triples", "code_sqdist_interp", "code_sqdist_step", "ratio",
             "psnr_interp", "psnr_pixel_blend", "psnr_reconstruction")
@dataclass(frozen=True, kw_only=True)
class TemporalOptions:
    """What :func:`evaluate_interpolation` scores.

    Parameters
    ----------
    step : str or timedelta
        Time between frames: ``"1h"``, ``"30min"``, ``"1d"``, ``"1h30m"``.
    where : str, optional
        SQL predicate on ``images`` limiting the rows.
    batch_size : int
        Frames read and decoded at once.

    Raises
    ------
    UsageError
        Naming the parameter, on a step that is not a positive duration or ``batch_size < 1``.
    """

    step: str | timedelta = "1h"
    where: str | None = None
    batch_size: int = 256

    def __post_init__(self) -> None:
        parse_duration(self.step, "step")
        at_least(1)("batch_size", self.batch_size)

    @property
    def delta(self) -> timedelta:
        """``step`` as a timedelta."""
        return parse_duration(self.step, "step")


def find_triples(ids: np.ndarray, times: np.ndarray, groups: Sequence[Hashable],
                 step: timedelta) -> tuple[np.ndarray, int]:
    """Every ``(t - step, t, t + step)`` present within a group, in any input order.

    Parameters
    ----------
    ids : ndarray of shape (n,)
    times : ndarray of shape (n,), datetime64
    groups : sequence of n hashable keys
        Rows only form triples with rows of the same key (tile position).
    step : timedelta

    Returns
    -------
    triples : ndarray of shape (m, 3), int64
        Ids of the rows at ``t - step``, ``t`` and ``t + step``, ordered by
        time, then group.
    duplicates : int
        Rows ignored because an earlier id has the same group and time.
    """
    times = np.asarray(times).astype("datetime64[us]")
    delta = np.timedelta64(int(round(step.total_seconds() * 1e6)), "us")
    at: dict[tuple[Hashable, np.datetime64], int] = {}
    duplicates = 0
    for i in np.argsort(ids, kind="stable"):
        key = (groups[i], times[i])
        if key in at:
            duplicates += 1
        else:
            at[key] = int(ids[i])
    found = [(group, time, at[(group, time - delta)], row, at[(group, time + delta)])
             for (group, time), row in at.items() if (group, time - delta) in at and (group, time + delta) in at]
    found.sort(key=lambda f: (f[1], repr(f[0])))
    triples = np.array([f[2:] for f in found], np.int64).reshape(-1, 3)
    return triples, duplicates


@dataclass
class TemporalReport:
    """Means over the triples, and the per-triple table."""

    triples: int
    code_sqdist_interp: float
    code_sqdist_step: float
    ratio: float | None
    psnr_interp: float | None
    psnr_pixel_blend: float | None
    psnr_reconstruction: float | None
    per_triple: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The figures under exactly :data:`JSON_KEYS`."""
        return {key: getattr(self, key) for key in JSON_KEYS}

    def write_parquet(self, path: str | Path) -> Path:
        """Write the per-triple table as Parquet (to a temporary name, then renamed)."""
        import os

        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        columns = {name: pa.array(values, pa.int32()) if name.startswith("tile_") else values
                   for name, values in self.per_triple.items()}
        pq.write_table(pa.table(columns), temporary)
        os.replace(temporary, path)
        return path


def evaluate_interpolation(
    store: Store,
    model: LatentModel,
    options: TemporalOptions = TemporalOptions(),
    progress: ProgressCallback = silent,
) -> TemporalReport:
    """Mean-of-neighbours prediction of every triple of stored rows ``options.step`` apart.

    ``options.where`` (an SQL predicate on ``images``) limits the rows. Triples whose
    images cannot be read again count in code space only; they are listed
    as failures.

    Raises
    ------
    UsageError
        If no rows have times or none form a triple.
    """
    step, where, batch_size = options.delta, options.where, options.batch_size
    check_model_matches(store, model)
    rows = store.query("SELECT id, time, tile_row, tile_col, uri, sha256 FROM images WHERE time IS NOT NULL ORDER BY id")
    table = rows.records()
    if where:
        keep = set(store.ids_where(where).tolist())
        table = [r for r in table if r["id"] in keep]
    if not table:
        raise UsageError(f"{store.path}: no rows with a time{' match the where predicate' if where else ''}",
                         parameter="where")
    ids = np.array([r["id"] for r in table], np.int64)
    times = np.array([np.datetime64(r["time"], "us") for r in table])
    triples, duplicates = find_triples(ids, times, [(r["tile_row"], r["tile_col"]) for r in table], step)
    if len(triples) == 0:
        raise UsageError(f"{store.path}: {len(table)} rows have times but none has rows at both -{step} and +{step}"
                         " (at the same tile position); try another step", parameter="step")
    by_id = {r["id"]: r for r in table}
    found, vectors = store.vectors(np.unique(triples))
    code = dict(zip(found.tolist(), vectors))
    prev, mid, nxt = (np.stack([code[i] for i in triples[:, k]]).astype(np.float64) for k in range(3))
    predicted = (prev + nxt) / 2
    sq_interp = ((predicted - mid) ** 2).sum(1)
    sq_prev, sq_next = ((mid - prev) ** 2).sum(1), ((nxt - mid) ** 2).sum(1)
    pixels, failures = _pixel_scores(store, model, triples, by_id, predicted.astype(np.float32), mid.astype(np.float32),
                                     batch_size, progress)

    mean_step = float(np.mean(np.concatenate([sq_prev, sq_next])))
    per_triple = {
        "time": np.array([by_id[i]["time"] for i in triples[:, 1]], "datetime64[us]"),
        "id_prev": triples[:, 0], "id": triples[:, 1], "id_next": triples[:, 2],
        "tile_row": [by_id[i]["tile_row"] for i in triples[:, 1]],
        "tile_col": [by_id[i]["tile_col"] for i in triples[:, 1]],
        "code_sqdist_interp": sq_interp, "code_sqdist_prev": sq_prev, "code_sqdist_next": sq_next, **pixels,
    }
    return TemporalReport(
        triples=len(triples), code_sqdist_interp=float(sq_interp.mean()), code_sqdist_step=mean_step,
        ratio=float(sq_interp.mean() / mean_step) if mean_step > 0 else None,
        **{name: _nanmean(values) for name, values in pixels.items()},
        per_triple=per_triple, failures=failures, duplicates=duplicates,
    )


def _nanmean(values: np.ndarray) -> float | None:
    return float(np.nanmean(values)) if np.isfinite(values).any() else None


PIXEL_REPORT_EVERY = 32  # frames scored between two "pixels" progress events


def _pixel_scores(store: Store, model: LatentModel, triples: np.ndarray, rows: dict[int, dict], predicted: np.ndarray,
                  truth_codes: np.ndarray, batch_size: int, progress: ProgressCallback) -> tuple[dict[str, np.ndarray], list[Failure]]:
    """PSNR of the decoded prediction, the pixel blend and the reconstruction against each true frame."""
    names = ("psnr_interp", "psnr_pixel_blend", "psnr_reconstruction")
    scores = {name: np.full(len(triples), np.nan) for name in names}
    reader, failures = RowReader(store), []
    progress("pixels", 0, len(triples))
    step = min(batch_size, PIXEL_REPORT_EVERY)
    for start in range(0, len(triples), step):
        batch = triples[start:start + step]
        inputs = {i: _input(reader, model, rows[i], failures) for i in np.unique(batch).tolist()}
        usable = np.array([all(inputs[i] is not None for i in triple) for triple in batch.tolist()], bool)
        if usable.any():
            chosen = batch[usable]
            truth = np.stack([inputs[i] for i in chosen[:, 1]])
            blend = (np.stack([inputs[i] for i in chosen[:, 0]]) + np.stack([inputs[i] for i in chosen[:, 2]])) / 2
            where = start + np.flatnonzero(usable)
            scores["psnr_interp"][where] = psnr(truth, model.decode(predicted[where]))
            scores["psnr_pixel_blend"][where] = psnr(truth, blend)
            scores["psnr_reconstruction"][where] = psnr(truth, model.decode(truth_codes[where]))
        progress("pixels", start + len(batch), len(triples))
    return scores, failures


def _input(reader: RowReader, model: LatentModel, row: dict, failures: list[Failure]) -> np.ndarray | None:
    """The row's image as a model input, or None (and a failure) when it cannot be read as embedded."""
    try:
        return model.prepare([reader.record(row).load()], [row["uri"]])[0]
    except (BadInputError, OSError) as error:
        failures.append(Failure(row["uri"], str(error).removeprefix(f"{row['uri']}: ")))
        return None
