"""Preprocessing: inferred settings, geometry, channels, value scale and its inverse."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import BadInputError, UsageError
from latentatlas.models.preprocess import PreprocessConfig, Preprocessor


def test_infer_follows_the_data():
    grey8 = [np.zeros((8, 8), np.uint8)] * 3
    config = PreprocessConfig.infer(grey8)
    assert (config.height, config.width, config.channels, config.dtype, config.value_range) == (8, 8, 1, "uint8", (0.0, 255.0))
    big_rgb = [np.zeros((480, 640, 3), np.uint8)]
    config = PreprocessConfig.infer(big_rgb)
    assert (config.height, config.width, config.channels) == (48, 64, 3)
    fields = [np.full((10, 10), -5.0, np.float32), np.full((10, 10), 60.0, np.float32)]
    assert PreprocessConfig.infer(fields).value_range == (-5.0, 60.0)
    assert PreprocessConfig.infer([np.zeros((4, 4), np.uint16)]).value_range == (0.0, 65535.0)
    assert PreprocessConfig.infer([np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)]).channels == 3
    assert PreprocessConfig.infer([np.zeros((4, 4, 5), np.float32)]).channels == 5


@pytest.mark.parametrize("kwargs, message", [
    (dict(height=2, width=8), "height must be a whole number from 4 to 8192"),
    (dict(height=8, width=8, fit="pad"), "fit must be one of resize, crop"),
    (dict(height=8, width=8, value_range=(1.0, 1.0)), "low < high"),
    (dict(height=8, width=8, channels=0), "channels must be a whole number from 1 to 4096"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(UsageError, match=message):
        PreprocessConfig(**kwargs)


def test_round_trip_of_values_is_exact_for_8bit_at_model_size(rng):
    config = PreprocessConfig(height=6, width=7, channels=3)
    pre = Preprocessor(config)
    image = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    x = pre(image)
    assert x.shape == (3, 6, 7) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(pre.inverse(x), image)


def test_float_fields_are_scaled_and_clipped_and_come_back_in_units():
    pre = Preprocessor(PreprocessConfig(height=4, width=4, channels=1, dtype="float32", value_range=(0.0, 60.0)))
    field = np.array([[-10.0, 0.0, 30.0, 90.0]] * 4, np.float32)
    x = pre(field)
    np.testing.assert_allclose(x[0, 0], [0.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(pre.inverse(x)[0], [0.0, 0.0, 30.0, 60.0])


def test_resize_and_crop_geometry():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, 50:150] = 255
    resized = Preprocessor(PreprocessConfig(height=10, width=10))(image)
    cropped = Preprocessor(PreprocessConfig(height=10, width=10, fit="crop"))(image)
    assert resized.shape == cropped.shape == (3, 10, 10)
    assert resized[:, :, 0].max() == 0.0  # the black left quarter survives a resize
    assert cropped.min() == 1.0  # the centred square window is all white
    assert Preprocessor(PreprocessConfig(height=10, width=10, fit="crop")).output_size(100, 200) == (100, 100)
    assert Preprocessor(PreprocessConfig(height=10, width=10)).output_size(100, 200) == (100, 200)


def test_inverse_can_restore_the_original_size():
    pre = Preprocessor(PreprocessConfig(height=8, width=8, channels=1))
    assert pre.inverse(np.full((1, 8, 8), 0.5, np.float32), size=(20, 30)).shape == (20, 30)


def test_channels_convert_grey_rgb_and_alpha():
    rgb = Preprocessor(PreprocessConfig(height=4, width=4, channels=3))
    grey = Preprocessor(PreprocessConfig(height=4, width=4, channels=1))
    assert rgb(np.full((4, 4), 255, np.uint8)).min() == 1.0
    assert rgb(np.zeros((4, 4, 4), np.uint8)).shape == (3, 4, 4)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert grey(red)[0, 0, 0] == pytest.approx(0.298, abs=0.005)


def test_wrong_channels_and_nan_are_refused_with_the_uri():
    fields = Preprocessor(PreprocessConfig(height=4, width=4, channels=5, dtype="float32", value_range=(0, 1)))
    with pytest.raises(BadInputError, match="f.npy#3: image has 3 channels; the model takes 5"):
        fields(np.zeros((4, 4, 3), np.float32), "f.npy#3")
    grey = Preprocessor(PreprocessConfig(height=4, width=4, channels=1, dtype="float32", value_range=(0, 1)))
    with pytest.raises(BadInputError, match="nan.npy: image contains NaN"):
        grey(np.full((4, 4), np.nan, np.float32), "nan.npy")
    with pytest.raises(BadInputError, match="expected a 2-D or 3-D image"):
        grey(np.zeros((2, 4, 4, 1), np.float32))


def test_16bit_images_into_an_8bit_model_keep_their_brightness():
    pre = Preprocessor(PreprocessConfig(height=4, width=4, channels=1))
    np.testing.assert_allclose(pre(np.full((4, 4), 65535, np.uint16)), 1.0)
    np.testing.assert_allclose(pre(np.full((4, 4), 32768, np.uint16)), 0.5, atol=1e-3)


def test_config_round_trips_through_a_dict():
    config = PreprocessConfig(height=8, width=16, channels=1, fit="crop", dtype="uint16", value_range=(0, 4095))
    assert PreprocessConfig.from_dict(config.to_dict()) == config
