"""Whether a query image fits the atlas it searches, and what was changed to make it fit.

A query is compared with what the atlas holds: fields (float values on a
grid) or pictures, the channels, the value range and the images' size. What
cannot be made to fit (a colour picture on an atlas of radar fields, a field
on another grid) is refused in one line; a conversion that changes the query
(colour to grey, a resize by more than 2x, a stretch, a crop, clipped values)
is returned as a short phrase, so the faces can report it beside the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..sources.images import IMAGE_SUFFIXES
from ..models.preprocess import PreprocessConfig, Preprocessor
from ..store.database import Store

__all__ = ["Collection", "fit_query"]

_RESIZE = 2.0  # a query resized by more than this factor (either way) is reported, or refused for fields
_STRETCH = 1.1  # an aspect ratio changed by more than this factor is reported
_CLIPPED = 0.01  # the share of values outside the range worth reporting
_NARROW = 0.05  # values spanning less of the range than this are reported


@dataclass(frozen=True)
class Collection:
    """What an atlas's images are, as a query must match them.

    ``size`` is the stored images' median (height, width), the model's input
    size when the atlas holds no rows yet.
    """

    config: PreprocessConfig
    size: tuple[int, int]

    @property
    def fields(self) -> bool:
        """Whether the images are fields of float values (radar, GRIB2, NetCDF, .npy) rather than pictures."""
        return self.config.holds_fields

    @classmethod
    def of(cls, store: Store, config: PreprocessConfig) -> "Collection":
        """The collection of ``store`` whose model preprocesses with ``config``."""
        height, width = store.con.execute("SELECT median(height), median(width) FROM images").fetchone()
        size = (config.height, config.width) if height is None else (int(height), int(width))
        return cls(config, size)

    def describe(self) -> str:
        """E.g. ``fields of 1 channel in 0..60 on a 256x448 grid`` or ``8x8 grey pictures``."""
        low, high = self.config.value_range
        h, w = self.size
        if self.fields:
            return f"fields of {self.config.channels} channel(s) with values in {low:g}..{high:g} on a {h}x{w} grid"
        colour = "grey" if self.config.channels == 1 else "colour"
        return f"{h}x{w} {colour} pictures"


def fit_query(image: np.ndarray, collection: Collection, uri: str) -> list[str]:
    """The conversions that make ``image`` a query of ``collection``, as phrases; [] when none changes it.

    Raises
    ------
    BadInputError
        When the image cannot fit: a picture (integer pixels) or other
        channels or another grid on an atlas of fields, or values that all
        lie outside the atlas's range.
    """
    array = np.asarray(image)
    array = array[..., None] if array.ndim == 2 else array
    if array.ndim != 3:
        return []  # the preprocessor refuses this shape in its own words
    if collection.fields:
        _check_field(array, collection, uri)
    return _channels(array, collection.config) + _geometry(array.shape[:2], collection) + _values(array, collection, uri)


def _check_field(array: np.ndarray, collection: Collection, uri: str) -> None:
    h, w, c = array.shape
    want = collection.config.channels
    ask = "give a GRIB2, NetCDF or .npy field on the atlas's grid, or search by id or time"
    if array.dtype.kind != "f" or Path(uri).suffix.lower() in IMAGE_SUFFIXES:  # a reader's clip makes floats
        kind = "grey" if c == 1 else "colour"
        raise BadInputError(f"{uri}: a {kind} picture ({h}x{w}) does not fit "
                            f"this atlas of {collection.describe()}; {ask}", parameter=("id", "time"))
    if c != want:
        raise BadInputError(f"{uri}: a field of {c} channel(s) does not fit this atlas of {collection.describe()}; "
                            f"{ask}", parameter=("id", "time"))
    if _factor((h, w), collection.size) > _RESIZE:
        raise BadInputError(f"{uri}: a {h}x{w} field does not fit this atlas of {collection.describe()} (it would be "
                            f"resized {_times(_factor((h, w), collection.size))}); {ask}", parameter=("id", "time"))


def _factor(shape: tuple[int, int], reference: tuple[int, int]) -> float:
    """How many times larger or smaller ``shape`` is than ``reference`` along its more changed side."""
    return max(max(a / b, b / a) for a, b in zip(shape, reference))


def _times(factor: float) -> str:
    return f"{factor:.0f}x" if factor >= 10 else f"{factor:.1f}x"


def _channels(array: np.ndarray, config: PreprocessConfig) -> list[str]:
    have, want = array.shape[2], config.channels
    if want == 1 and have in (3, 4):
        colour = array[..., :3]
        return [] if (colour == colour[..., :1]).all() else ["colour to grey"]
    if want == 3 and have == 1:
        return ["grey to colour"]
    if want == 3 and have == 4:
        alpha = array[..., 3]
        return [] if (alpha == alpha.max()).all() else ["transparency dropped"]
    return []


def _geometry(shape: tuple[int, int], collection: Collection) -> list[str]:
    (h, w), (rh, rw) = shape, collection.size
    config = collection.config
    found = []
    if config.fit == "crop":
        ch, cw = Preprocessor(config).output_size(h, w)
        if ch * cw < 0.98 * h * w:
            found.append(f"centre-cropped {h}x{w} to {ch}x{cw}")
            h, w = ch, cw
    factor = _factor((h, w), (rh, rw))
    if factor > _RESIZE:
        way = "smaller" if h * w > rh * rw else "larger"
        found.append(f"resized {h}x{w} to {config.height}x{config.width} (the atlas's images are {rh}x{rw}: "
                     f"{_times(factor)} {way})")
    stretch = (h / w) / (rh / rw)
    if config.fit == "resize" and max(stretch, 1 / stretch) > _STRETCH:
        found.append(f"stretched from width/height {w / h:.2f} to the atlas's {rw / rh:.2f}")
    return found


def _values(array: np.ndarray, collection: Collection, uri: str) -> list[str]:
    if array.dtype.kind != "f":
        depths = ("uint8", "uint16")
        stored = collection.config.dtype
        changed = array.dtype.name != stored and array.dtype.name in depths and stored in depths
        return [f"{array.dtype.name} values scaled to {stored}"] if changed else []
    values = array[np.isfinite(array)]
    low, high = collection.config.value_range
    if values.size == 0:
        return []  # the preprocessor refuses non-finite values in its own words
    outside = float(np.mean((values < low) | (values > high)))
    if outside == 1.0:
        raise BadInputError(f"{uri}: every value ({values.min():.4g}..{values.max():.4g}) lies outside the atlas's "
                            f"range {low:g}..{high:g}; give {collection.describe()}")
    if outside > _CLIPPED:
        return [f"{outside:.0%} of the values outside {low:g}..{high:g} clipped"]
    span = (float(values.max()) - float(values.min())) / (high - low)
    if span < _NARROW:
        return [f"values {values.min():.4g}..{values.max():.4g} use {span:.1%} of the atlas's range {low:g}..{high:g}"]
    return []
