"""Image quality: PSNR and SSIM of images scaled to [0, 1]."""

from __future__ import annotations

import numpy as np

__all__ = ["psnr", "ssim"]

_MIN_MSE = 1e-12


def psnr(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of arrays in [0, 1], shape ``(N, ...)``.

    Identical images score 120 dB (the squared error is floored at 1e-12).
    """
    axes = tuple(range(1, np.ndim(reference)))
    mse = np.mean((np.asarray(reference, np.float64) - estimate) ** 2, axis=axes)
    return 10.0 * np.log10(1.0 / np.maximum(mse, _MIN_MSE))


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SSIM of one image pair ``(C, H, W)`` in [0, 1] (scikit-image, 7x7 window or smaller).

    The window shrinks to the largest odd size that fits images smaller
    than 7 pixels; images under 3 pixels on a side have no SSIM (NaN).
    """
    from skimage.metrics import structural_similarity

    reference, estimate = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    side = min(reference.shape[1:])
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        return float("nan")
    return float(structural_similarity(reference, estimate, data_range=1.0, channel_axis=0, win_size=window))
