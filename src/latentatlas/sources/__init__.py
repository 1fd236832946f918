"""Sources: readers that turn folders, files, manifests and stacks into records.

Sources know nothing of models or atlases; they only say what images there
are, where they come from, and how to read them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..errors import BadInputError
from .arrays import ARRAY_SUFFIXES, array_records
from .folder import file_record, folder_records
from .grib import GRIB_SUFFIXES, grib_records
from .images import IMAGE_SUFFIXES, check_regular_file, read_image, write_image
from .manifest import MANIFEST_SUFFIXES, manifest_records
from .netcdf import NETCDF_SUFFIXES, netcdf_records
from .options import ReaderOptions
from .records import Failure, Record, Scan
from .tiles import tile_records
from .transform import transform_records

__all__ = ["Record", "Failure", "Scan", "ReaderOptions", "read_sources", "read_source", "read_image", "write_image"]

FIELD_SUFFIXES = GRIB_SUFFIXES | NETCDF_SUFFIXES


def read_source(source: str | Path, options: ReaderOptions | None = None) -> Scan:
    """Records of one source, told apart by what it is, read with ``options``.

    A folder is searched recursively for images, or for GRIB/NetCDF files
    when it holds any; a ``.csv`` or ``.parquet`` file is a manifest; a
    ``.npy`` or ``.npz`` file is an array stack; ``.grib2``/``.grb2``/
    ``.grib`` and ``.nc`` files are weather fields (one record per time);
    any other file must be an image. ``options`` then fill, crop,
    downsample, clip and tile every record (see :class:`ReaderOptions`).

    Raises
    ------
    BadInputError
        If the source does not exist, is empty, or is none of the above.
    """
    options = options or ReaderOptions()
    scan = transform_records(_records(Path(source).expanduser(), options), options)
    return tile_records(scan, options.tile, options.stride) if options.tile else scan


def _records(path: Path, options: ReaderOptions) -> Scan:
    if path.is_dir():
        fields = _field_files(path)
        if not fields:
            return folder_records(path, options.max_pixels)
        scan = Scan()
        for field in fields:
            scan.extend(_field_records(field, options))
        return scan
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    check_regular_file(path)
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        return manifest_records(path, options.max_pixels)
    if suffix in ARRAY_SUFFIXES:
        return array_records(path)
    if suffix in FIELD_SUFFIXES:
        return _field_records(path, options)
    if suffix in IMAGE_SUFFIXES:
        return Scan(records=[file_record(path, max_pixels=options.max_pixels)])
    known = sorted(IMAGE_SUFFIXES | MANIFEST_SUFFIXES | ARRAY_SUFFIXES | FIELD_SUFFIXES)
    raise BadInputError(f"{path}: not a folder, image, manifest or array stack, nor GRIB or NetCDF "
                        f"(known suffixes: {', '.join(known)})")


def _field_records(path: Path, options: ReaderOptions) -> Scan:
    reader = grib_records if path.suffix.lower() in GRIB_SUFFIXES else netcdf_records
    return reader(path, options)


def _field_files(root: Path) -> list[Path]:
    """GRIB and NetCDF files under ``root`` in sorted path order (hidden ones skipped)."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found += [Path(directory, n) for n in sorted(files)
                  if not n.startswith(".") and Path(n).suffix.lower() in FIELD_SUFFIXES]
    return found


def read_sources(sources: Iterable[str | Path], options: ReaderOptions | None = None) -> Scan:
    """Records of several sources, in the order given, read with ``options``."""
    scan = Scan()
    for source in sources:
        scan.extend(read_source(source, options))
    if not scan.records and not scan.failures:
        raise BadInputError("no sources given")
    return scan
