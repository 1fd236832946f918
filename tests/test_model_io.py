"""Checkpoints: safetensors + JSON, round trips, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentatlas.errors import BadInputError, ModelMismatchError, NotFittedError
from latentatlas.models import AutoencoderConfig, LatentModel, load_model, save_model
from latentatlas.models.preprocess import PreprocessConfig


def _model(code_size: int = 8, seed: int = 0) -> LatentModel:
    architecture = AutoencoderConfig(1, 1, 8, 8, code_size=code_size, base_channels=8)
    return LatentModel.create(architecture, PreprocessConfig(height=8, width=8, channels=1), seed=seed)


def test_round_trip_gives_the_same_codes_and_fingerprint(tmp_path, rng):
    model = _model()
    images = list(rng.integers(0, 256, (5, 8, 8), dtype=np.uint8))
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    np.testing.assert_array_equal(model.encode(images), loaded.encode(images))
    assert loaded.fingerprint == model.fingerprint
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["autoencoder"]["code_size"] == 8 and config["preprocess"]["height"] == 8
    assert (tmp_path / "model" / "weights.safetensors").read_bytes()[8:9] == b"{"  # a JSON header, not a pickle


def test_fingerprint_depends_on_weights():
    assert _model(seed=0).fingerprint != _model(seed=1).fingerprint
    assert _model(seed=0).fingerprint == _model(seed=0).fingerprint


def test_missing_corrupt_and_mismatched_models_are_refused(tmp_path):
    with pytest.raises(NotFittedError, match="no trained model"):
        load_model(tmp_path / "none")
    save_model(_model(), tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(BadInputError, match="weights.safetensors: cannot read weights"):
        load_model(tmp_path / "m")
    save_model(_model(code_size=8), tmp_path / "a")
    save_model(_model(code_size=16), tmp_path / "b")
    (tmp_path / "a" / "config.json").write_text((tmp_path / "b" / "config.json").read_text())
    with pytest.raises(ModelMismatchError, match="weights do not fit config.json"):
        load_model(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text('{"format": 99}')
    with pytest.raises(BadInputError, match="unknown model format 99"):
        load_model(tmp_path / "a")


def test_decode_images_come_back_in_the_collection_units():
    model = _model()
    images = model.decode_images(np.zeros((2, 8), np.float32), sizes=[None, (16, 12)])
    assert images[0].shape == (8, 8) and images[0].dtype == np.uint8
    assert images[1].shape == (16, 12)


def test_corruption_and_conv_bottleneck_are_stored_and_read_back(tmp_path):
    from latentatlas.models import Corruption

    architecture = AutoencoderConfig(1, 3, 8, 8, bottleneck="conv", levels=1, linear_path=False, residual=True,
                                     base_channels=8)
    model = LatentModel.create(architecture, PreprocessConfig(height=8, width=8, channels=3), seed=0,
                               corruption=Corruption.parse(["gray", "noise:0.1"]))
    save_model(model, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["corruption"] == ["gray", "noise:0.1"] and config["autoencoder"]["bottleneck"] == "conv"
    loaded = load_model(tmp_path / "m")
    assert loaded.corruption == model.corruption and loaded.fingerprint == model.fingerprint
    assert loaded.input_preprocessor.input_shape == (1, 8, 8) and loaded.preprocessor.input_shape == (3, 8, 8)
    assert not loaded.has_code and "corruption" not in json.loads(json.dumps(_model().config_dict()))
    with pytest.raises(ModelMismatchError, match="makes no vector code"):
        loaded.encode([np.zeros((8, 8), np.uint8)])
    config["corruption"] = ["blur:2"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(BadInputError, match="config.json: corruption 'blur:2': unknown kind"):
        load_model(tmp_path / "m")
