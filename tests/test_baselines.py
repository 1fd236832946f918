"""Baselines: PCA with the same number of numbers, JPEG/WebP matched to a byte budget."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.baselines.codec import LinearCodec, decode_image, encode_image, match_quality, quality_sweep
from latentatlas.errors import UsageError
from latentatlas.models import AutoencoderConfig, LatentModel
from latentatlas.models.preprocess import PreprocessConfig


def test_pca_reconstructs_low_rank_images_and_matches_scikit_learn(rng):
    from sklearn.decomposition import PCA

    basis = rng.random((3, 1 * 6 * 6))
    inputs = (0.2 + 0.2 * rng.random((40, 3)) @ basis / basis.sum(1).max()).reshape(40, 1, 6, 6).astype(np.float32)
    exact = LinearCodec.fit(inputs, code_size=3)
    assert np.allclose(exact.decode(exact.encode(inputs)), inputs, atol=1e-5)
    two = LinearCodec.fit(inputs, code_size=2)
    reference = PCA(2).fit(inputs.reshape(40, -1))
    expected = reference.inverse_transform(reference.transform(inputs.reshape(40, -1))).reshape(inputs.shape)
    assert np.allclose(two.decode(two.encode(inputs)), np.clip(expected, 0, 1), atol=1e-5)


def test_pca_pads_when_there_are_fewer_images_than_numbers(rng):
    inputs = rng.random((5, 1, 4, 4)).astype(np.float32)
    codec = LinearCodec.fit(inputs, code_size=8)
    codes = codec.encode(inputs)
    assert codes.shape == (5, 8) and np.all(codes[:, 5:] == 0)
    assert np.allclose(codec.decode(codes), inputs, atol=1e-5)  # 5 images span at most 5 directions


def test_linear_path_of_a_model_is_its_pca_and_plain_models_have_none():
    preprocess = PreprocessConfig(height=8, width=8, channels=1)
    plain = LatentModel.create(AutoencoderConfig(1, 1, 8, 8, code_size=4, linear_path=False, output="sigmoid"), preprocess)
    with pytest.raises(UsageError, match="no linear \\(PCA\\) path; give the images it was trained on"):
        LinearCodec.from_model(plain)
    linear = LinearCodec.from_model(LatentModel.create(AutoencoderConfig(1, 1, 8, 8, code_size=4), preprocess))
    assert linear.code_size == 4 and linear.shape == (1, 8, 8) and linear.encoder.shape == (4, 64)


@pytest.mark.parametrize("sizes, target, expected", [
    ({1: 100, 2: 120, 3: 150}, 130, (2, False)),      # the largest file not above the budget
    ({1: 100, 2: 120, 3: 150}, 150, (3, False)),      # exactly the budget is allowed
    ({1: 100, 2: 120, 3: 150}, 90, (1, True)),        # cannot get that small: the smallest file
    ({0: 100, 1: 100, 2: 140, 3: 130}, 135, (3, False)),  # sizes need not grow with quality
    ({0: 100, 1: 100, 2: 200}, 50, (1, True)),        # ties go to the higher quality
])
def test_match_quality(sizes, target, expected):
    assert match_quality(sizes, target) == expected


@pytest.mark.parametrize("name", ["jpeg", "webp"])
def test_quality_matching_on_a_small_image(name, rng):
    image = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    files = quality_sweep(image, name)
    sizes = {q: len(b) for q, b in files.items()}
    assert len(sizes) >= 100 and min(sizes.values()) < max(sizes.values())
    middle = sorted(sizes.values())[len(sizes) // 2]
    quality, smallest = match_quality(sizes, middle)
    assert not smallest and sizes[quality] == middle
    assert match_quality(sizes, min(sizes.values()) - 1)[1]
    decoded = decode_image(files[quality], grey=False)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    grey = decode_image(encode_image(image[..., 0], name, 90), grey=True)
    assert grey.shape == (16, 16) and np.abs(grey.astype(int) - image[..., 0]).mean() < 40
    with pytest.raises(UsageError, match="image format must be one of jpeg, webp"):
        encode_image(image, "avif", 50)
