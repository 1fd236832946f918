"""ORB matching: only maps a copy could be, one vote per keypoint, and settings checked on entry."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import UsageError
from latentatlas.search.orb import Features, OrbSettings, extract, match, plausible


@pytest.mark.parametrize("transform, expected", [
    (np.array([[0.8, -0.5, 10.0], [0.5, 0.8, -3.0]]), True),  # rotated and scaled
    (np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 64.0]]), True),  # 90 degrees
    (np.array([[-1.3e-3, -9.2e-4, 3.8], [2.3e-3, -3.6e-3, 4.7]]), False),  # everything onto one point
    (np.array([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0]]), False),  # stretched eightfold one way
    (np.array([[20.0, 0.0, 0.0], [0.0, 20.0, 0.0]]), False),  # twenty times larger
    (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), True),  # homography: the identity
])
def test_only_maps_that_a_copy_could_be_are_plausible(transform, expected):
    assert plausible(transform) is expected


def test_a_keypoint_votes_once():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 200, (40, 4)).astype(np.float32)
    descriptors = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    stored = Features(points, descriptors, 200, 200)
    assert match(stored, stored, OrbSettings()).inlier_count == 40
    doubled = Features(np.concatenate([points, points]), np.concatenate([descriptors, descriptors]), 200, 200)
    found = match(doubled, stored, OrbSettings())  # every query keypoint twice: 80 pairs onto 40 keypoints
    assert len(found.pairs) == 80 and found.inlier_count == 40
    assert len(np.unique(found.pairs[found.inliers][:, 1])) == 40


def test_small_low_contrast_images_get_keypoints():
    from latentatlas.datasets.samples import load_sample

    digit = load_sample("digits").images[0]
    assert digit.shape == (8, 8) and len(extract(digit, OrbSettings())) >= 10
    faint = (np.asarray(load_sample("photos", tile=64).images[50], np.float32) * 0.2 + 100).astype(np.uint8)
    assert len(extract(faint, OrbSettings())) >= 100


@pytest.mark.parametrize("settings, message", [
    ({"min_inliers": 0}, "min_inliers must be >= 1, got 0"),
    ({"fast_threshold": 0}, "fast_threshold must be in 1..100, got 0"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(UsageError, match=message) as caught:
        OrbSettings(**settings)
    assert caught.value.parameter == next(iter(settings))
