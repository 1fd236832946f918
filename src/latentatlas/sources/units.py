"""Units of work: the files sources split into, listed without opening them, and each read on its own.

A distributed run hands units out to workers, which read, hash and
decode them there: the driver's work per file is one directory entry and
one ``stat``. A folder splits into its files as its reader says
(:attr:`SourceReader.parts`: the label a folder of images gives travels
with each file); any other source is one unit.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import BadInputError
from .options import ReaderOptions
from .records import Failure, Scan
from .registry import reader_for

__all__ = ["Unit", "list_units", "read_unit"]


@dataclass(frozen=True)
class Unit:
    """One file to read on its own, the label its folder gives, and its size and time (to tell a changed file)."""

    path: str
    label: str | None = None
    size: int = 0
    modified_ns: int = 0


def list_units(sources: Iterable[str | Path]) -> tuple[list[Unit], list[Failure]]:
    """The units of ``sources`` in the order :func:`read_sources` lists their records, and the names that are no file.

    Raises
    ------
    BadInputError
        If a source does not exist or no reader claims it, a folder holds
        nothing its reader reads, or no sources are given.
    """
    units, failures, given = [], [], False
    for source in sources:
        given = True
        path = Path(source).expanduser()
        reader = reader_for(path)
        parts = list(reader.parts(path)) if reader.parts else [(path.resolve(), None)]
        if not parts:
            reader.read(path, ReaderOptions())  # raises the reader's own "holds no ..." error
        for file, label in parts:
            try:
                info = os.stat(file)
            except OSError as error:
                failures.append(Failure(str(file), f"cannot read ({error.strerror or error})"))
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
                units.append(Unit(str(file), label, info.st_size, info.st_mtime_ns))
            else:
                failures.append(Failure(str(file), "not a regular file (a FIFO, device or socket); skipped"))
    if not given:
        raise BadInputError("no sources given")
    return units, failures


def read_unit(unit: Unit, options: ReaderOptions) -> Scan:
    """The records of ``unit`` read with ``options``, labelled as its folder labels them.

    Raises
    ------
    BadInputError
        As :func:`read_source` for the unit's file.
    """
    from . import read_source

    scan = read_source(unit.path, options)
    if unit.label is not None:
        for record in scan.records:
            record.label = unit.label
    return scan
