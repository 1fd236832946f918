"""Training losses: per-pixel errors, and their sum with a structural term (SSIM) for decoded images that keep edges.

``mse+ssim`` and ``l1+ssim`` add ``1 - SSIM`` to the pixel error, SSIM from
``pytorch-msssim`` (differentiable; tested against scikit-image's), with a
Gaussian window shrunk to fit small images. The validation score that picks
the kept checkpoint, and the comparison with PCA, use the same loss.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

__all__ = ["LOSSES", "Loss", "ssim"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SSIM_WINDOW = 11


def _log_cosh(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = prediction - target
    return torch.mean(x + nn.functional.softplus(-2.0 * x) - math.log(2.0))


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of ``(N, C, H, W)`` images in [0, 1], its Gaussian window at most the shorter side (odd)."""
    from pytorch_msssim import ssim as pytorch_ssim

    side = min(prediction.shape[-2:])
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    return pytorch_ssim(prediction.float(), target.float(), data_range=1.0, win_size=window)


def _with_ssim(pixel: Loss) -> Loss:
    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return pixel(prediction, target) + (1.0 - ssim(prediction, target))
    return loss


LOSSES: dict[str, Loss] = {
    "mse": nn.functional.mse_loss,
    "l1": nn.functional.l1_loss,
    "logcosh": _log_cosh,
    "mse+ssim": _with_ssim(nn.functional.mse_loss),
    "l1+ssim": _with_ssim(nn.functional.l1_loss),
}
