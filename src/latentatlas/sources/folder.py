"""Image files: one file, or a folder searched recursively (labels from sub-folders)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Iterator

from ..errors import BadInputError
from .images import IMAGE_SUFFIXES, is_image_path, read_image
from .options import DEFAULT_MAX_PIXELS
from .records import Failure, Record, Scan, sha256_of_file

__all__ = ["file_record", "folder_records", "image_files"]


def file_record(path: Path, label: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS, **fields) -> Record:
    """A record for one image file; the pixels are read on ``load()`` (refused past ``max_pixels``)."""
    path = path.resolve()
    return Record(
        uri=str(path),
        loader=partial(read_image, path, max_pixels),
        hasher=partial(sha256_of_file, str(path)),
        label=label,
        **fields,
    )


def folder_records(root: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Scan:
    """Every image file under ``root``, in sorted path order.

    An image in ``root/<name>/...`` gets the label ``<name>`` (the
    ImageFolder convention); images directly in ``root`` get no label.
    Hidden files and folders are skipped, as are files whose suffix is not
    an image's (a ``labels.csv`` beside the images, say). Names with an
    image's suffix that are not regular files (a FIFO, a device) are never
    opened: they are listed as failures.

    Raises
    ------
    BadInputError
        If the folder holds no image files.
    """
    root = root.resolve()
    scan = Scan()
    for path, label in image_files(root):
        if path.is_file():
            scan.records.append(file_record(path, label=label, max_pixels=max_pixels))
        else:
            scan.failures.append(Failure(str(path), "not a regular file (a FIFO, device or socket); skipped"))
    if not scan.records and not scan.failures:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise BadInputError(f"{root}: folder holds no images ({suffixes})")
    return scan


def image_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """``(path, label)`` of every name with an image's suffix under ``root`` (resolved), in sorted path order.

    The label is the first sub-folder's name (None directly in ``root``);
    hidden files and folders are skipped. Nothing is opened.
    """
    root = root.resolve()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        relative = Path(directory).relative_to(root)
        label = relative.parts[0] if relative.parts else None
        for name in sorted(files):
            path = Path(directory, name)
            if not name.startswith(".") and is_image_path(path):
                yield path, label
