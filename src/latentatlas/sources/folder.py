"""Image files: one file, or a folder searched recursively (labels from sub-folders)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from ..errors import BadInputError
from .images import IMAGE_SUFFIXES, is_image_path, read_image
from .records import Record, Scan, sha256_of_file

__all__ = ["file_record", "folder_records"]


def file_record(path: Path, label: str | None = None, **fields) -> Record:
    """A record for one image file; the pixels are read on ``load()``."""
    path = path.resolve()
    return Record(
        uri=str(path),
        loader=partial(read_image, path),
        hasher=partial(sha256_of_file, str(path)),
        label=label,
        **fields,
    )


def folder_records(root: Path) -> Scan:
    """Every image file under ``root``, in sorted path order.

    An image in ``root/<name>/...`` gets the label ``<name>`` (the
    ImageFolder convention); images directly in ``root`` get no label.
    Hidden files and folders are skipped, as are files whose suffix is not
    an image's (a ``labels.csv`` beside the images, say).

    Raises
    ------
    BadInputError
        If the folder holds no image files.
    """
    root = root.resolve()
    scan = Scan()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        relative = Path(directory).relative_to(root)
        label = relative.parts[0] if relative.parts else None
        for name in sorted(files):
            path = Path(directory, name)
            if not name.startswith(".") and is_image_path(path):
                scan.records.append(file_record(path, label=label))
    if not scan.records:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise BadInputError(f"{root}: folder holds no images ({suffixes})")
    return scan
