"""Which reader reads a source: one registry in which every reader says which paths it claims.

Readers are tried in order and the first that claims a path reads it. A
reader registered with :func:`register_reader` is tried before the built-in
ones, so a folder-shaped format (a Zarr store, say) can claim its folders
before the image-folder reader, which claims any folder, sees them.
Every command reads its sources through :func:`reader_for`, so a reader
registered here is picked up by all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..errors import BadInputError
from .arrays import ARRAY_SUFFIXES, array_records
from .folder import file_record, folder_records, image_files
from .grib import GRIB_SUFFIXES, grib_records
from .images import IMAGE_SUFFIXES, check_regular_file
from .loading import as_failure
from .manifest import MANIFEST_SUFFIXES, manifest_records
from .netcdf import NETCDF_SUFFIXES, netcdf_records
from .options import ReaderOptions
from .records import Scan

__all__ = ["SourceReader", "register_reader", "reader_for", "readers"]

FIELD_SUFFIXES = GRIB_SUFFIXES | NETCDF_SUFFIXES


@dataclass(frozen=True)
class SourceReader:
    """A kind of source.

    Attributes
    ----------
    name : str
        What it is, for messages ("GRIB fields").
    claims : callable
        ``claims(path)``: whether this reader reads the existing ``path``.
    read : callable
        ``read(path, options)``: the path's records as a :class:`Scan`.
    suffixes : frozenset of str
        File suffixes it claims, listed when no reader claims a file.
    parts : callable, optional
        ``parts(path)``: the files of a folder it claims, as ``(file, label)``
        pairs that read alone give the folder's records (a distributed embed
        hands them out without opening them); None: the path is read whole.
    """

    name: str
    claims: Callable[[Path], bool]
    read: Callable[[Path, ReaderOptions], Scan]
    suffixes: frozenset[str] = field(default_factory=frozenset)
    parts: Callable[[Path], Iterator[tuple[Path, str | None]]] | None = None


def _by_suffix(suffixes: frozenset[str]) -> Callable[[Path], bool]:
    return lambda path: not path.is_dir() and path.suffix.lower() in suffixes


def _field_files(root: Path) -> Iterator[Path]:
    """GRIB and NetCDF files under ``root`` in sorted path order (hidden ones skipped), found as the walk goes."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        yield from (Path(directory, n) for n in sorted(files)
                    if not n.startswith(".") and Path(n).suffix.lower() in FIELD_SUFFIXES)


def _holds_fields(path: Path) -> bool:
    """Whether a folder holds any GRIB or NetCDF file (the walk stops at the first)."""
    return path.is_dir() and next(_field_files(path), None) is not None


def _field_records(path: Path, options: ReaderOptions) -> Scan:
    reader = grib_records if path.suffix.lower() in GRIB_SUFFIXES else netcdf_records
    return reader(path, options)


def _field_folder(root: Path, options: ReaderOptions) -> Scan:
    """The fields of every GRIB and NetCDF file under ``root``, a file that cannot be read listed and skipped.

    When no file gives a field, the first file's error is raised instead,
    so an option that fits none of them (a variable they lack) is one line.
    """
    scan, first_error = Scan(), None
    for path in _field_files(root):
        try:
            scan.extend(_field_records(path, options))
        except BadInputError as error:
            first_error = first_error or error
            scan.failures.append(as_failure(str(path.resolve()), error))
    if first_error is not None and not scan.records:
        raise first_error
    return scan


_BUILT_IN = (
    SourceReader("a folder of GRIB or NetCDF fields", _holds_fields, _field_folder,
                 parts=lambda p: ((f.resolve(), None) for f in _field_files(p))),
    SourceReader("a folder of images", Path.is_dir, lambda p, o: folder_records(p, o.max_pixels), parts=image_files),
    SourceReader("a manifest", _by_suffix(MANIFEST_SUFFIXES),
                 lambda p, o: manifest_records(p, o.max_pixels), MANIFEST_SUFFIXES),
    SourceReader("an array stack", _by_suffix(ARRAY_SUFFIXES), lambda p, o: array_records(p, o.max_pixels), ARRAY_SUFFIXES),
    SourceReader("GRIB or NetCDF fields", _by_suffix(FIELD_SUFFIXES), _field_records, FIELD_SUFFIXES),
    SourceReader("an image", _by_suffix(IMAGE_SUFFIXES),
                 lambda p, o: Scan(records=[file_record(p, max_pixels=o.max_pixels)]), IMAGE_SUFFIXES),
)
_registered: list[SourceReader] = []


def register_reader(reader: SourceReader) -> None:
    """Add ``reader``: it is tried before the built-in readers (and before those registered earlier)."""
    _registered.insert(0, reader)


def readers() -> list[SourceReader]:
    """Every reader, in the order they are tried."""
    return [*_registered, *_BUILT_IN]


def reader_for(path: Path) -> SourceReader:
    """The reader of ``path``: the first that claims it.

    Raises
    ------
    BadInputError
        If ``path`` does not exist, is a special file (a FIFO, a device), or no reader claims it.
    """
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    if not path.is_dir():
        check_regular_file(path)
    for reader in readers():
        if reader.claims(path):
            return reader
    known = sorted(set().union(*(r.suffixes for r in readers())))
    raise BadInputError(f"{path}: not a folder, image, manifest or array stack, nor GRIB or NetCDF "
                        f"(known suffixes: {', '.join(known)})")
