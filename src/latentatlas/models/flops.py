"""Counting the floating-point operations of a forward pass (multiply and add count as two)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["count_flops"]


def count_flops(module: nn.Module, example: torch.Tensor) -> int:
    """FLOPs of ``module(example)`` per item of the batch, from its conv and linear layers.

    Convolutions count ``2 * C_in/groups * kh * kw`` per output value;
    transposed convolutions ``2 * C_out/groups * kh * kw`` per input value;
    linear layers ``2 * in * out``. Normalisation, activations and matrix
    products outside these modules (the autoencoder's linear path, under
    1 % of its work) are left out.
    """
    total = 0

    def hook(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.ConvTranspose2d):
            kh, kw = layer.kernel_size
            total += 2 * inputs[0].numel() * layer.out_channels // layer.groups * kh * kw
        elif isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            total += 2 * output.numel() * layer.in_channels // layer.groups * kh * kw
        elif isinstance(layer, nn.Linear):
            total += 2 * output.numel() * layer.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.inference_mode():
            module.eval()(example)
    finally:
        for handle in handles:
            handle.remove()
    return total // len(example)
