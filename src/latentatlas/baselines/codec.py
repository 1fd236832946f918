"""Baselines for the codec: PCA with the same number of numbers, and JPEG / WebP through Pillow.

PCA is the best *linear* code of a given size (a linear autoencoder learns
its subspace), so it is the bar a non-linear code has to clear. JPEG and
WebP are what a user would otherwise store; they are matched to a byte
budget one image at a time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..models import LatentModel

__all__ = ["LinearCodec", "IMAGE_FORMATS", "encode_image", "decode_image", "quality_sweep", "match_quality"]


@dataclass
class LinearCodec:
    """A linear code: ``c = (x - input_mean) @ encoder.T``, ``x̂ = output_mean + c @ decoder``.

    Inputs and outputs are flattened model inputs ``(N, C, H, W)`` in [0, 1].
    """

    input_mean: np.ndarray
    encoder: np.ndarray
    output_mean: np.ndarray
    decoder: np.ndarray
    shape: tuple[int, int, int]

    @property
    def code_size(self) -> int:
        """Numbers per code."""
        return len(self.encoder)

    @classmethod
    def from_model(cls, model: LatentModel) -> "LinearCodec":
        """The model's own linear path: PCA of its training split, as the trainer set it.

        Raises
        ------
        UsageError
            If the model was trained without a linear path.
        """
        net = model.net
        if not net.config.linear_path:
            raise UsageError("this model has no linear (PCA) path; give the images it was trained on "
                             "to fit PCA (pca_train)", parameter="pca_train")
        arrays = [getattr(net, name).detach().cpu().numpy().astype(np.float32)
                  for name in ("input_mean", "encoder_basis", "output_mean", "decoder_basis")]
        return cls(*arrays, shape=model.preprocessor.input_shape)

    @classmethod
    def fit(cls, inputs: np.ndarray, code_size: int, seed: int = 0) -> "LinearCodec":
        """PCA of ``inputs`` ``(N, C, H, W)`` with ``code_size`` components.

        With fewer images or pixels than ``code_size`` the extra numbers are
        zero (stored, but carrying nothing).
        """
        from sklearn.decomposition import PCA

        flat = np.asarray(inputs, np.float32).reshape(len(inputs), -1)
        rank = min(code_size, *flat.shape)
        pca = PCA(n_components=rank, random_state=seed).fit(flat)
        components = np.zeros((code_size, flat.shape[1]), np.float32)
        components[:rank] = pca.components_
        mean = pca.mean_.astype(np.float32)
        return cls(mean, components, mean, components, shape=tuple(inputs.shape[1:]))

    def encode(self, inputs: np.ndarray) -> np.ndarray:
        """Model inputs ``(N, C, H, W)`` to codes ``(N, d)`` float32."""
        flat = np.asarray(inputs, np.float32).reshape(len(inputs), -1)
        return ((flat - self.input_mean) @ self.encoder.T).astype(np.float32)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes ``(N, d)`` to outputs ``(N, C, H, W)`` clipped to [0, 1]."""
        flat = self.output_mean + np.asarray(codes, np.float32) @ self.decoder
        return np.clip(flat, 0.0, 1.0).reshape(len(flat), *self.shape).astype(np.float32)


# name: (Pillow format, qualities from smallest to largest file, encoder options)
IMAGE_FORMATS: dict[str, tuple[str, range, dict]] = {
    "jpeg": ("JPEG", range(1, 101), {"optimize": True}),
    "webp": ("WEBP", range(0, 101), {"method": 6}),
}


def _check_format(name: str) -> tuple[str, range, dict]:
    if name not in IMAGE_FORMATS:
        raise UsageError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {name!r}")
    return IMAGE_FORMATS[name]


def encode_image(pixels: np.ndarray, name: str, quality: int) -> bytes:
    """An ``(H, W)`` or ``(H, W, 3)`` uint8 image as a JPEG or WebP file's bytes."""
    from PIL import Image

    pillow_format, _, options = _check_format(name)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, pillow_format, quality=int(quality), **options)
    return buffer.getvalue()


def decode_image(data: bytes, grey: bool) -> np.ndarray:
    """A JPEG or WebP file's bytes to an ``(H, W)`` (``grey``) or ``(H, W, 3)`` uint8 image."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L" if grey else "RGB"))


def quality_sweep(pixels: np.ndarray, name: str) -> dict[int, bytes]:
    """The file of ``pixels`` at every quality the format has."""
    _, qualities, _ = _check_format(name)
    return {q: encode_image(pixels, name, q) for q in qualities}


def match_quality(sizes: dict[int, int], target: int) -> tuple[int, bool]:
    """The quality whose file is the largest not above ``target`` bytes.

    Returns ``(quality, smallest)``: when no quality gets that small,
    ``smallest`` is True and the quality is the one of the smallest file.
    Ties go to the higher quality.
    """
    fitting = [(size, q) for q, size in sizes.items() if size <= target]
    if fitting:
        return max(fitting)[1], False
    smallest = min(sizes.values())
    return max(q for q, size in sizes.items() if size == smallest), True
