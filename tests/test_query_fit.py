"""A query must fit the atlas it searches: pictures refused by an atlas of fields, conversions reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentatlas.errors import BadInputError
from latentatlas.models.preprocess import PreprocessConfig
from latentatlas.ops.query_fit import Collection, fit_query


def test_a_field_atlas_refuses_a_colour_picture_in_one_line(cli, radar_atlas, tmp_path, error_line):
    picture = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 500, 3), np.uint8)).save(picture)
    line = error_line(cli("search", "--atlas", radar_atlas, picture), 1)
    assert line == (f"Error: {picture}: a colour picture (300x500) does not fit this atlas of fields of 1 channel(s) "
                    "with values in 0..60 on a 32x56 grid; give a GRIB2, NetCDF or .npy field on the atlas's grid, "
                    "or search by --id or --time")


def test_a_field_atlas_refuses_another_grid_and_finds_its_own_field(cli, radar_atlas, radar_npy, tmp_path, error_line):
    small = tmp_path / "small.npy"
    np.save(small, np.full((7, 9), 20, np.float32))
    assert "a 7x9 field does not fit this atlas" in error_line(cli("search", "--atlas", radar_atlas, small), 1)
    own = tmp_path / "hour4.npy"
    np.save(own, np.load(radar_npy)[4])
    found = json.loads(cli("search", "--atlas", radar_atlas, own, "-k", "1", "--json").stdout)
    assert found["query"]["conversions"] == [] and found["results"][0]["id"] == 4


def test_a_digits_atlas_reports_the_grey_and_the_resize(cli, digits_atlas, tmp_path):
    picture = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(picture)
    found = json.loads(cli("search", "--atlas", digits_atlas, picture, "-k", "2", "--json").stdout)
    assert found["query"]["conversions"] == ["colour to grey", "resized 40x40 to 8x8 (the atlas's images are 8x8: 5.0x smaller)"]
    text = cli("search", "--atlas", digits_atlas, picture, "-k", "2")
    assert text.exit_code == 0 and ("Note: the query was changed to fit the atlas: colour to grey; resized 40x40 to 8x8"
                                    in text.stderr)


@pytest.mark.parametrize("shape, fit, expected", [
    ((16, 16, 3), "resize", ["colour to grey"]),
    ((16, 32), "crop", ["centre-cropped 16x32 to 16x16"]),
    ((16, 40), "resize", ["resized 16x40 to 8x8 (the atlas's images are 16x16: 2.5x smaller)",
                          "stretched from width/height 2.50 to the atlas's 1.00"]),
    ((4, 4), "resize", ["resized 4x4 to 8x8 (the atlas's images are 16x16: 4.0x larger)"]),
])
def test_conversions_are_named(shape, fit, expected):
    image = np.zeros(shape, np.uint8)
    if len(shape) == 3:
        image[..., 0] = 200  # a red picture
    collection = Collection(PreprocessConfig(8, 8, channels=1, fit=fit), (16, 16))
    assert fit_query(image, collection, "q.png") == expected


def test_values_outside_the_range_are_reported_or_refused():
    collection = Collection(PreprocessConfig(8, 8, channels=1, dtype="float32", value_range=(0, 60)), (8, 8))
    assert fit_query(np.linspace(-30, 60, 64, dtype=np.float32).reshape(8, 8), collection, "q.npy") == [
        "33% of the values outside 0..60 clipped"]
    with pytest.raises(BadInputError, match=r"q.npy: every value \(100..200\) lies outside the atlas's range 0..60"):
        fit_query(np.linspace(100, 200, 64, dtype=np.float32).reshape(8, 8), collection, "q.npy")
