"""Reading stored rows again: a column of ``images`` for some ids, and their pixels from the uris."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import BadInputError
from ..sources import Failure, Record, read_source
from ..sources.loading import load_records
from ..store import Store

__all__ = ["Pixels", "read_pixels", "column_of"]


@dataclass
class Pixels:
    """Images read back: their ids (in the order asked), the pixels, and what failed."""

    ids: np.ndarray
    images: list[np.ndarray]
    failures: list[Failure]


def read_pixels(store: Store, ids: Sequence[int]) -> Pixels:
    """Read the images of ``ids`` from where they were embedded from.

    A uri is an image file or ``path#item`` (an item of a stack or a tile);
    the file behind it is read again with the same reader as at ``embed``.
    Images that cannot be read any more are reported, the rest returned.
    """
    rows = store.images([int(i) for i in ids])
    wanted = [int(i) for i in ids if int(i) in rows]
    records: dict[str, Record] = {}
    failures = []
    by_file: dict[str, list[str]] = {}
    for i in wanted:
        uri = rows[i]["uri"]
        by_file.setdefault(uri.split("#", 1)[0], []).append(uri)
    for path, uris in by_file.items():
        try:
            found = {r.uri: r for r in read_source(Path(path)).records}
        except BadInputError as error:
            failures.extend(Failure(uri, str(error)) for uri in uris)
            continue
        for uri in uris:
            if uri in found:
                records[uri] = found[uri]
            else:
                failures.append(Failure(uri, f"not found in {path} any more"))
    order = [i for i in wanted if rows[i]["uri"] in records]
    loaded = load_records([records[rows[i]["uri"]] for i in order])
    good = {r.uri for r in loaded.records}
    kept = np.array([i for i in order if rows[i]["uri"] in good], np.int64)
    return Pixels(kept, loaded.images, failures + loaded.failures)


def column_of(store: Store, ids: np.ndarray, expression: str = "label") -> np.ndarray:
    """An SQL expression on ``images`` evaluated for ``ids``, as an object array (None where missing).

    Raises
    ------
    UsageError
        If the expression is not valid SQL on ``images``.
    """
    result = store.query(f"SELECT id, ({expression}) AS value FROM images ORDER BY id")
    known = np.array([r[0] for r in result.rows], np.int64)
    values = np.empty(len(known) + 1, dtype=object)
    values[:-1] = [r[1] for r in result.rows]
    ids = np.asarray(ids, np.int64)
    where = np.searchsorted(known, ids)
    found = np.zeros(len(ids), bool)
    if len(known):
        found = known[np.minimum(where, len(known) - 1)] == ids
    return values[np.where(found, where, len(known))]
