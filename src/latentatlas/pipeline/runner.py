"""The batch runner: records read in batches, mapped to outputs, written, with progress and failures in one place.

``embed``, ``compress``, ``restore`` and batch ``search`` are each a
*mapper* (pixels to codes, codes to files, ...) and a *writer* (the atlas,
files); the runner reads the records a batch at a time (decoders on a few
threads), hands each batch to the mapper and then to the writer, reports
progress after every batch, keeps every failure, and ends with one error
when nothing could be done. This is the in-process distributor; the Ray
Data distributor (:mod:`latentatlas.pipeline.ray`) runs the same mappers on
a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..errors import BadInputError
from ..progress import ProgressCallback, silent
from ..sources import Failure, Record
from ..sources.loading import Loaded, iter_batches, transformed

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["Batch", "RunReport", "run_batches", "encoder"]


@dataclass
class Batch:
    """Records that passed the mapper, their source pixels, and what the mapper made of them."""

    records: list[Record] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    outputs: Any = None


Mapper = Callable[[Loaded, list[Failure]], Batch]
"""``mapper(loaded, failures)``: a batch of read records to a :class:`Batch`; records it refuses go to ``failures``."""
Writer = Callable[[Batch], int]
"""``writer(batch)``: store or write a mapped batch; returns how many items it wrote."""


@dataclass
class RunReport:
    """What a run did: items written, and every record that failed (reading, mapping) with its reason."""

    written: int = 0
    failures: list[Failure] = field(default_factory=list)


def run_batches(
    records: Sequence[Record],
    mapper: Mapper,
    writer: Writer,
    *,
    stage: str,
    batch_size: int,
    progress: ProgressCallback = silent,
    failures: Sequence[Failure] = (),
    nothing_done: str | None = None,
) -> RunReport:
    """Read ``records`` ``batch_size`` at a time, map and write each batch.

    Parameters
    ----------
    records : sequence of Record
    mapper, writer : callable
        See :data:`Mapper` and :data:`Writer`.
    stage : str
        The progress stage, reported as ``(stage, done, total, written=, failed=)`` after each batch.
    batch_size : int
        Records read (and so held in memory) at once.
    failures : sequence of Failure
        Failures from before the run (listing the sources), kept first in the report.
    nothing_done : str, optional
        When given and nothing was written, raise ``BadInputError("no image could be <nothing_done>: <first failure>")``.
    """
    report = RunReport(failures=list(failures))
    progress(stage, 0, len(records))
    done = 0
    for loaded in iter_batches(records, batch_size):
        report.failures.extend(loaded.failures)
        if loaded.records:
            batch = mapper(loaded, report.failures)
            if batch.records:
                report.written += writer(batch)
        done += len(loaded.records) + len(loaded.failures)
        progress(stage, done, len(records), written=report.written, failed=len(report.failures))
    if nothing_done and not report.written:
        first = f": {report.failures[0]}" if report.failures else ""
        raise BadInputError(f"no image could be {nothing_done}{first}")
    return report


def encoder(model: LatentModel, batch_size: int = 256) -> Mapper:
    """The mapper of ``embed``: each read image preprocessed as the model's input and encoded."""

    def encode(loaded: Loaded, failures: list[Failure]) -> Batch:
        kept = list(transformed(loaded, model.preprocessor, failures))
        if not kept:
            return Batch()
        return Batch([r for r, _, _ in kept], [im for _, im, _ in kept],
                     model.encode_inputs(np.stack([x for _, _, x in kept]), batch_size))

    return encode
