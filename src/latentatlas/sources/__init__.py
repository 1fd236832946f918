"""Sources: readers that turn folders, files, manifests and stacks into records.

Sources know nothing of models or atlases; they only say what images there
are, where they come from, and how to read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import BadInputError
from .arrays import ARRAY_SUFFIXES, array_records
from .folder import file_record, folder_records
from .images import IMAGE_SUFFIXES, read_image, write_image
from .manifest import MANIFEST_SUFFIXES, manifest_records
from .records import Failure, Record, Scan

__all__ = ["Record", "Failure", "Scan", "read_sources", "read_source", "read_image", "write_image"]


def read_source(source: str | Path) -> Scan:
    """Records of one source, told apart by what it is.

    A folder is searched recursively for images; a ``.csv`` or ``.parquet``
    file is a manifest; a ``.npy`` or ``.npz`` file is an array stack; any
    other file must be an image.

    Raises
    ------
    BadInputError
        If the source does not exist, is empty, or is none of the above.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return folder_records(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        return manifest_records(path)
    if suffix in ARRAY_SUFFIXES:
        return array_records(path)
    if suffix in IMAGE_SUFFIXES:
        return Scan(records=[file_record(path)])
    known = sorted(IMAGE_SUFFIXES | MANIFEST_SUFFIXES | ARRAY_SUFFIXES)
    raise BadInputError(f"{path}: not a folder, image, manifest or array stack (known suffixes: {', '.join(known)})")


def read_sources(sources: Iterable[str | Path]) -> Scan:
    """Records of several sources, in the order given."""
    scan = Scan()
    for source in sources:
        scan.extend(read_source(source))
    if not scan.records and not scan.failures:
        raise BadInputError("no sources given")
    return scan
