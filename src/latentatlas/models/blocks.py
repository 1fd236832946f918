"""The layers of the two families of autoencoder, each built from its configuration.

``classic`` (the first release)::

    x ──3x3──> [3x3 /2 ─> 3x3] x depth ──flatten──> linear ──> code
    code ──linear──> grid ──> [4x4 transposed x2 ─> 3x3] x depth ──3x3──> x̂

``residual`` (the default since 0.2: about a third of the work per image, and it
trains further in the same time; see ``docs/model.md``)::

    x ──unshuffle /s──3x3──> [3x3 /2 ─> res x k] x depth ──flatten──> linear ──> code
    code ──linear──> grid ──> [res x k ─> 3x3 ─> shuffle x2] x depth ──3x3──> shuffle x s ──> x̂

``unshuffle /s`` folds each ``s x s`` patch of pixels into channels (no work,
no information lost), so every convolution runs on a grid ``s`` times smaller;
``shuffle`` is its inverse, the sub-pixel convolution of Shi et al. (2016),
which upsamples without the checkerboard of transposed convolutions. A
residual block is ``x + conv(relu(conv(x)))`` with its second convolution
started at zero, so a deep stack starts as the shallow one and needs no
normalisation (the Fixup and SkipInit observations): without batch norm the
network computes the same function in training and in inference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from .autoencoder import AutoencoderConfig

__all__ = ["encoder_layers", "decoder_layers", "conv_layers", "ResidualBlock"]


def _norm(channels: int, norm: str) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if norm == "batch" else []


def conv_layers(cin: int, cout: int, stride: int, norm: str) -> list[nn.Module]:
    """A 3x3 convolution, its normalisation and a ReLU."""
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=norm == "none"), *_norm(cout, norm), nn.ReLU(inplace=True)]


def _up(cin: int, cout: int, norm: str) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=norm == "none"), *_norm(cout, norm), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    """``x + conv(relu(conv(x)))``, the second convolution starting at zero (the block starts as the identity)."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(*conv_layers(channels, channels, 1, norm),
                                  nn.Conv2d(channels, channels, 3, 1, 1, bias=norm == "none"), *_norm(channels, norm))
        last = self.body[-1] if norm == "none" else self.body[-2]
        nn.init.zeros_(last.weight)

    def forward(self, x):
        return x + self.body(x)


def encoder_layers(config: "AutoencoderConfig") -> list[nn.Module]:
    """The encoder up to the bottleneck grid (the flatten and linear layer are the caller's)."""
    widths, norm = config.widths, config.norm
    if config.family == "classic":
        layers = conv_layers(config.in_channels, widths[0], 1, norm)
        for cin, cout in zip(widths, widths[1:]):
            layers += conv_layers(cin, cout, 2, norm) + conv_layers(cout, cout, 1, norm)
        return layers
    stem = config.stem
    layers = ([nn.PixelUnshuffle(stem)] if stem > 1 else []) + conv_layers(config.in_channels * stem * stem, widths[0], 1, norm)
    for cin, cout in zip(widths, widths[1:]):
        layers += conv_layers(cin, cout, 2, norm) + [ResidualBlock(cout, norm) for _ in range(config.level_blocks)]
    return layers


def decoder_layers(config: "AutoencoderConfig") -> list[nn.Module]:
    """The decoder from the bottleneck grid to the output, its last layer a plain convolution (before any sigmoid)."""
    widths, norm = config.widths, config.norm
    layers: list[nn.Module] = []
    if config.family == "classic":
        for cin, cout in zip(widths[:0:-1], widths[-2::-1]):
            layers += _up(cin, cout, norm) + conv_layers(cout, cout, 1, norm)
        return layers + [nn.Conv2d(widths[0], config.out_channels, 3, 1, 1)]
    for cin, cout in zip(widths[:0:-1], widths[-2::-1]):
        layers += [ResidualBlock(cin, norm) for _ in range(config.level_blocks)]
        layers += [nn.Conv2d(cin, 4 * cout, 3, 1, 1), nn.PixelShuffle(2), nn.ReLU(inplace=True)]
    stem = config.stem
    return layers + [nn.Conv2d(widths[0], config.out_channels * stem * stem, 3, 1, 1)] + (
        [nn.PixelShuffle(stem)] if stem > 1 else [])
