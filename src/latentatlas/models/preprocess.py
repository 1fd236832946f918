"""Preprocessing stored with the model: shape, channels, value scale, and the inverse.

The model sees ``(C, H, W)`` float32 arrays in ``[0, 1]``. The preprocessor
maps any image of the collection there (resize or centre-crop, grey/colour
conversion, value scaling) and maps model outputs back to the collection's
units, so a decoded image can be written or compared like an original.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from ..checks import MAX_CHANNELS, MAX_SIDE, whole_number
from ..errors import BadInputError, UsageError

__all__ = ["PreprocessConfig", "Preprocessor", "DEFAULT_MAX_SIDE", "LUMA"]

DEFAULT_MAX_SIDE = 64
LUMA = (0.299, 0.587, 0.114)  # weights of R, G, B in grey (ITU-R BT.601)
_FITS = ("resize", "crop")
_INTEGER_RANGES = {"uint8": (0.0, 255.0), "uint16": (0.0, 65535.0), "bool": (0.0, 1.0)}


@dataclass(frozen=True)
class PreprocessConfig:
    """How images of one collection become model inputs.

    Parameters
    ----------
    height, width : int
        The model's input size in pixels.
    channels : int
        1 (grey), 3 (RGB) or N stacked fields.
    fit : {"resize", "crop"}
        ``resize`` stretches the whole image to the input size;
        ``crop`` takes the largest centred window of the input's aspect
        ratio first, then resizes it.
    dtype : str
        The collection's pixel type; decoded images come back in it.
    value_range : (float, float)
        The values mapped to 0 and 1 (e.g. ``(0, 255)`` for 8-bit images,
        ``(0, 60)`` for radar dBZ). Values outside are clipped.
    """

    height: int
    width: int
    channels: int = 3
    fit: str = "resize"
    dtype: str = "uint8"
    value_range: tuple[float, float] = (0.0, 255.0)

    def __post_init__(self) -> None:
        for name, low, high in (("height", 4, MAX_SIDE), ("width", 4, MAX_SIDE), ("channels", 1, MAX_CHANNELS)):
            object.__setattr__(self, name, whole_number(name, getattr(self, name), low, high))
        if self.fit not in _FITS:
            raise UsageError(f"fit must be one of {', '.join(_FITS)}, got {self.fit!r}")
        low, high = self.value_range
        if not np.isfinite([low, high]).all() or high <= low:
            raise UsageError(f"value range must be two finite numbers low < high, got {self.value_range}")
        object.__setattr__(self, "value_range", (float(low), float(high)))

    @property
    def holds_fields(self) -> bool:
        """Whether the collection is physical fields (radar dBZ and the like, read as floats), not pictures."""
        return np.dtype(self.dtype).kind == "f"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in ``model/config.json``."""
        return {**asdict(self), "value_range": list(self.value_range)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PreprocessConfig":
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "value_range": tuple(data["value_range"])})

    @classmethod
    def infer(
        cls,
        images: Sequence[np.ndarray],
        size: int | tuple[int, int] | None = None,
        channels: int | None = None,
        fit: str = "resize",
        value_range: tuple[float, float] | None = None,
    ) -> "PreprocessConfig":
        """Choose settings from a sample of the collection's images.

        Unset parameters follow the data: the median image size (scaled so
        the longer side is at most 64 and rounded to a multiple of 8 beyond
        that), 1 channel if every image is grey else 3 (or the images' own
        channel count for stacked fields), and the dtype's full range (or the
        data's finite min and max for floats).
        """
        if not images:
            raise BadInputError("no images to infer preprocessing from")
        height, width = _choose_size(images, size)
        dtype = _collection_dtype(images)
        return cls(
            height=height,
            width=width,
            channels=channels or _choose_channels(images),
            fit=fit,
            dtype=dtype,
            value_range=value_range or _choose_range(images, dtype),
        )


class Preprocessor:
    """Maps images to model inputs and model outputs back to images.

    Parameters
    ----------
    config : PreprocessConfig
    """

    def __init__(self, config: PreprocessConfig):
        self.config = config

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one model input."""
        c = self.config
        return c.channels, c.height, c.width

    def __call__(self, image: np.ndarray, uri: str = "image") -> np.ndarray:
        """One image, ``(H, W)`` or ``(H, W, C)``, to a ``(C, H, W)`` float32 array in [0, 1]."""
        array = self._geometry(self._scale(self._channels(np.asarray(image), uri), uri))
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def native(self, image: np.ndarray, uri: str = "image") -> np.ndarray:
        """One image to ``(C, h, w)`` float32 in [0, 1] at its own size: channels and value scale only."""
        array = self._scale(self._channels(np.asarray(image), uri), uri)
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def batch(self, images: Sequence[np.ndarray], uris: Sequence[str] | None = None) -> np.ndarray:
        """Several images to one ``(N, C, H, W)`` float32 array."""
        uris = uris or ["image"] * len(images)
        out = np.empty((len(images), *self.input_shape), np.float32)
        for i, (image, uri) in enumerate(zip(images, uris)):
            out[i] = self(image, uri)
        return out

    def inverse(self, x: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Model output ``(C, H, W)`` in [0, 1] to an image in the collection's units.

        ``size`` (height, width) resizes the result, e.g. back to the
        original size of a resized image. Grey images come back ``(H, W)``.
        """
        import cv2

        low, high = self.config.value_range
        image = np.clip(np.asarray(x, np.float32), 0.0, 1.0).transpose(1, 2, 0)
        image = image * (high - low) + low
        if size is not None and tuple(size) != image.shape[:2]:
            image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_CUBIC).reshape(*size, -1)
        image = image[..., 0] if image.shape[2] == 1 else image
        dtype = np.dtype(self.config.dtype)
        if dtype.kind in "ub":
            return np.clip(np.rint(image), low, high).astype(dtype)
        return image.astype(np.float32)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Size to decode an image of ``height`` x ``width`` back to.

        The whole image for ``resize``; the centred window for ``crop``.
        """
        if self.config.fit == "resize":
            return height, width
        return _crop_box(height, width, self.config.height / self.config.width)[2:]

    def _channels(self, array: np.ndarray, uri: str) -> np.ndarray:
        want = self.config.channels
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3:
            raise BadInputError(f"{uri}: expected a 2-D or 3-D image, got shape {array.shape}")
        have = array.shape[2]
        if have == want:
            return array
        if want == 3 and have in (1, 4):
            return array[..., :3] if have == 4 else np.repeat(array, 3, axis=2)
        if want == 1 and have in (3, 4):
            weights = np.array(LUMA, np.float32)
            return (array[..., :3].astype(np.float32) @ weights)[..., None].astype(array.dtype)
        raise BadInputError(f"{uri}: image has {have} channels; the model takes {want}")

    def _scale(self, array: np.ndarray, uri: str) -> np.ndarray:
        low, high = self.config.value_range
        own = array.dtype.name
        if own in _INTEGER_RANGES and own != self.config.dtype and self.config.dtype in _INTEGER_RANGES:
            array = array.astype(np.float32) * (high / _INTEGER_RANGES[own][1])
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise BadInputError(f"{uri}: image contains NaN or infinite values")
        return np.clip((array - low) / (high - low), 0.0, 1.0)

    def _geometry(self, array: np.ndarray) -> np.ndarray:
        import cv2

        height, width = self.config.height, self.config.width
        if self.config.fit == "crop":
            top, left, h, w = _crop_box(*array.shape[:2], height / width)
            array = array[top:top + h, left:left + w]
        if array.shape[:2] == (height, width):
            return array
        shrinking = array.shape[0] >= height and array.shape[1] >= width
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        channels = array.shape[2]
        resized = cv2.resize(array, (width, height), interpolation=interpolation)
        return resized.reshape(height, width, channels)


def _crop_box(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """(top, left, h, w) of the largest centred window with h / w == aspect."""
    h, w = height, int(round(height / aspect))
    if w > width:
        w, h = width, int(round(width * aspect))
    h, w = max(1, min(h, height)), max(1, min(w, width))
    return (height - h) // 2, (width - w) // 2, h, w


def _choose_size(images: Sequence[np.ndarray], size: int | tuple[int, int] | None) -> tuple[int, int]:
    if size is not None:
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    height = int(np.median([im.shape[0] for im in images]))
    width = int(np.median([im.shape[1] for im in images]))
    longest = max(height, width)
    if longest <= DEFAULT_MAX_SIDE:
        return height, width
    scale = DEFAULT_MAX_SIDE / longest
    return (max(8, int(round(height * scale / 8)) * 8), max(8, int(round(width * scale / 8)) * 8))


def _choose_channels(images: Sequence[np.ndarray]) -> int:
    counts = {1 if im.ndim == 2 else im.shape[2] for im in images}
    if counts <= {1}:
        return 1
    if counts <= {1, 3, 4}:
        return 3
    if len(counts) == 1:
        return counts.pop()
    raise BadInputError(f"images have mixed channel counts {sorted(counts)}; set channels explicitly")


def _collection_dtype(images: Sequence[np.ndarray]) -> str:
    kinds = {im.dtype.name for im in images}
    for name in ("uint16", "uint8", "bool"):
        if name in kinds and kinds <= set(_INTEGER_RANGES):
            return name
    return "float32"


def _choose_range(images: Sequence[np.ndarray], dtype: str) -> tuple[float, float]:
    if dtype in _INTEGER_RANGES:
        return _INTEGER_RANGES[dtype]
    finite = [im[np.isfinite(im)] for im in images]  # NaN and inf items are skipped later, not scaled to
    finite = [values for values in finite if values.size]
    if not finite:
        raise BadInputError("no finite pixel values to infer the value range from")
    low = min(float(values.min()) for values in finite)
    high = max(float(values.max()) for values in finite)
    return (low, high) if high > low else (low, low + 1.0)
