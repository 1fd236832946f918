"""Models: the autoencoder, its bundle with preprocessing, and checkpoints."""

from .autoencoder import AutoencoderConfig, ConvAutoencoder
from .io import has_model, load_model, save_model
from .latent import LatentModel

__all__ = ["AutoencoderConfig", "ConvAutoencoder", "LatentModel", "has_model", "load_model", "save_model"]
