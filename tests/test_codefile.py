"""The code file format: header, sizes, and refusing what is not a whole file."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.codec.codefile import CodeHeader, file_size, header_size, pack, unpack
from latentatlas.errors import BadInputError

MODEL = "0123456789abcdef"


def _file(dtype: str, d: int = 64) -> tuple[CodeHeader, np.ndarray, bytes]:
    values = (np.arange(d) - d // 2).astype(dtype)
    header = CodeHeader(MODEL, dtype, d, 480, 640, 0xDEADBEEF if dtype == "int8" else None)
    return header, values, pack(header, values)


@pytest.mark.parametrize("dtype, size", [("float32", 23 + 256), ("float16", 23 + 128), ("int8", 27 + 64)])
def test_round_trip_and_sizes_follow_header_and_dtype(dtype, size):
    header, values, data = _file(dtype)
    assert len(data) == size == file_size(64, dtype) == header_size(dtype) + 64 * np.dtype(dtype).itemsize
    read_header, read_values = unpack(data)
    assert read_header == header
    assert read_values.dtype == np.dtype(dtype) and np.array_equal(read_values, values)


def test_large_images_and_code_sizes_fit_the_header():
    header = CodeHeader(MODEL, "float16", 1000, 100_000, 3, None)
    assert unpack(pack(header, np.zeros(1000, np.float16)))[0] == header


@pytest.mark.parametrize("cut, message", [
    (lambda b: b[:-1], r"truncated \(150 bytes; its header implies 151\)"),
    (lambda b: b[:10], "truncated"),
    (lambda b: b + b"\0", "corrupt"),
    (lambda b: b"PNG" + b[3:], "not a latentatlas code file"),
    (lambda b: b"", "not a latentatlas code file"),
    (lambda b: b[:3] + bytes([2]) + b[4:], "format version 2 is not supported"),
    (lambda b: b[:4] + bytes([9]) + b[5:], "unknown dtype code 9"),
])
def test_damaged_files_are_refused(cut, message):
    data = _file("float16")[2]
    with pytest.raises(BadInputError, match=message):
        unpack(cut(data), "x.lac")
