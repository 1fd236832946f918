"""Reading and writing single image files (PNG, JPEG, TIFF incl. 16-bit, BMP, WebP)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError
from .options import DEFAULT_MAX_PIXELS

__all__ = ["IMAGE_SUFFIXES", "is_image_path", "read_image", "write_image", "check_regular_file"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})

# Pillow modes we can turn into an (H, W) or (H, W, C) array without guessing.
_CONVERTIBLE = {"1": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
_DIRECT = {"L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I", "F"}


def is_image_path(path: Path) -> bool:
    """Whether the file name has one of the supported image suffixes."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def check_regular_file(path: Path) -> None:
    """Refuse a path that exists but is not a regular file (a FIFO, device or socket would block or never end).

    Raises
    ------
    BadInputError
        ``"<path>: not a regular file (a FIFO, device or socket); skipped"``.
    """
    if path.exists() and not path.is_file() and not path.is_dir():
        raise BadInputError(f"{path}: not a regular file (a FIFO, device or socket); skipped")


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file into an ``(H, W)`` or ``(H, W, C)`` array.

    8-bit images give ``uint8``, 16-bit images (grey or colour) give
    ``uint16``, float TIFFs give ``float32``. Alpha is kept as a fourth
    channel; the preprocessor decides what to do with it. The size in the
    header is checked against ``max_pixels`` before any pixel is decoded.

    Raises
    ------
    BadInputError
        If the file is missing or not a regular file, not an image,
        truncated, larger than ``max_pixels`` (or Pillow's
        decompression-bomb limit), or of a mode that has no meaningful
        pixel values.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    check_regular_file(path)
    try:
        with warnings.catch_warnings():  # our own limit replaces Pillow's DecompressionBombWarning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise BadInputError(f"{path}: {width} x {height} pixels is more than the limit of "
                                    f"{max_pixels:,} (--max-pixels)")
            if _is_16bit_colour(image):
                return _read_with_opencv(path)
            image.load()
            return _to_array(image, path)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise BadInputError(f"{path}: not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise BadInputError(f"{path}: refused as a decompression bomb ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, BadInputError):
            raise
        raise BadInputError(f"{path}: corrupt or truncated image ({error})") from None


def _is_16bit_colour(image) -> bool:
    """Pillow reads 48/64-bit colour as 8-bit; spot it from the raw mode."""
    if image.mode not in ("RGB", "RGBA") or not image.tile:
        return False
    args = image.tile[0][3]
    rawmode = args if isinstance(args, str) else args[0]
    return isinstance(rawmode, str) and ";16" in rawmode


def _read_with_opencv(path: Path) -> np.ndarray:
    import cv2

    array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise BadInputError(f"{path}: corrupt or truncated 16-bit colour image")
    if array.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, code)
    return array


def _to_array(image, path: Path) -> np.ndarray:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in _CONVERTIBLE:
        image = image.convert(_CONVERTIBLE[mode])
    elif mode not in _DIRECT:
        raise BadInputError(f"{path}: unsupported image mode {mode!r}")
    array = np.asarray(image)
    if array.dtype == np.int32:  # Pillow's mode "I": 16-bit PNGs land here
        if array.min() < 0 or array.max() > 65535:
            raise BadInputError(f"{path}: 32-bit integer pixels outside 0..65535")
        array = array.astype(np.uint16)
    elif array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("="))
    if array.ndim == 3 and array.shape[2] == 2:  # LA: luminance plus alpha
        array = np.stack([array[..., 0]] * 3 + [array[..., 1]], axis=-1)
    if array.size == 0:
        raise BadInputError(f"{path}: image has no pixels")
    return np.ascontiguousarray(array)


def write_image(path: str | Path, array: np.ndarray) -> Path:
    """Write an ``(H, W)`` or ``(H, W, C)`` array as an image file.

    ``uint8`` and ``uint16`` arrays are written as they are (16-bit as PNG or
    TIFF); float arrays must already be in ``[0, 255]``. The format follows
    the suffix.
    """
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.dtype not in (np.uint8, np.uint16):
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
        array = cv2.cvtColor(array, code)
    ok, encoded = cv2.imencode(path.suffix or ".png", array)
    if not ok:
        raise BadInputError(f"{path}: cannot encode an image of {array.dtype} as {path.suffix}")
    path.write_bytes(encoded.tobytes())
    return path
