"""The Python face: Atlas.open and its methods."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas import Atlas, NotFittedError, UsageError
from latentatlas.sources import read_image


def test_python_api_round_trip(digits_atlas, digits_dir):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        by_id = atlas.search(id=5, k=3)
        assert by_id.hits[0].id == 5 and by_id.hits[0].distance == 0.0
        image_path = sorted((digits_dir / "4").glob("*.png"))[0]
        pixels = read_image(image_path)
        from_file = atlas.search(image_path, k=3)
        from_pixels = atlas.search(pixels, k=3)
        assert [h.id for h in from_file.hits] == [h.id for h in from_pixels.hits]
        code = atlas.encode([pixels])
        assert code.shape == (1, 16) and code.dtype == np.float32
        from_vector = atlas.search(code[0], k=3)
        assert [h.id for h in from_vector.hits] == [h.id for h in from_file.hits]
        decoded = atlas.decode(id=5)
        assert decoded.shape == (8, 8) and decoded.dtype == np.uint8
        assert atlas.sql("SELECT count(*) FROM embeddings").rows == [(300,)]
        assert atlas.info()["rows"] == 300


def test_reconstructions_resemble_their_originals(digits_atlas):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        row = atlas.store.images([10])[10]
        original = read_image(row["uri"]).astype(float)
        decoded = atlas.decode(id=10).astype(float)
        others = [read_image(atlas.store.images([i])[i]["uri"]).astype(float) for i in (100, 200, 250)]
        error = np.abs(decoded - original).mean()
        assert all(error < np.abs(decoded - other).mean() for other in others)


def test_an_atlas_without_a_model(tmp_path):
    with Atlas.open(tmp_path / "new.atlas") as atlas:
        with pytest.raises(NotFittedError, match="no trained model"):
            atlas.embed(tmp_path)
        assert atlas.info()["model"] is None


def test_unknown_fit_settings_are_named(tmp_path, digits_dir):
    with Atlas.open(tmp_path / "x.atlas") as atlas:
        with pytest.raises(UsageError, match="unknown fit setting.*code_sise"):
            atlas.fit(digits_dir, code_sise=3)
