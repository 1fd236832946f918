"""The record: one image of a collection, with its identity and provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Callable

import numpy as np

__all__ = ["Record", "Failure", "Scan", "sha256_of_array", "sha256_of_file"]


@dataclass(eq=False)
class Record:
    """One image of a source, read lazily.

    Parameters
    ----------
    uri : str
        Where the image comes from: an absolute file path, or ``path#index``
        for an item of an array stack.
    loader : callable
        Returns the pixels as an ``(H, W)`` or ``(H, W, C)`` array in the
        image's own dtype and units.
    hasher : callable
        Returns the SHA-256 hex digest of the image's content.
    time, label, meta, tile_row, tile_col
        What the source knows about the image; ``meta`` must be JSON-able.
    shape : (int, int), optional
        ``(height, width)`` when the source knows it without reading the
        pixels (array stacks, GRIB and NetCDF fields); tiling uses it.
    """

    uri: str
    loader: Callable[[], np.ndarray] = field(repr=False)
    hasher: Callable[[], str] = field(repr=False)
    time: datetime | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    tile_row: int | None = None
    tile_col: int | None = None
    shape: tuple[int, int] | None = None

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the content (file bytes, or array bytes with shape)."""
        return self.hasher()

    def load(self) -> np.ndarray:
        """Read the pixels; raises :class:`BadInputError` naming the uri."""
        return self.loader()


@dataclass(frozen=True)
class Failure:
    """An item a source or a batch could not use, and why."""

    uri: str
    reason: str

    def __str__(self) -> str:
        return f"{self.uri}: {self.reason}"


@dataclass
class Scan:
    """What reading one or more sources found: usable records and failures."""

    records: list[Record] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def extend(self, other: "Scan") -> None:
        """Append another scan's records and failures."""
        self.records.extend(other.records)
        self.failures.extend(other.failures)


def sha256_of_file(path: str) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of_array(array: np.ndarray) -> str:
    """SHA-256 hex digest of an array's dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()
