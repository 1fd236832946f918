"""Reading stored rows again: a column of ``images`` for some ids, their pixels from the uris, and where they lie."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import BadInputError, UsageError
from ..sources import Failure, Record, read_source
from ..sources.geometry import GridGeometry
from ..sources.loading import load_records
from ..store.database import Store
from ..store.schema import GRID_SETTING
from .embed import reader_options

__all__ = ["Pixels", "RowReader", "read_pixels", "read_row", "column_of", "atlas_geometry", "row_geometry"]


@dataclass
class Pixels:
    """Images read back: their ids (in the order asked), the pixels, and what failed."""

    ids: np.ndarray
    images: list[np.ndarray]
    failures: list[Failure]


@dataclass
class RowReader:
    """Finds stored rows' records again in their files, read as ``embed`` read them.

    A row's uri is an image file or ``path#item`` (an item of a stack, a
    field's time); the file is read with the atlas's reading options (fill,
    clip, crop, scale, tiles), the row's record is the one with its uri and
    tile position, and it must have the row's SHA-256: the same pixels the
    stored code was made from. Each file is read once.
    """

    store: Store
    files: dict[str, dict[tuple, Record] | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.options = reader_options(self.store)

    def record(self, row: dict[str, Any]) -> Record:
        """The record of one ``images`` row (a dict with uri, sha256, tile_row, tile_col).

        Raises
        ------
        BadInputError
            If the file cannot be read, no longer holds the row, or holds
            other pixels than were embedded.
        """
        uri = row["uri"]
        file = uri.partition("#")[0]
        if file not in self.files:
            try:
                self.files[file] = {(r.uri, r.tile_row, r.tile_col): r
                                    for r in read_source(Path(file), self.options).records}
            except BadInputError as error:
                self.files[file] = str(error)
        records = self.files[file]
        if isinstance(records, str):
            raise BadInputError(records)
        record = records.get((uri, row["tile_row"], row["tile_col"]))
        if record is None:
            raise BadInputError(f"{uri}: not found in {file} any more")
        if record.sha256 != row["sha256"]:
            raise BadInputError(f"{uri}: changed since it was embedded (SHA-256 differs)")
        return record


def read_pixels(store: Store, ids: Sequence[int], reader: RowReader | None = None) -> Pixels:
    """Read the images of ``ids`` again from where they were embedded from (see :class:`RowReader`).

    Images that cannot be read as they were embedded are reported, the
    rest returned. Pass one ``reader`` to calls in a loop, so that each
    file is read once.
    """
    rows = store.images([int(i) for i in ids])
    reader = reader or RowReader(store)
    records: dict[int, Record] = {}
    failures = []
    for i in (int(i) for i in ids):
        if i in rows:
            try:
                records[i] = reader.record(rows[i])
            except (BadInputError, OSError) as error:
                failures.append(Failure(rows[i]["uri"], str(error).removeprefix(f"{rows[i]['uri']}: ")))
    loaded = load_records(list(records.values()))
    good = {id(r) for r in loaded.records}
    kept = np.array([i for i, r in records.items() if id(r) in good], np.int64)
    return Pixels(kept, loaded.images, failures + loaded.failures)


def read_row(store: Store, id: int) -> np.ndarray:
    """The image of row ``id``, read again as it was embedded (see :class:`RowReader`).

    Raises
    ------
    UsageError
        If there is no row ``id``.
    BadInputError
        If it cannot be read as it was embedded.
    """
    pixels = read_pixels(store, [id])
    if pixels.failures:
        raise BadInputError(str(pixels.failures[0]))
    if not len(pixels.ids):
        raise UsageError(f"unknown id {id} in {store.path}")
    return pixels.images[0]


def column_of(store: Store, ids: np.ndarray, expression: str = "label") -> np.ndarray:
    """An SQL expression on ``images`` evaluated for ``ids``, as an object array (None where missing).

    Raises
    ------
    UsageError
        If the expression is not valid SQL on ``images``.
    """
    ids = np.asarray(ids, np.int64)
    rows = store.values_of(ids, expression)
    known = np.array([r[0] for r in rows], np.int64)
    values = np.empty(len(known) + 1, dtype=object)
    values[:-1] = [r[1] for r in rows]
    where = np.searchsorted(known, ids)
    found = np.zeros(len(ids), bool)
    if len(known):
        found = known[np.minimum(where, len(known) - 1)] == ids
    return values[np.where(found, where, len(known))]


def atlas_geometry(store: Store) -> GridGeometry | None:
    """Where the atlas's fields lie, as its reading options give them (None when ``fit`` found no grid)."""
    stored = store.setting(GRID_SETTING)
    return None if stored is None else GridGeometry.from_dict(stored).read_with(reader_options(store))


def row_geometry(geometry: GridGeometry, row: dict | None) -> GridGeometry | None:
    """The geometry of one ``images`` row: the whole field, or its tile's window; None without a row."""
    if row is None:
        return None
    meta = row.get("meta") or {}
    if "top" in meta and row.get("height") and row.get("width"):
        return geometry.window(int(meta["top"]), int(meta["left"]), int(row["height"]), int(row["width"]))
    return geometry
