"""Augmentations: seeded, shape- and range-keeping, chosen from the data by ``auto``."""

import numpy as np
import pytest

from latentatlas.errors import UsageError
from latentatlas.models.augment import Augmentation

ALL_BATCH_STEPS = ["hflip", "vflip", "rot90", "shift", "brightness", "contrast"]


@pytest.fixture
def batch(rng):
    return rng.random((16, 3, 12, 12), dtype=np.float32)


def test_every_step_keeps_the_shape_and_the_range_and_leaves_its_input_alone(batch):
    before = batch.copy()
    for spec in ALL_BATCH_STEPS + [ALL_BATCH_STEPS]:
        out = Augmentation.parse([spec] if isinstance(spec, str) else spec)(batch, np.random.default_rng(0))
        assert out.shape == batch.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(batch, before)


def test_the_same_seed_draws_the_same_batch_and_another_seed_another(batch):
    augment = Augmentation.parse(ALL_BATCH_STEPS)
    first = augment(batch, np.random.default_rng(3))
    np.testing.assert_array_equal(first, augment(batch, np.random.default_rng(3)))
    assert not np.array_equal(first, augment(batch, np.random.default_rng(4)))


def test_flips_and_turns_move_pixels_without_changing_them(batch):
    for spec in ("hflip", "vflip", "rot90"):
        out = Augmentation.parse([spec])(batch, np.random.default_rng(1))
        np.testing.assert_allclose(np.sort(out.reshape(len(out), -1)), np.sort(batch.reshape(len(batch), -1)))
        assert not np.array_equal(out, batch)


def test_shift_moves_an_image_by_whole_pixels_within_the_bound():
    image = np.zeros((1, 1, 32, 32), np.float32)
    image[0, 0, 16, 16] = 1.0
    for seed in range(20):
        out = Augmentation.parse(["shift:0.1"])(image, np.random.default_rng(seed))
        (y,), (x,) = np.nonzero(out[0, 0])
        assert abs(y - 16) <= 3 and abs(x - 16) <= 3


def test_crop_stretches_a_window_back_to_the_input_size(rng):
    image = np.zeros((4, 3, 40, 60), np.float32)
    image[:, :, :20] = 1.0  # top half white: a window inside it stays all white, one across it is mixed
    out = Augmentation.parse(["crop:0.5"])(image, rng)
    assert out.shape == image.shape and out.min() >= 0.0 and out.max() <= 1.0
    whole = Augmentation.parse(["crop:1.0"])(image, rng)
    np.testing.assert_allclose(whole, image, atol=1e-6)  # a window of the whole image is the image


def test_auto_leaves_georeferenced_fields_alone_and_mirrors_images():
    assert not Augmentation.choose("auto", georeferenced=True, square=True)
    assert Augmentation.choose("auto", georeferenced=False, square=True).specs == ["hflip"]
    assert not Augmentation.choose("none", georeferenced=False, square=True)


def test_steps_come_in_a_fixed_order_whatever_order_they_are_given():
    assert Augmentation.parse(["contrast", "shift:0.1", "hflip"]).specs == ["hflip", "shift:0.1", "contrast:0.2"]


@pytest.mark.parametrize("specs, message", [
    (["spin"], "augmentation 'spin': unknown kind 'spin'"),
    (["shift:2"], r"FRACTION must be a number in \[0.001, 0.5\], got '2'"),
    (["hflip:1"], "hflip takes no argument"),
    (["hflip", "hflip"], "hflip given more than once"),
    (["auto", "hflip"], "'auto' or 'none' stands alone"),
])
def test_bad_specs_are_named(specs, message):
    with pytest.raises(UsageError, match=message):
        Augmentation.choose(specs, georeferenced=False, square=True)


def test_rot90_needs_square_inputs():
    with pytest.raises(UsageError, match="needs square inputs"):
        Augmentation.choose(["rot90"], georeferenced=False, square=False)
