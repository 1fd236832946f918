"""Corruptions: seeded, composable, the right shape and range, and clear refusals of bad specs."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import UsageError
from latentatlas.models import Corruption

SPECS = ["noise:0.1", "saltpepper:0.05", "mask:box", "mask:lines", "mask:crosshair", "gray", "downsample:4", "jpeg:20"]


@pytest.fixture()
def batch() -> np.ndarray:
    """Four smooth 3-channel 32x32 images in [0, 1]."""
    rows, cols = np.mgrid[0:32, 0:32] / 31.0
    image = np.stack([rows, cols, 0.5 * (rows + cols)]).astype(np.float32)
    return np.stack([image, image[::-1], image[:, ::-1], 1.0 - image])


@pytest.mark.parametrize("spec", SPECS)
def test_each_corruption_is_seeded_and_keeps_shape_and_range(spec, batch):
    corruption = Corruption.parse([spec])
    first = corruption(batch, np.random.default_rng(7))
    again = corruption(batch, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    channels = 1 if spec == "gray" else 3
    assert first.shape == (4, channels, 32, 32) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert not np.allclose(first, batch[:, :channels])
    if spec in ("noise:0.1", "saltpepper:0.05", "mask:box", "mask:lines", "mask:crosshair"):
        other = corruption(batch, np.random.default_rng(8))
        assert not np.array_equal(first, other)


def test_specs_round_trip_and_compose_in_order(batch):
    corruption = Corruption.parse(["mask:crosshair", " noise:0.05 ", "JPEG:30"])
    assert corruption.specs == ["mask:crosshair", "noise:0.05", "jpeg:30"]
    assert Corruption.parse(corruption.specs) == corruption and str(corruption) == "mask:crosshair then noise:0.05 then jpeg:30"
    assert corruption.kinds() == {"mask", "noise", "jpeg"} and corruption.step("noise").sigma == 0.05
    assert not Corruption.parse([]) and str(Corruption()) == "none"
    out = corruption.corrupt(batch, np.random.default_rng(0))
    assert out.damaged.shape == (4, 32, 32) and 0 < out.damaged.mean() < 0.5


def test_noise_has_its_sigma_and_masks_are_black(batch):
    grey = np.full((64, 3, 16, 16), 0.5, np.float32)
    noisy = Corruption.parse(["noise:0.1"])(grey, np.random.default_rng(0))
    assert abs(float(np.std(noisy - grey)) - 0.1) < 0.005
    masked = Corruption.parse(["mask:box"]).corrupt(batch, np.random.default_rng(0))
    assert (masked.inputs.transpose(1, 0, 2, 3)[:, masked.damaged] == 0).all()
    np.testing.assert_array_equal(masked.inputs.transpose(1, 0, 2, 3)[:, ~masked.damaged],
                                  batch.transpose(1, 0, 2, 3)[:, ~masked.damaged])


def test_downsample_makes_blocks_and_gray_uses_luma(batch):
    small = Corruption.parse(["downsample:4"])(batch, np.random.default_rng(0))
    blocks = small.reshape(4, 3, 8, 4, 8, 4)
    assert np.allclose(blocks, blocks[:, :, :, :1, :, :1])
    np.testing.assert_allclose(blocks[:, :, :, 0, :, 0], batch.reshape(4, 3, 8, 4, 8, 4).mean(axis=(3, 5)), atol=1e-6)
    grey = Corruption.parse(["gray"])(batch, np.random.default_rng(0))
    np.testing.assert_allclose(grey[:, 0], 0.299 * batch[:, 0] + 0.587 * batch[:, 1] + 0.114 * batch[:, 2], atol=1e-6)


@pytest.mark.parametrize("spec, message", [
    ("blur:3", "unknown kind 'blur'"),
    ("noise", "needs SIGMA"),
    ("noise:lots", "SIGMA must be a number in"),
    ("noise:2", "SIGMA must be a number in"),
    ("mask:star", "mask shape must be one of box, lines, crosshair"),
    ("downsample:1.5", "FACTOR must be a whole number in [2, 64]"),
    ("jpeg:0", "QUALITY must be a whole number in [1, 100]"),
    ("gray:2", "gray takes no argument"),
])
def test_bad_specs_name_the_spec_and_the_known_kinds(spec, message):
    with pytest.raises(UsageError) as error:
        Corruption.parse([spec])
    text = str(error.value)
    assert message in text and f"corruption {spec!r}" in text and "known: noise:SIGMA" in text


def test_channel_rules():
    assert Corruption.parse(["gray", "noise:0.1"]).input_channels(3) == 1
    assert Corruption.parse(["noise:0.1"]).input_channels(5) == 5
    with pytest.raises(UsageError, match="'gray' needs 3-channel"):
        Corruption.parse(["gray"]).input_channels(1)
    with pytest.raises(UsageError, match="'jpeg:20' needs 1 or 3 channels"):
        Corruption.parse(["jpeg:20"]).input_channels(4)
