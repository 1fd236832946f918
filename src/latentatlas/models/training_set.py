"""The images a model trains on: all in memory, or streamed from their source through a bounded cache.

Both give ``take(positions)``: model inputs ``(n, C, H, W)`` float32 in
[0, 1]. :class:`StreamingImages` decodes an image when a batch needs it and
keeps at most ``cache_size`` decoded images (least recently used out), so a
fit's memory is set by the cache, not by the collection.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Protocol, Sequence

import numpy as np

__all__ = ["TrainingImages", "ArrayImages", "StreamingImages", "DEFAULT_CACHE"]

DEFAULT_CACHE = 4096


class TrainingImages(Protocol):
    """What the trainer reads images through."""

    def __len__(self) -> int: ...

    def take(self, positions: Sequence[int] | np.ndarray) -> np.ndarray: ...


class ArrayImages:
    """Preprocessed images held in one array ``(N, C, H, W)``."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def take(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.array[np.asarray(positions)]


class StreamingImages:
    """Images made on demand by ``load(i)`` (read and preprocess item ``i``), at most ``cache_size`` kept.

    Attributes
    ----------
    loads : int
        How many times an image was made (cache misses).
    peak : int
        The most images the cache held at once.
    """

    def __init__(self, count: int, load: Callable[[int], np.ndarray], cache_size: int = DEFAULT_CACHE):
        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        self.count, self.load, self.cache_size = count, load, cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.loads = self.peak = 0

    def __len__(self) -> int:
        return self.count

    def take(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.stack([self._get(int(i)) for i in positions])

    def _get(self, i: int) -> np.ndarray:
        image = self._cache.get(i)
        if image is not None:
            self._cache.move_to_end(i)
            return image
        image = self.load(i)
        self.loads += 1
        self._cache[i] = image
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        self.peak = max(self.peak, len(self._cache))
        return image
