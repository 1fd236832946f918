"""Saving and loading models: ``config.json`` + ``weights.safetensors``, never pickle."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..errors import BadInputError, ModelMismatchError, NotFittedError, UsageError, first_line
from .autoencoder import AutoencoderConfig, ConvAutoencoder
from .corruptions import Corruption
from .latent import LatentModel
from .preprocess import PreprocessConfig

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "FORMAT", "save_model", "stage_model", "load_model", "has_model"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT = 1


def has_model(directory: str | Path) -> bool:
    """Whether ``directory`` holds a saved model."""
    directory = Path(directory)
    return (directory / CONFIG_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()


def save_model(model: LatentModel, directory: str | Path) -> Path:
    """Write ``config.json`` and ``weights.safetensors`` into ``directory``.

    Both files are written beside their final names and renamed into place,
    so a crash leaves the previous model whole.
    """
    from safetensors.torch import save_file

    from .. import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format": FORMAT,
        "latentatlas": __version__,
        **model.config_dict(),
        "training": model.training,
        "fingerprint": model.fingerprint,
    }
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.net.state_dict().items()}
    weights_tmp, config_tmp = directory / (WEIGHTS_FILE + ".tmp"), directory / (CONFIG_FILE + ".tmp")
    save_file(tensors, weights_tmp, metadata={"format": "pt", "fingerprint": model.fingerprint})
    config_tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(weights_tmp, directory / WEIGHTS_FILE)
    os.replace(config_tmp, directory / CONFIG_FILE)
    return directory


def stage_model(model: LatentModel, directory: str | Path) -> Path:
    """Write the model whole into ``directory``, emptied first: a model to move into place later."""
    shutil.rmtree(directory, ignore_errors=True)
    return save_model(model, directory)


def load_model(directory: str | Path) -> LatentModel:
    """Read a model saved by :func:`save_model`; runs no code from the files.

    Raises
    ------
    NotFittedError
        If the directory holds no model.
    BadInputError
        If a file is corrupt or of an unknown format.
    ModelMismatchError
        If the weights do not fit the configuration.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    if not has_model(directory):
        raise NotFittedError(f"{directory}: no trained model here (run `latentatlas fit` first)")
    config_path = directory / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text())
        if not isinstance(config, dict):
            raise BadInputError(f"{config_path}: not a latentatlas model configuration (a JSON "
                                f"{type(config).__name__} where an object belongs)")
        if config.get("format") != FORMAT:
            raise BadInputError(f"{config_path}: unknown model format {config.get('format')!r} (expected {FORMAT})")
        architecture = AutoencoderConfig.from_dict(config["autoencoder"])
        preprocess = PreprocessConfig.from_dict(config["preprocess"])
        corruption = Corruption.parse(config.get("corruption"))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as error:
        raise BadInputError(f"{config_path}: not a latentatlas model configuration ({first_line(error)})") from None
    except UsageError as error:
        raise BadInputError(f"{config_path}: {error}") from None
    try:
        tensors = load_file(directory / WEIGHTS_FILE)
    except (SafetensorError, OSError, ValueError) as error:
        raise BadInputError(f"{directory / WEIGHTS_FILE}: cannot read weights ({error})") from None
    net = ConvAutoencoder(architecture)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ModelMismatchError(f"{directory / WEIGHTS_FILE}: weights do not fit {CONFIG_FILE} ({first})") from None
    return LatentModel(net, preprocess, training=config.get("training"), corruption=corruption)
