"""Storing codes in fewer bytes: float32, float16, or int8 with a per-dimension scale.

::

    float32   the code as the model makes it                     4 bytes a number
    float16   rounded to half precision (relative error < 2⁻¹¹)  2 bytes a number
    int8      q = round((x - offset) / scale) in -127..127        1 byte a number

The int8 offset and scale of each dimension are learned from a set of codes
(the atlas's embeddings): the midpoint and half-width of each dimension's
range map to 0 and 127, so every learned code is kept within half a step and
values beyond the range are clipped to it.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..errors import BadInputError, NotFittedError, UsageError

__all__ = ["DTYPES", "check_dtype", "itemsize", "Int8Quantiser", "quantise", "dequantise"]

DTYPES = ("float32", "float16", "int8")
_INT8_MAX = 127
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def check_dtype(dtype: str) -> str:
    """Return ``dtype`` if it is one of :data:`DTYPES`, else raise :class:`UsageError`."""
    if dtype not in DTYPES:
        raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def itemsize(dtype: str) -> int:
    """Bytes per number of a stored code."""
    return np.dtype(check_dtype(dtype)).itemsize


class Int8Quantiser:
    """Per-dimension affine quantisation of codes to int8, learned from example codes.

    Follows the scikit-learn estimator contract: :meth:`fit` learns
    ``offset_`` and ``scale_`` (shape ``(d,)``, float32); :meth:`transform`
    gives int8 codes; :meth:`inverse_transform` float32 codes again.

    Examples
    --------
    >>> q = Int8Quantiser().fit(np.array([[0.0, -1.0], [2.0, 1.0]]))
    >>> q.transform(np.array([[1.0, 1.0]])).tolist()
    [[0, 127]]
    """

    def fit(self, codes: np.ndarray) -> "Int8Quantiser":
        """Learn each dimension's range from ``codes`` of shape ``(n, d)``.

        Raises
        ------
        BadInputError
            If there are no codes or they contain NaN or infinite values.
        """
        codes = np.asarray(codes, np.float64)
        if codes.ndim != 2 or len(codes) == 0:
            raise BadInputError(f"need a non-empty (n, d) matrix of codes to learn the int8 scale, got shape {codes.shape}")
        if not np.isfinite(codes).all():
            raise BadInputError("codes contain NaN or infinite values; cannot learn the int8 scale")
        low, high = codes.min(axis=0), codes.max(axis=0)
        self.offset_ = ((low + high) / 2).astype(np.float32)
        half_range = (high - low) / 2
        self.scale_ = np.where(half_range > 0, half_range / _INT8_MAX, 1.0).astype(np.float32)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scale_"):
            raise NotFittedError("this Int8Quantiser is not fitted yet; call fit(codes) first")

    @property
    def code_size(self) -> int:
        """Numbers per code."""
        self._check_fitted()
        return len(self.scale_)

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """Codes ``(n, d)`` to int8 ``(n, d)``; values beyond the learned range are clipped."""
        self._check_fitted()
        codes = np.asarray(codes, np.float32)
        if codes.shape[-1] != self.code_size:
            raise UsageError(f"codes have {codes.shape[-1]} numbers; the quantiser was fitted on {self.code_size}")
        steps = np.rint((codes - self.offset_) / self.scale_)
        return np.clip(steps, -_INT8_MAX, _INT8_MAX).astype(np.int8)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """int8 codes ``(n, d)`` back to float32."""
        self._check_fitted()
        return (np.asarray(values, np.float32) * self.scale_ + self.offset_).astype(np.float32)

    @property
    def tag(self) -> int:
        """CRC-32 of the offsets and scales: identifies this table in int8 files."""
        self._check_fitted()
        return zlib.crc32(self.offset_.tobytes() + self.scale_.tobytes())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (float32 values survive the round trip exactly)."""
        self._check_fitted()
        return {"offset": self.offset_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Int8Quantiser":
        """Inverse of :meth:`to_dict`."""
        quantiser = cls()
        quantiser.offset_ = np.asarray(data["offset"], np.float32)
        quantiser.scale_ = np.asarray(data["scale"], np.float32)
        if quantiser.offset_.shape != quantiser.scale_.shape or quantiser.offset_.ndim != 1:
            raise BadInputError("int8 scale table: offset and scale must be lists of the same length")
        return quantiser


def quantise(codes: np.ndarray, dtype: str, int8: Int8Quantiser | None = None) -> np.ndarray:
    """Codes ``(n, d)`` float32 to their stored form in ``dtype``.

    Raises
    ------
    UsageError
        For int8 without a fitted quantiser, or float16 with values beyond
        its range (±65504).
    """
    check_dtype(dtype)
    codes = np.asarray(codes, np.float32)
    if dtype == "float32":
        return codes
    if dtype == "float16":
        if np.abs(codes).max(initial=0.0) > _FLOAT16_MAX:
            raise UsageError("codes exceed the float16 range (±65504); use dtype float32", parameter="dtype")
        return codes.astype(np.float16)
    if int8 is None:
        raise UsageError("int8 codes need a fitted Int8Quantiser")
    return int8.transform(codes)


def dequantise(values: np.ndarray, dtype: str, int8: Int8Quantiser | None = None) -> np.ndarray:
    """Stored codes back to float32; the inverse of :func:`quantise`."""
    check_dtype(dtype)
    if dtype == "int8":
        if int8 is None:
            raise UsageError("int8 codes need a fitted Int8Quantiser")
        return int8.inverse_transform(values)
    return np.asarray(values, np.float32)
