"""A trained autoencoder bundled with its preprocessing: images in, codes out, and back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import ModelMismatchError
from .autoencoder import AutoencoderConfig, ConvAutoencoder
from .corruptions import Corruption
from .preprocess import PreprocessConfig, Preprocessor

__all__ = ["LatentModel", "NO_CODE"]

DEFAULT_BATCH = 256
NO_CODE = ("this atlas's model has a convolutional bottleneck (trained for restoration): it makes no vector "
           "code to embed, search, compress or decode; use `latentatlas restore`")


class LatentModel:
    """An autoencoder and the preprocessing it was trained with.

    Parameters
    ----------
    net : ConvAutoencoder
    preprocess : PreprocessConfig
    training : dict, optional
        Settings of the run that trained it (stored, not interpreted).
    corruption : Corruption, optional
        What the model learned to undo (none: a plain autoencoder).

    ``preprocess`` describes the collection's images, which are the model's
    targets; its inputs have the network's ``in_channels`` (1 for a
    colourisation model whose targets have 3), and :attr:`input_preprocessor`
    maps images to them.
    """

    def __init__(self, net: ConvAutoencoder, preprocess: PreprocessConfig, training: dict[str, Any] | None = None,
                 corruption: Corruption = Corruption()):
        self.net = net.eval().to(memory_format=torch.channels_last)  # oneDNN's fast layout
        self.preprocess = preprocess
        self.preprocessor = Preprocessor(preprocess)
        self.input_preprocessor = (self.preprocessor if net.config.in_channels == preprocess.channels
                                   else Preprocessor(replace(preprocess, channels=net.config.in_channels)))
        self.training = training or {}
        self.corruption = corruption

    @classmethod
    def create(cls, architecture: AutoencoderConfig, preprocess: PreprocessConfig, seed: int = 0,
               corruption: Corruption = Corruption()) -> "LatentModel":
        """A new, untrained model; the seed fixes its initial weights."""
        torch.manual_seed(seed)
        return cls(ConvAutoencoder(architecture), preprocess, corruption=corruption)

    @property
    def architecture(self) -> AutoencoderConfig:
        """The network's configuration."""
        return self.net.config

    @property
    def code_size(self) -> int:
        """Numbers per code."""
        return self.net.config.code_size

    @property
    def fingerprint(self) -> str:
        """16 hex digits identifying the configuration and the weights.

        Two models with the same fingerprint give the same codes.
        """
        digest = hashlib.sha256(json.dumps(self.config_dict(), sort_keys=True).encode())
        for name, tensor in sorted(self.net.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    @property
    def has_code(self) -> bool:
        """Whether the model makes a vector code (a linear bottleneck) to embed and search."""
        return self.architecture.bottleneck == "linear"

    def require_code(self) -> None:
        """Raise :class:`ModelMismatchError` unless the model makes a vector code."""
        if not self.has_code:
            raise ModelMismatchError(NO_CODE)

    def config_dict(self) -> dict[str, Any]:
        """Architecture, preprocessing and corruption (when there is one) as JSON-able dicts."""
        config = {"autoencoder": self.architecture.to_dict(), "preprocess": self.preprocess.to_dict()}
        if self.corruption:
            config["corruption"] = self.corruption.specs
        return config

    def prepare(self, images: Sequence[np.ndarray], uris: Sequence[str] | None = None) -> np.ndarray:
        """Images to model inputs ``(N, C, H, W)`` in [0, 1]."""
        return self.input_preprocessor.batch(images, uris)

    def encode_inputs(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Model inputs ``(N, C, H, W)`` to codes ``(N, d)`` float32."""
        self.require_code()
        return self._batched(self.net.encode, x, (self.code_size,), batch_size, images=True)

    def encode(self, images: Sequence[np.ndarray], uris: Sequence[str] | None = None,
               batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Images (any size, the collection's units) to codes ``(N, d)``."""
        return self.encode_inputs(self.prepare(images, uris), batch_size)

    def decode(self, codes: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Codes ``(N, d)`` to model outputs ``(N, C, H, W)``, clipped to [0, 1]."""
        self.require_code()
        codes = np.array(codes, np.float32).reshape(-1, self.code_size)  # a writable copy: codes may be read-only
        out = self._batched(self.net.decode, codes, self._output_shape, batch_size, images=False)
        return np.clip(out, 0.0, 1.0, out=out)

    def to_images(self, outputs: np.ndarray, sizes: Sequence[tuple[int, int] | None] | None = None) -> list[np.ndarray]:
        """Model outputs to images in the collection's units, optionally resized."""
        sizes = sizes or [None] * len(outputs)
        return [self.preprocessor.inverse(x, size) for x, size in zip(outputs, sizes)]

    def decode_images(self, codes: np.ndarray, sizes: Sequence[tuple[int, int] | None] | None = None) -> list[np.ndarray]:
        """Codes to images in the collection's units (``(H, W)`` or ``(H, W, C)``)."""
        return self.to_images(self.decode(codes), sizes)

    def reconstruct(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Model inputs through the network: ``(N, C', H, W)`` outputs clipped to [0, 1]."""
        out = self._batched(self.net, x, self._output_shape, batch_size, images=True)
        return np.clip(out, 0.0, 1.0, out=out)

    @property
    def _output_shape(self) -> tuple[int, int, int]:
        return self.architecture.out_channels, self.architecture.height, self.architecture.width

    @torch.inference_mode()
    def _batched(self, step, x: np.ndarray, shape: tuple[int, ...], batch_size: int, images: bool) -> np.ndarray:
        """``step`` (a part of the network) over ``x`` batch by batch; float32 ``(N, *shape)``.

        ``images`` batches go in as channels-last, oneDNN's fast layout.
        """
        self.net.eval()
        out = np.empty((len(x), *shape), np.float32)
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size], np.float32))
            if images:
                batch = batch.contiguous(memory_format=torch.channels_last)
            out[start:start + len(batch)] = step(batch).contiguous().numpy()
        return out
