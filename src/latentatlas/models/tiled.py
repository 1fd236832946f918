"""Applying a model to an image of any size: overlapping tiles blended with a smooth window.

A tile is the model's input size. Tiles step by ``stride`` (default half a
tile) and the last row and column are moved in to end at the edge, so every
pixel is covered. Each output pixel is the average of the tiles over it,
weighted by a raised-cosine window that is largest at a tile's centre and
falls towards its edges, where a convolutional network sees the least
context: neighbouring tiles fade into each other instead of meeting at a
seam. An image smaller than a tile is padded by mirroring and cropped back.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..progress import ProgressCallback, silent
from ..sources.tiles import tile_starts
from .latent import LatentModel

__all__ = ["apply_tiled", "blend_window", "tile_grid"]


def blend_window(height: int, width: int) -> np.ndarray:
    """``(height, width)`` float32 weights: the outer product of two sine-squared windows, > 0 everywhere."""

    def side(n: int) -> np.ndarray:
        return np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 2

    return np.outer(side(height), side(width)).astype(np.float32)


def tile_grid(height: int, width: int, tile: tuple[int, int], stride: int | None = None) -> list[tuple[int, int]]:
    """Top-left corners of the tiles covering an image of at least ``tile`` in size.

    Raises
    ------
    UsageError
        If ``stride`` is not between 1 and the tile's shorter side.
    """
    th, tw = tile
    sh, sw = (stride, stride) if stride is not None else (max(1, th // 2), max(1, tw // 2))
    if not 1 <= sh <= min(th, tw):
        raise UsageError(f"stride must be between 1 and the tile size {min(th, tw)}, got {stride}")
    return [(top, left) for top in tile_starts(height, th, sh) for left in tile_starts(width, tw, sw)]


def apply_tiled(model: LatentModel, x: np.ndarray, stride: int | None = None, batch_size: int = 64,
                progress: ProgressCallback = silent) -> np.ndarray:
    """Run ``model`` over ``x`` ``(C, H, W)`` in [0, 1] of any size; returns ``(C', H, W)`` in [0, 1].

    Parameters
    ----------
    model : LatentModel
    x : ndarray
        Model inputs at the image's own size (``model.input_preprocessor.native``).
    stride : int, optional
        Step between tiles in pixels; default half the model's input size.
    batch_size : int
        Tiles run through the network at once.
    progress : callable
        Receives ``("tiles", done, total)`` after each batch of tiles.
    """
    architecture = model.architecture
    tile = (architecture.height, architecture.width)
    _, height, width = x.shape
    padded = np.pad(x, ((0, 0), (0, max(0, tile[0] - height)), (0, max(0, tile[1] - width))), mode="symmetric")
    corners = tile_grid(*padded.shape[1:], tile, stride)
    window = blend_window(*tile)
    out = np.zeros((architecture.out_channels, *padded.shape[1:]), np.float32)
    weight = np.zeros(padded.shape[1:], np.float32)
    for start in range(0, len(corners), batch_size):
        chunk = corners[start:start + batch_size]
        tiles = np.stack([padded[:, top:top + tile[0], left:left + tile[1]] for top, left in chunk])
        for (top, left), restored in zip(chunk, model.reconstruct(tiles, batch_size)):
            out[:, top:top + tile[0], left:left + tile[1]] += restored * window
            weight[top:top + tile[0], left:left + tile[1]] += window
        progress("tiles", start + len(chunk), len(corners))
    out /= weight
    return np.clip(out[:, :height, :width], 0.0, 1.0)
