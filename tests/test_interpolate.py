"""Interpolation between two codes: straight and spherical paths, ends, strips."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError
from latentatlas.ops.interpolate import lerp, save_strip, slerp
from latentatlas.sources import read_image


def test_lerp_and_slerp_paths():
    a, b = np.array([1.0, 0.0], np.float32), np.array([0.0, 2.0], np.float32)
    t = np.linspace(0, 1, 5)
    straight = lerp(a, b, t)
    assert np.allclose(straight[[0, -1]], [a, b]) and np.allclose(straight[2], [0.5, 1.0])
    arc = slerp(a, b, t)
    assert np.allclose(arc[[0, -1]], [a, b], atol=1e-6)
    assert np.allclose(np.linalg.norm(arc, axis=1), 1 + t)  # norms blend linearly
    angles = np.arctan2(arc[:, 1], arc[:, 0])
    assert np.allclose(np.diff(angles), np.pi / 8)  # equal angular steps
    assert np.allclose(slerp(a, -a, t), lerp(a, -a, t))  # antiparallel: the arc is not defined
    assert np.allclose(slerp(a, np.zeros(2), t), lerp(a, np.zeros(2), t))


def test_interpolate_between_ids_and_images(digits_atlas, digits_dir, tmp_path):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        result = atlas.interpolate(3, 40, steps=5)
        assert len(result.frames) == 5 and result.frames[0].shape == (8, 8)
        assert np.array_equal(result.frames[0], atlas.decode(id=3))
        assert np.array_equal(result.frames[-1], atlas.decode(id=40))
        ids, codes = atlas.store.vectors(np.array([3, 40]))
        assert result.distance == pytest.approx(float(np.linalg.norm(codes[1] - codes[0])), rel=1e-6)
        assert result.to_dict()["a"] == {"id": 3} and result.to_dict()["steps"] == 5
        uri = atlas.store.images([3])[3]["uri"]
        from_file = atlas.interpolate(uri, read_image(uri), steps=3, spherical=True)
        assert from_file.distance == 0.0 and from_file.ends[0] == {"image": uri, "conversions": []}  # it fits as it is
        strip = save_strip(tmp_path / "strip.png", result, atlas.model.preprocess.value_range)
        assert read_image(strip).shape[1] > 5 * 8  # five frames side by side
        stack = save_strip(tmp_path / "strip.npy", result, atlas.model.preprocess.value_range)
        assert np.load(stack).shape == (5, 8, 8)
        with pytest.raises(UsageError, match="steps must be >= 2"):
            atlas.interpolate(3, 40, steps=1)
        with pytest.raises(UsageError, match="unknown id 99999"):
            atlas.interpolate(3, 99999)
