"""How sources are read: which field, missing values, clipping, crop, downsampling, tiles."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import UsageError

__all__ = ["ReaderOptions", "DEFAULT_FIELD_FILL", "DEFAULT_MAX_PIXELS"]

DEFAULT_FIELD_FILL = 0.0
DEFAULT_MAX_PIXELS = 100_000_000  # 100 megapixels: 300 MB as 8-bit RGB, well past any camera


@dataclass(frozen=True)
class ReaderOptions:
    """Settings that turn the files of a source into the arrays a model sees.

    Parameters
    ----------
    variables : tuple of str
        GRIB short names or NetCDF variable names to read (GRIB/NetCDF only);
        several are stacked as channels in the order given. Empty: the
        file's only variable.
    filters : tuple of (key, value)
        Extra GRIB keys a message must have (``typeOfLevel=atmosphere``),
        as cfgrib's ``filter_by_keys``.
    fill : float, optional
        The value NaN and missing points become. None: 0 (0 dBZ for
        radar) for GRIB/NetCDF fields; other sources keep NaN, which the
        model refuses.
    clip : (float, float), optional
        Values below the first become the first, above the second the
        second (``(0, 60)`` for dBZ). Also the default value range that
        ``fit`` maps to 0..1, so decoded fields come back in these units.
    crop : (int, int, int, int), optional
        ``(top, left, height, width)`` in pixels of the image as read (for
        fields: north up), applied before ``scale``.
    scale : float
        Downsampling factor (``0.25`` keeps every fourth pixel's worth,
        area-averaged); 1 keeps the size.
    tile : int, optional
        Cut every image into ``tile`` x ``tile`` tiles, one record each.
    stride : int, optional
        Step between tiles (default ``tile``: no overlap). The last row and
        column of tiles are moved in to end at the edge, so tiles always
        cover the whole image.
    max_pixels : int
        Image files whose header claims more pixels than this are refused
        before decoding (listed as failures), so a small file cannot make
        the reader allocate gigabytes.
    """

    variables: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    fill: float | None = None
    clip: tuple[float, float] | None = None
    crop: tuple[int, int, int, int] | None = None
    scale: float = 1.0
    tile: int | None = None
    stride: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(str(v) for v in self.variables))
        object.__setattr__(self, "filters", tuple((str(k), str(v)) for k, v in self.filters))
        if self.fill is not None and not math.isfinite(self.fill):
            raise UsageError(f"fill must be a finite number, got {self.fill}", parameter="fill")
        if self.clip is not None:
            low, high = (float(x) for x in self.clip)
            if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
                raise UsageError(f"clip must be two finite numbers LOW < HIGH, got {self.clip}", parameter="clip")
            object.__setattr__(self, "clip", (low, high))
        if self.crop is not None:
            crop = tuple(int(x) for x in self.crop)
            if len(crop) != 4 or crop[0] < 0 or crop[1] < 0 or crop[2] < 1 or crop[3] < 1:
                raise UsageError(f"crop must be TOP,LEFT,HEIGHT,WIDTH with HEIGHT, WIDTH >= 1, got {self.crop}",
                                 parameter="crop")
            object.__setattr__(self, "crop", crop)
        if not (0.0 < self.scale <= 1.0):
            raise UsageError(f"scale must be in (0, 1], got {self.scale}", parameter="scale")
        if self.tile is not None and self.tile < 4:
            raise UsageError(f"tile must be at least 4 pixels, got {self.tile}", parameter="tile")
        if int(self.max_pixels) != self.max_pixels or self.max_pixels < 1:
            raise UsageError(f"max_pixels must be a whole number >= 1, got {self.max_pixels}", parameter="max_pixels")
        object.__setattr__(self, "max_pixels", int(self.max_pixels))
        if self.stride is not None and (self.tile is None or not 1 <= self.stride):
            raise UsageError("stride needs a tile size and must be >= 1"
                             + ("" if self.tile is None else f", got {self.stride}"), parameter="stride")

    @property
    def transforms_pixels(self) -> bool:
        """Whether any of fill, clip, crop or scale changes the pixels of every source."""
        return self.fill is not None or self.clip is not None or self.crop is not None or self.scale != 1.0

    def field_fill(self) -> float:
        """The fill GRIB and NetCDF readers use for missing points."""
        return DEFAULT_FIELD_FILL if self.fill is None else self.fill

    def digest(self) -> str:
        """A short hash of the settings that change pixels, mixed into record hashes."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("tile", "stride", "max_pixels")}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in the atlas's settings."""
        data = asdict(self)
        data["filters"] = [list(pair) for pair in self.filters]
        for key in ("variables", "clip", "crop"):
            data[key] = None if data[key] is None else list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ReaderOptions":
        """Inverse of :meth:`to_dict`; None gives the defaults."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("variables", "filters", "clip", "crop"):
            if values.get(key) is not None:
                values[key] = tuple(tuple(x) if isinstance(x, list) else x for x in values[key])
        return cls(**values)

    def updated(self, **changes: Any) -> "ReaderOptions":
        """A copy with ``changes`` applied (unknown names raise :class:`UsageError`)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise UsageError(f"unknown reader option(s) {', '.join(unknown)}")
        return replace(self, **changes)
