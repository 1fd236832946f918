"""Sources: readers that turn folders, files, manifests and stacks into records.

Sources know nothing of models or atlases; they only say what images there
are, where they come from, and how to read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import BadInputError
from .images import read_image, write_image
from .options import ReaderOptions
from .records import Failure, Record, Scan
from .registry import SourceReader, reader_for, register_reader
from .tiles import tile_records
from .transform import transform_records
from .units import Unit, list_units, read_unit

__all__ = ["Record", "Failure", "Scan", "ReaderOptions", "SourceReader", "register_reader", "read_sources", "read_source",
           "read_image", "write_image", "Unit", "list_units", "read_unit"]


def read_source(source: str | Path, options: ReaderOptions | None = None) -> Scan:
    """Records of one source, told apart by what it is, read with ``options``.

    The first reader of the registry that claims the path reads it
    (:mod:`latentatlas.sources.registry`): a folder is searched recursively
    for images, or for GRIB/NetCDF files when it holds any; a ``.csv`` or
    ``.parquet`` file is a manifest; a ``.npy`` or ``.npz`` file is an array
    stack; ``.grib2``/``.grb2``/``.grib`` and ``.nc`` files are weather
    fields (one record per time); any other file must be an image.
    ``options`` then fill, crop, downsample, clip and tile every record (see
    :class:`ReaderOptions`).

    Raises
    ------
    BadInputError
        If the source does not exist, is empty, or is none of the above.
    """
    options = options or ReaderOptions()
    path = Path(source).expanduser()
    scan = transform_records(reader_for(path).read(path, options), options)
    return tile_records(scan, options.tile, options.stride) if options.tile else scan


def read_sources(sources: Iterable[str | Path], options: ReaderOptions | None = None) -> Scan:
    """Records of several sources, in the order given, read with ``options``."""
    scan = Scan()
    for source in sources:
        scan.extend(read_source(source, options))
    if not scan.records and not scan.failures:
        raise BadInputError("no sources given")
    return scan
