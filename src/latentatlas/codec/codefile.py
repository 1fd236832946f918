"""The compressed-image file: a small versioned header and one quantised code.

::

    offset  bytes  field
    0       3      magic b"LAC"
    3       1      format version (1)
    4       1      dtype: 0 float32, 1 float16, 2 int8
    5       8      model fingerprint (the 16 hex digits as 8 bytes)
    13      2      code size d                        (little-endian uint16)
    15      4      original height in pixels          (little-endian uint32)
    19      4      original width in pixels           (little-endian uint32)
    23      4      int8 only: CRC-32 of the scale table (little-endian uint32)
    23|27   d*s    the code, s = 4, 2 or 1 bytes a number, little-endian

A file is exactly ``header_size(dtype) + d * itemsize(dtype)`` bytes: a
float16 code of 64 numbers takes 151 bytes. The fingerprint names the model
by a hash of its weights and configuration, so a file is only ever decoded
by the model that made it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import BadInputError
from .quantise import DTYPES, check_dtype, itemsize

__all__ = ["MAGIC", "VERSION", "SUFFIX", "CodeHeader", "header_size", "file_size", "pack", "unpack"]

MAGIC = b"LAC"
VERSION = 1
SUFFIX = ".lac"
_HEADER = struct.Struct("<3sBB8sHII")
_TAG = struct.Struct("<I")
_MAX_CODE_SIZE = 0xFFFF
_MAX_SIDE = 0xFFFFFFFF


@dataclass(frozen=True)
class CodeHeader:
    """What a file says about its code.

    Parameters
    ----------
    model : str
        Fingerprint (16 hex digits) of the model that made the code.
    dtype : {"float32", "float16", "int8"}
    code_size : int
    height, width : int
        The original image's size.
    int8_tag : int, optional
        CRC-32 of the int8 scale table (int8 files only).
    """

    model: str
    dtype: str
    code_size: int
    height: int
    width: int
    int8_tag: int | None = None

    def __post_init__(self) -> None:
        check_dtype(self.dtype)
        if (self.dtype == "int8") != (self.int8_tag is not None):
            raise ValueError("int8 files carry the scale table's tag, and only they do")
        if not 1 <= self.code_size <= _MAX_CODE_SIZE:
            raise ValueError(f"code size must be in 1..{_MAX_CODE_SIZE}, got {self.code_size}")
        if not (0 < self.height <= _MAX_SIDE and 0 < self.width <= _MAX_SIDE):
            raise ValueError(f"image size must be positive and below 2^32, got {self.height}x{self.width}")


def header_size(dtype: str) -> int:
    """Bytes of the header of a file of ``dtype``."""
    return _HEADER.size + (_TAG.size if check_dtype(dtype) == "int8" else 0)


def file_size(code_size: int, dtype: str) -> int:
    """Bytes of a file holding a code of ``code_size`` numbers in ``dtype``."""
    return header_size(dtype) + code_size * itemsize(dtype)


def pack(header: CodeHeader, values: np.ndarray) -> bytes:
    """The file's bytes for a quantised code (already of ``header.dtype``)."""
    values = np.asarray(values).reshape(-1)
    if values.dtype != np.dtype(header.dtype) or len(values) != header.code_size:
        raise ValueError(f"expected {header.code_size} values of {header.dtype}, got {len(values)} of {values.dtype}")
    head = _HEADER.pack(MAGIC, VERSION, DTYPES.index(header.dtype), bytes.fromhex(header.model),
                        header.code_size, header.height, header.width)
    if header.int8_tag is not None:
        head += _TAG.pack(header.int8_tag)
    return head + values.astype(values.dtype.newbyteorder("<")).tobytes()


def unpack(data: bytes, name: str = "code file") -> tuple[CodeHeader, np.ndarray]:
    """Read a file's header and its quantised code.

    Raises
    ------
    BadInputError
        If the bytes are not a code file, of an unknown version, truncated
        or followed by extra bytes. ``name`` starts the message.
    """
    if len(data) < _HEADER.size:
        if data[:len(MAGIC)] == MAGIC[:len(data)] and data:
            raise BadInputError(f"{name}: truncated ({len(data)} bytes, shorter than the {_HEADER.size}-byte header)")
        raise BadInputError(f"{name}: not a latentatlas code file (too short, {len(data)} bytes)")
    magic, version, dtype_code, model, code_size, height, width = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BadInputError(f"{name}: not a latentatlas code file (no {MAGIC.decode()} signature)")
    if version != VERSION:
        raise BadInputError(f"{name}: code file format version {version} is not supported (this latentatlas reads {VERSION})")
    if dtype_code >= len(DTYPES):
        raise BadInputError(f"{name}: corrupt header (unknown dtype code {dtype_code})")
    dtype = DTYPES[dtype_code]
    expected = file_size(code_size, dtype)
    if len(data) < expected:
        raise BadInputError(f"{name}: truncated ({len(data)} bytes; its header implies {expected})")
    if len(data) > expected:
        raise BadInputError(f"{name}: corrupt ({len(data)} bytes; its header implies {expected})")
    tag = _TAG.unpack_from(data, _HEADER.size)[0] if dtype == "int8" else None
    try:
        header = CodeHeader(model.hex(), dtype, code_size, height, width, tag)
    except ValueError as error:
        raise BadInputError(f"{name}: corrupt header ({error})") from None
    values = np.frombuffer(data, np.dtype(dtype).newbyteorder("<"), code_size, header_size(dtype))
    return header, values.astype(np.dtype(dtype))
