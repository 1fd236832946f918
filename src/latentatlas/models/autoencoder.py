"""The convolutional autoencoder with a vector code (or a feature-map bottleneck for restoration).

::

    x (C, H, W) ──encoder layers (see :mod:`.blocks`)──flatten──> linear ──┐
        └──────────────── (x - mean) @ basisᵀ  (linear path) ──────────────(+)──> code (d)
    code (d) ──linear──> grid ──> decoder layers ─────────────────────────┐
        └──────────────── mean + code @ basis  (linear path) ──────────────(+)──> x̂ (C', H, W)

Depth follows the input size: after the stem the encoder halves the grid
while both sides are even and the result is at least 4 pixels on its
shorter side, so a 64x64 input ends on a 4x4 grid. Channel widths start at
``base_channels`` and double per level up to ``max_channels``. Two families
of layers exist (``family``): ``classic``, the first release's plain
convolutions with batch norm, and ``residual``, a pixel-unshuffle stem,
residual blocks without normalisation and a sub-pixel decoder, which is what
:mod:`.presets` chooses today.

With ``linear_path`` the code is the sum of a fixed linear projection and
the convolutional encoder's output, and the reconstruction the sum of a
fixed linear map and the convolutional decoder's output; the trainer sets
the linear path to the principal components of the training images and
starts the convolutional paths at zero, so the model starts as PCA. This
is how the PCA guarantee is kept (the trainer falls back to it when the
trained network is not better on validation); as a training start it was
measured to hold the network at PCA's level (see ``docs/model.md``).
Without it the model is the plain convolutional autoencoder.

With ``bottleneck="conv"`` (for restoration, where the code is not
searched) there is no flatten and no linear layer: the code is the
feature map on the bottleneck grid, ``blocks`` more 3x3 convolutions work
on it, and the decoder mirrors the encoder back up. ``levels`` sets the
number of halvings (0 keeps the full resolution: a plain stack of
convolutions). With ``residual`` the output is the input plus the
network's correction (a grey input is repeated to each output channel),
and the last convolution starts at zero, so training starts from the
corrupted input itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import MAX_CHANNELS, MAX_SIDE, whole_number
from ..errors import UsageError
from .blocks import conv_layers, decoder_layers, encoder_layers

__all__ = ["AutoencoderConfig", "ConvAutoencoder"]

_NORMS = ("batch", "none")
_OUTPUTS = ("sigmoid", "identity")
_BOTTLENECKS = ("linear", "conv")
_FAMILIES = ("classic", "residual")
# Fields added after the first release, written only when they differ from these defaults, so that
# the configurations (and fingerprints) of models saved before them stay the same.
_LATER_DEFAULTS = {"bottleneck": "linear", "levels": None, "blocks": 0, "residual": False,
                   "family": "classic", "stem": 1, "level_blocks": 1}


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture of a :class:`ConvAutoencoder`.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the reconstruction.
    height, width : int
        Input size in pixels.
    code_size : int, default 64
        Numbers in the code (the bottleneck).
    base_channels : int, default 32
        Width of the first level; doubles per level.
    max_channels : int, default 256
        Upper bound on the width.
    norm : {"batch", "none"}
        Normalisation after each convolution.
    output : {"sigmoid", "identity"}
        Output activation of the plain model; ``sigmoid`` matches inputs
        scaled to [0, 1]. The linear path needs ``identity``.
    linear_path : bool, default True
        Add the fixed linear (PCA) path around the convolutional one.
    bottleneck : {"linear", "conv"}
        ``linear``: a vector code of ``code_size`` numbers (searchable);
        ``conv``: the feature map on the bottleneck grid (restoration only;
        ``code_size`` is unused).
    levels : int, optional
        Halvings from the input to the bottleneck grid; default as many as
        the size allows (see :attr:`depth`).
    blocks : int, default 0
        Further 3x3 convolutions on the bottleneck grid.
    residual : bool, default False
        Predict a correction added to the input (``conv`` bottleneck only).
    family : {"classic", "residual"}
        The layers (see :mod:`.blocks`).
    stem : int, default 1
        ``residual`` only: side of the pixel patches folded into channels
        first (1, 2 or 4; the input size must be a multiple).
    level_blocks : int, default 1
        ``residual`` only: residual blocks per level.
    """

    in_channels: int
    out_channels: int
    height: int
    width: int
    code_size: int = 64
    base_channels: int = 32
    max_channels: int = 256
    norm: str = "batch"
    output: str = "identity"
    linear_path: bool = True
    bottleneck: str = "linear"
    levels: int | None = None
    blocks: int = 0
    residual: bool = False
    family: str = "classic"
    stem: int = 1
    level_blocks: int = 1

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "base_channels", "max_channels"):
            object.__setattr__(self, name, whole_number(name, getattr(self, name), 1, MAX_CHANNELS))
        object.__setattr__(self, "code_size", whole_number("code_size", self.code_size, 1, MAX_SIDE * MAX_SIDE))
        for name in ("height", "width"):
            object.__setattr__(self, name, whole_number(name, getattr(self, name), 1, MAX_SIDE))
        if self.norm not in _NORMS:
            raise UsageError(f"norm must be one of {', '.join(_NORMS)}, got {self.norm!r}")
        if self.output not in _OUTPUTS:
            raise UsageError(f"output must be one of {', '.join(_OUTPUTS)}, got {self.output!r}")
        if self.bottleneck not in _BOTTLENECKS:
            raise UsageError(f"bottleneck must be one of {', '.join(_BOTTLENECKS)}, got {self.bottleneck!r}")
        if self.linear_path and self.output != "identity":
            raise UsageError("the linear path adds to the output, so output must be 'identity'")
        if self.linear_path and self.bottleneck != "linear":
            raise UsageError("the linear (PCA) path adds to a vector code, which the conv bottleneck has not; "
                             "use --no-linear-path")
        if self.residual and (self.bottleneck != "conv" or self.output != "identity"):
            raise UsageError("residual prediction needs the conv bottleneck and the identity output")
        if self.residual and self.in_channels not in (1, self.out_channels):
            raise UsageError(f"residual prediction adds the input to the output: {self.in_channels} channels "
                             f"cannot be added to {self.out_channels}")
        if self.family not in _FAMILIES:
            raise UsageError(f"family must be one of {', '.join(_FAMILIES)}, got {self.family!r}")
        if self.stem not in (1, 2, 4) or (self.stem > 1 and self.family != "residual"):
            raise UsageError(f"stem must be 1, 2 or 4 (above 1 for the residual family only), got {self.stem}")
        if self.height % self.stem or self.width % self.stem:
            raise UsageError(f"stem {self.stem} must divide the input size {self.height}x{self.width}")
        if self.level_blocks < 0:
            raise UsageError(f"level_blocks must be >= 0, got {self.level_blocks}")
        if self.blocks < 0:
            raise UsageError(f"blocks must be >= 0, got {self.blocks}")
        if self.levels is not None and (self.levels < 0 or self.height % (self.stem << self.levels)
                                        or self.width % (self.stem << self.levels)):
            raise UsageError(f"levels must be >= 0 and halve {self.height}x{self.width} evenly, got {self.levels}")

    @property
    def depth(self) -> int:
        """Number of halvings from the stem's grid to the bottleneck grid (``levels`` when set)."""
        if self.levels is not None:
            return self.levels
        depth, h, w = 0, self.height // self.stem, self.width // self.stem
        while h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= 4:
            depth, h, w = depth + 1, h // 2, w // 2
        return depth

    @property
    def grid(self) -> tuple[int, int]:
        """Height and width of the bottleneck grid."""
        return self.height // self.stem >> self.depth, self.width // self.stem >> self.depth

    @property
    def widths(self) -> list[int]:
        """Channel width of each level, from the stem to the bottleneck grid."""
        return [min(self.base_channels << i, self.max_channels) for i in range(self.depth + 1)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (fields added later only when they differ from their defaults)."""
        return {k: v for k, v in asdict(self).items() if k not in _LATER_DEFAULTS or v != _LATER_DEFAULTS[k]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AutoencoderConfig":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _principal_directions(centred: np.ndarray, rank: int, seed: int) -> np.ndarray:
    """Top ``rank`` right singular vectors: exact for small problems, randomised beyond."""
    if min(centred.shape) <= 2048:
        return np.linalg.svd(centred, full_matrices=False)[2][:rank]
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(centred, rank, n_iter=10, random_state=seed)[2]


class ConvAutoencoder(nn.Module):
    """Convolutional encoder and decoder around a linear code.

    Parameters
    ----------
    config : AutoencoderConfig

    ``forward(x)`` maps ``(N, C, H, W)`` to the reconstruction;
    ``encode`` and ``decode`` expose the two halves.
    """

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        widths, norm = config.widths, config.norm
        gh, gw = config.grid
        flat = widths[-1] * gh * gw

        layers = encoder_layers(config)
        for _ in range(config.blocks):
            layers += conv_layers(widths[-1], widths[-1], 1, norm)
        if config.bottleneck == "linear":
            layers += [nn.Flatten(), nn.Linear(flat, config.code_size)]
        self.encoder = nn.Sequential(*layers)

        layers = []
        if config.bottleneck == "linear":
            layers = [nn.Linear(config.code_size, flat), nn.ReLU(inplace=True), nn.Unflatten(1, (widths[-1], gh, gw))]
        layers += decoder_layers(config)
        if config.output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*layers)
        if config.residual:  # start as the identity: the correction's last layer at zero
            nn.init.zeros_(self._last_conv.weight)
            nn.init.zeros_(self._last_conv.bias)

        if config.linear_path:
            n_in = config.in_channels * config.height * config.width
            n_out = config.out_channels * config.height * config.width
            self.register_buffer("input_mean", torch.zeros(n_in))
            self.register_buffer("encoder_basis", torch.zeros(config.code_size, n_in))
            self.register_buffer("output_mean", torch.zeros(n_out))
            self.register_buffer("decoder_basis", torch.zeros(config.code_size, n_out))

    @property
    def _last_conv(self) -> nn.Conv2d:
        return [m for m in self.decoder if isinstance(m, nn.Conv2d)][-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` inputs to ``(N, code_size)`` codes (the bottleneck's feature map for ``conv``)."""
        code = self.encoder(x)
        if self.config.linear_path:
            with torch.autocast(x.device.type, enabled=False):  # the PCA path in float32 under bfloat16 training
                code = code.float() + (x.reshape(len(x), -1).float() - self.input_mean) @ self.encoder_basis.T
        return code

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """``(N, code_size)`` codes to ``(N, C', H, W)`` reconstructions."""
        out = self.decoder(code)
        if self.config.linear_path:
            with torch.autocast(code.device.type, enabled=False):
                out = out.float() + (self.output_mean + code.float() @ self.decoder_basis).reshape(out.shape)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.decode(self.encode(x))
        if self.config.residual:
            out = out + (x.expand(-1, out.shape[1], -1, -1) if x.shape[1] == 1 else x)
        return out

    @torch.no_grad()
    def initialise_linear_path(self, inputs: torch.Tensor, targets: torch.Tensor, seed: int = 0) -> None:
        """Set the linear path to PCA of ``inputs`` and start the convolutional paths at zero.

        The encoder basis is the top ``code_size`` principal directions of the
        inputs; the decoder basis maps those coefficients to the targets by
        least squares (equal to the encoder basis when targets are the
        inputs). With the last layer of each convolutional path at zero the
        model starts as exactly this linear autoencoder.
        """
        x = inputs.reshape(len(inputs), -1).numpy().astype(np.float32)
        y = targets.reshape(len(targets), -1).numpy().astype(np.float32)
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        rank = min(self.config.code_size, *x.shape)
        components = _principal_directions(x - x_mean, rank, seed)
        basis = np.zeros((self.config.code_size, x.shape[1]), np.float32)
        basis[:rank] = components
        coefficients = (x - x_mean) @ basis.T
        decoder, *_ = np.linalg.lstsq(coefficients, y - y_mean, rcond=None)
        self.input_mean.copy_(torch.from_numpy(x_mean))
        self.encoder_basis.copy_(torch.from_numpy(basis))
        self.output_mean.copy_(torch.from_numpy(y_mean))
        self.decoder_basis.copy_(torch.from_numpy(decoder))
        for last in (self.encoder[-1], self._last_conv):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
