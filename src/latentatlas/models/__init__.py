"""Models: the autoencoder, its bundle with preprocessing, and checkpoints."""

from .autoencoder import AutoencoderConfig, ConvAutoencoder
from .corruptions import Corruption
from .io import has_model, load_model, save_model, stage_model
from .latent import LatentModel

__all__ = ["AutoencoderConfig", "ConvAutoencoder", "Corruption", "LatentModel", "has_model", "load_model", "save_model", "stage_model"]
