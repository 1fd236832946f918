"""Pixel settings applied to the records of any source: fill, crop, downsample, clip."""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import BadInputError
from .options import ReaderOptions
from .records import Record, Scan

__all__ = ["apply_pixels", "transform_records", "output_shape"]


def output_shape(shape: tuple[int, int], options: ReaderOptions) -> tuple[int, int]:
    """``(height, width)`` of an image of ``shape`` after crop and downsampling."""
    height, width = shape
    if options.crop is not None:
        top, left, h, w = options.crop
        height, width = max(0, min(h, height - top)), max(0, min(w, width - left))
    if options.scale != 1.0:
        height, width = max(1, round(height * options.scale)), max(1, round(width * options.scale))
    return height, width


def apply_pixels(image: np.ndarray, options: ReaderOptions, uri: str = "image") -> np.ndarray:
    """Fill NaN, crop, downsample (area average) and clip one image, in that order.

    Raises
    ------
    BadInputError
        If the crop window lies outside the image.
    """
    array = np.asarray(image)
    if options.fill is not None and array.dtype.kind == "f":
        array = np.where(np.isnan(array), np.asarray(options.fill, array.dtype), array)
    if options.crop is not None:
        top, left, h, w = options.crop
        if top >= array.shape[0] or left >= array.shape[1]:
            raise BadInputError(
                f"{uri}: crop {options.crop} starts outside the {array.shape[0]}x{array.shape[1]} image"
            )
        array = array[top:top + h, left:left + w]
    if options.scale != 1.0:
        array = _downsample(array, output_shape(array.shape[:2], options.updated(crop=None)))
    if options.clip is not None:
        low, high = options.clip
        array = np.clip(array.astype(np.float32, copy=False) if array.dtype.kind != "f" else array, low, high)
    return np.ascontiguousarray(array)


def _downsample(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    native = array.dtype in (np.uint8, np.uint16, np.float32)
    resized = cv2.resize(array if native else array.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
    if array.ndim == 3:
        resized = resized.reshape(*size, array.shape[2])
    if native or array.dtype.kind == "f":
        return resized
    return np.rint(resized).astype(array.dtype)


def transform_records(scan: Scan, options: ReaderOptions) -> Scan:
    """The records of ``scan`` with ``options``' fill, crop, scale and clip applied on load.

    Hashes change with the settings, so the same file read another way is
    another row. Returns ``scan`` itself when no setting changes pixels.
    """
    if not options.transforms_pixels:
        return scan
    records = [_transformed(record, options) for record in scan.records]
    return Scan(records=records, failures=list(scan.failures))


def _transformed(record: Record, options: ReaderOptions) -> Record:
    step = _Step(record, options)
    return Record(
        uri=record.uri, loader=step.load, hasher=step.sha256, time=record.time, label=record.label,
        meta=record.meta, tile_row=record.tile_row, tile_col=record.tile_col,
        shape=None if record.shape is None else output_shape(record.shape, options),
    )


class _Step:
    """One record read through the pixel settings."""

    def __init__(self, record: Record, options: ReaderOptions):
        self.record, self.options = record, options

    def load(self) -> np.ndarray:
        return apply_pixels(self.record.load(), self.options, self.record.uri)

    def sha256(self) -> str:
        return hashlib.sha256(f"{self.record.sha256}:{self.options.digest()}".encode()).hexdigest()
