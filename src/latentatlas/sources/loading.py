"""Reading the pixels of many records at once, keeping the good and reporting the bad."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import BadInputError
from ..progress import ProgressCallback, silent
from .records import Failure, Record

__all__ = ["Loaded", "load_records", "iter_batches", "transform_each", "transformed", "as_failure"]

READ_REPORT_EVERY = 32  # records between two "read" progress events


@dataclass
class Loaded:
    """Records whose pixels were read, the pixels, and the records that failed."""

    records: list[Record] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def as_failure(uri: str, error: BadInputError) -> Failure:
    """The failure of ``uri`` that ``error`` describes (its message without the uri in front)."""
    reason = str(error)
    prefix = f"{uri}: "
    return Failure(uri, reason[len(prefix):] if reason.startswith(prefix) else reason)


def _read(record: Record) -> np.ndarray | Failure:
    try:
        return record.load()
    except BadInputError as error:
        return as_failure(record.uri, error)


def load_records(records: Sequence[Record], threads: int = 4, progress: ProgressCallback = silent) -> Loaded:
    """Read every record's pixels on a few threads (decoders release the GIL), reporting stage ``"read"``."""
    loaded = Loaded()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for done, (record, result) in enumerate(zip(records, pool.map(_read, records)), 1):
            if done % READ_REPORT_EVERY == 0:
                progress("read", done, len(records))
            if isinstance(result, Failure):
                loaded.failures.append(result)
            else:
                loaded.records.append(record)
                loaded.images.append(result)
    return loaded


def iter_batches(records: Sequence[Record], batch_size: int, threads: int = 4) -> Iterator[Loaded]:
    """:func:`load_records` over consecutive batches, so memory is bounded by a batch."""
    for start in range(0, len(records), batch_size):
        yield load_records(records[start:start + batch_size], threads)


def transformed(loaded: Loaded, transform: Callable[[np.ndarray, str], np.ndarray],
                failures: list[Failure]) -> Iterator[tuple[Record, np.ndarray, np.ndarray]]:
    """``(record, image, transform(image, uri))`` for each loaded image; those it refuses are added to ``failures``."""
    for record, image in zip(loaded.records, loaded.images):
        try:
            output = transform(image, record.uri)
        except BadInputError as error:
            failures.append(as_failure(record.uri, error))
            continue
        yield record, image, output


def transform_each(loaded: Loaded, transform: Callable[[np.ndarray, str], np.ndarray]) -> tuple[np.ndarray, Loaded]:
    """Apply ``transform(image, uri)`` to each image; images it refuses become failures.

    Returns the stacked outputs of the images that passed and a :class:`Loaded`
    holding those images and every failure (earlier ones included).
    """
    kept = Loaded(failures=list(loaded.failures))
    outputs = []
    for record, image, output in transformed(loaded, transform, kept.failures):
        kept.records.append(record)
        kept.images.append(image)
        outputs.append(output)
    return (np.stack(outputs) if outputs else np.empty((0,))), kept
