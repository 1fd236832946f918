"""Tiles: one record per square window of every image, with its grid position."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from ..errors import BadInputError
from .records import Failure, Record, Scan

__all__ = ["tile_starts", "tile_records"]

_KEEP_PARENTS = 8


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles along one side of ``length`` pixels.

    Tiles step by ``stride``; when the last one would stop short of the edge
    another is added ending exactly at it, so the tiles cover every pixel.
    A side shorter than ``tile`` gets one tile starting at 0.
    """
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def tile_records(scan: Scan, tile: int, stride: int | None = None) -> Scan:
    """Every record of ``scan`` cut into ``tile`` x ``tile`` tiles.

    A tile keeps its image's uri, time, label and meta, adds its pixel
    offsets ``top`` and ``left`` to the meta, and sets ``tile_row`` and
    ``tile_col`` to its position in the image's grid of tiles. Its hash is
    the image's hash with the window, so re-embedding skips it. Each image
    is read once for all its tiles (the last few images stay in memory).
    Images whose size is not known in advance are read once to learn it;
    those that cannot be read are reported as failures.
    """
    stride = stride or tile
    cache = _ParentCache()
    out = Scan(failures=list(scan.failures))
    for record in scan.records:
        parent = _Parent(record, cache)
        try:
            height, width = record.shape or parent.load().shape[:2]
        except (BadInputError, OSError) as error:  # reported like a failed load
            out.failures.append(Failure(record.uri, str(error).removeprefix(f"{record.uri}: ")))
            continue
        for row, top in enumerate(tile_starts(height, tile, stride)):
            for col, left in enumerate(tile_starts(width, tile, stride)):
                window = (top, left, min(tile, height), min(tile, width))
                out.records.append(_tile(record, parent, window, row, col))
    return out


def _tile(record: Record, parent: "_Parent", window: tuple[int, int, int, int], row: int, col: int) -> Record:
    piece = _Piece(parent, window)
    top, left, height, width = window
    return Record(
        uri=record.uri, loader=piece.load, hasher=piece.sha256, time=record.time, label=record.label,
        meta={**record.meta, "top": top, "left": left},
        tile_row=row, tile_col=col, shape=(height, width),
    )


class _ParentCache:
    """The last few images read, so the tiles of one image (loaded on several threads) read it once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrays: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, key: int) -> np.ndarray | None:
        with self.lock:
            array = self.arrays.get(key)
            if array is not None:
                self.arrays.move_to_end(key)
            return array

    def put(self, key: int, array: np.ndarray) -> None:
        with self.lock:
            self.arrays[key] = array
            while len(self.arrays) > _KEEP_PARENTS:
                self.arrays.popitem(last=False)


class _Parent:
    """An image shared by its tiles."""

    def __init__(self, record: Record, cache: _ParentCache):
        self.record, self.cache = record, cache
        self.lock = threading.Lock()

    def load(self) -> np.ndarray:
        with self.lock:
            array = self.cache.get(id(self))
            if array is None:
                array = self.record.load()
                self.cache.put(id(self), array)
            return array


class _Piece:
    """One window of a parent image."""

    def __init__(self, parent: _Parent, window: tuple[int, int, int, int]):
        self.parent, self.window = parent, window

    def load(self) -> np.ndarray:
        top, left, height, width = self.window
        return np.ascontiguousarray(self.parent.load()[top:top + height, left:left + width])

    def sha256(self) -> str:
        return hashlib.sha256(f"{self.parent.record.sha256}:tile{self.window}".encode()).hexdigest()
