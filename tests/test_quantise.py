"""Code quantisation: float16 and int8 with a per-dimension scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentatlas.codec.quantise import Int8Quantiser, check_dtype, dequantise, itemsize, quantise
from latentatlas.errors import BadInputError, NotFittedError, UsageError


def test_int8_keeps_learned_codes_within_half_a_step(rng):
    codes = rng.normal(size=(200, 12)).astype(np.float32) * np.linspace(0.1, 5, 12) + np.arange(12)
    quantiser = Int8Quantiser().fit(codes)
    stored = quantise(codes, "int8", quantiser)
    assert stored.dtype == np.int8 and stored.min() >= -127 and stored.max() <= 127
    restored = dequantise(stored, "int8", quantiser)
    assert np.all(np.abs(restored - codes) <= quantiser.scale_ / 2 * 1.0001)
    assert np.abs(stored).max(axis=0).tolist() == [127] * 12  # the range is used to its ends


def test_int8_clips_beyond_the_range_and_handles_constant_dimensions():
    codes = np.array([[0.0, 3.0], [1.0, 3.0]], np.float32)
    quantiser = Int8Quantiser().fit(codes)
    assert quantiser.scale_[1] == 1.0  # a constant dimension keeps its value exactly
    outside = np.array([[5.0, 3.0], [-5.0, 3.0]], np.float32)
    assert dequantise(quantise(outside, "int8", quantiser), "int8", quantiser).tolist() == [[1.0, 3.0], [0.0, 3.0]]


def test_int8_table_survives_json_and_its_tag_names_it(rng):
    quantiser = Int8Quantiser().fit(rng.normal(size=(50, 8)))
    again = Int8Quantiser.from_dict(json.loads(json.dumps(quantiser.to_dict())))
    assert np.array_equal(again.offset_, quantiser.offset_) and np.array_equal(again.scale_, quantiser.scale_)
    assert again.tag == quantiser.tag
    assert Int8Quantiser().fit(rng.normal(size=(50, 8))).tag != quantiser.tag


def test_float16_is_within_half_precision(rng):
    codes = rng.normal(size=(20, 16)).astype(np.float32) * 10
    restored = dequantise(quantise(codes, "float16"), "float16")
    assert restored.dtype == np.float32
    assert np.all(np.abs(restored - codes) <= np.abs(codes) * 2.0**-11 + 1e-7)
    assert np.array_equal(dequantise(quantise(codes, "float32"), "float32"), codes)


@pytest.mark.parametrize("call, error, message", [
    (lambda: check_dtype("int4"), UsageError, "dtype must be one of float32, float16, int8"),
    (lambda: quantise(np.full((1, 2), 1e6), "float16"), UsageError, "float16 range"),
    (lambda: quantise(np.zeros((1, 2)), "int8"), UsageError, "Int8Quantiser"),
    (lambda: Int8Quantiser().transform(np.zeros((1, 2))), NotFittedError, "not fitted"),
    (lambda: Int8Quantiser().fit(np.zeros((0, 2))), BadInputError, "non-empty"),
    (lambda: Int8Quantiser().fit(np.array([[np.nan]])), BadInputError, "NaN"),
    (lambda: Int8Quantiser().fit(np.zeros((3, 2))).transform(np.zeros((1, 3))), UsageError, "fitted on 2"),
])
def test_bad_parameters_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_itemsize():
    assert [itemsize(d) for d in ("float32", "float16", "int8")] == [4, 2, 1]
