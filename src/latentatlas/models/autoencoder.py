"""The convolutional autoencoder with a linear bottleneck.

::

    x (C, H, W) ──stem 3x3──> [3x3 /2 ─> 3x3] x depth ──flatten──> linear ──> code (d)
    code (d) ──linear──> grid ──> [up x2 ─> 3x3] x depth ──3x3──> sigmoid ──> x̂ (C', H, W)

Depth follows the input size: the encoder halves the grid while both sides
are even and the result is at least 4 pixels on its shorter side, so a
64x64 input ends on a 4x4 grid after four levels and an 8x8 input after one.
Channel widths start at ``base_channels`` and double per level up to
``max_channels``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..errors import UsageError

__all__ = ["AutoencoderConfig", "ConvAutoencoder"]

_NORMS = ("batch", "none")
_OUTPUTS = ("sigmoid", "identity")


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
        Output activation; ``sigmoid`` matches inputs scaled to [0, 1].
    """

    in_channels: int
    out_channels: int
    height: int
    width: int
    code_size: int = 64
    base_channels: int = 32
    max_channels: int = 256
    norm: str = "batch"
    output: str = "sigmoid"

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels", "code_size", "base_channels", "max_channels"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.norm not in _NORMS:
            raise UsageError(f"norm must be one of {', '.join(_NORMS)}, got {self.norm!r}")
        if self.output not in _OUTPUTS:
            raise UsageError(f"output must be one of {', '.join(_OUTPUTS)}, got {self.output!r}")

    @property
    def depth(self) -> int:
        """Number of halvings from the input to the bottleneck grid."""
        depth, h, w = 0, self.height, self.width
        while h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= 4:
            depth, h, w = depth + 1, h // 2, w // 2
        return depth

    @property
    def grid(self) -> tuple[int, int]:
        """Height and width of the bottleneck grid."""
        return self.height >> self.depth, self.width >> self.depth

    @property
    def widths(self) -> list[int]:
        """Channel width of each level, from the stem to the bottleneck grid."""
        return [min(self.base_channels << i, self.max_channels) for i in range(self.depth + 1)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AutoencoderConfig":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _conv(cin: int, cout: int, stride: int, norm: str) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=norm == "none")]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(inplace=True)]


def _up(cin: int, cout: int, norm: str) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=norm == "none")]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(inplace=True)]


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

        layers = _conv(config.in_channels, widths[0], 1, norm)
        for cin, cout in zip(widths, widths[1:]):
            layers += _conv(cin, cout, 2, norm) + _conv(cout, cout, 1, norm)
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, config.code_size))

        layers = [nn.Linear(config.code_size, flat), nn.ReLU(inplace=True), nn.Unflatten(1, (widths[-1], gh, gw))]
        for cin, cout in zip(widths[:0:-1], widths[-2::-1]):
            layers += _up(cin, cout, norm) + _conv(cout, cout, 1, norm)
        layers.append(nn.Conv2d(widths[0], config.out_channels, 3, 1, 1))
        if config.output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*layers)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` inputs to ``(N, code_size)`` codes."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """``(N, code_size)`` codes to ``(N, C', H, W)`` reconstructions."""
        return self.decoder(code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
