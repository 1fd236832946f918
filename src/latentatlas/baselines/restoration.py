"""Classic restoration baselines: Gaussian blur, median, non-local means, Telea inpainting, bicubic.

Each works on one image ``(C, H, W)`` float32 in [0, 1] and has one
parameter, chosen from a small grid on a validation split by
:mod:`latentatlas.ops.evaluate.restore`. Some need to know the corruption: the
noise's sigma (non-local means is given it, as is usual in the literature),
the damaged pixels (Telea inpaints exactly those) or the reduction factor
(bicubic enlarges the reduced image again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..models.corruptions import Corruption, Downsample, Noise

__all__ = ["Known", "Baseline", "BASELINES", "applicable", "known_for"]


@dataclass(frozen=True)
class Known:
    """What a baseline may know about one image's corruption."""

    sigma: float | None = None
    damaged: np.ndarray | None = None
    factor: int | None = None


@dataclass(frozen=True)
class Baseline:
    """A classic method: its name, its parameter's name and grid, and the function."""

    name: str
    parameter: str | None
    grid: tuple[float, ...]
    run: Callable[[np.ndarray, float, Known], np.ndarray]


def _hwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(1, 2, 0))


def _chw(image: np.ndarray, channels: int) -> np.ndarray:
    image = image.reshape(*image.shape[:2], channels)
    return np.clip(image.transpose(2, 0, 1), 0.0, 1.0).astype(np.float32)


def _gaussian(x: np.ndarray, sigma: float, known: Known) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(channel, (0, 0), sigma) for channel in x]).astype(np.float32)


def _median(x: np.ndarray, size: float, known: Known) -> np.ndarray:
    from scipy.ndimage import median_filter

    return median_filter(x, size=(1, int(size), int(size)), mode="reflect").astype(np.float32)


def _nlmeans(x: np.ndarray, strength: float, known: Known) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    image = _hwc(x) if len(x) > 1 else x[0]
    out = denoise_nl_means(image, h=strength * known.sigma, sigma=known.sigma, patch_size=5, patch_distance=6,
                           fast_mode=True, channel_axis=-1 if len(x) > 1 else None)
    return _chw(out, len(x))


def _telea(x: np.ndarray, radius: float, known: Known) -> np.ndarray:
    import cv2

    mask = known.damaged.astype(np.uint8)
    pixels = np.rint(x * 255.0).astype(np.uint8)
    if len(x) == 3:
        return _chw(cv2.inpaint(_hwc(pixels), mask, radius, cv2.INPAINT_TELEA) / 255.0, 3)
    return np.stack([cv2.inpaint(c, mask, radius, cv2.INPAINT_TELEA) / 255.0 for c in pixels]).astype(np.float32)


def _bicubic(x: np.ndarray, _: float, known: Known) -> np.ndarray:
    import cv2

    height, width = x.shape[1:]
    small_h, small_w = Downsample(known.factor).small_size(height, width)
    small = [cv2.resize(c, (small_w, small_h), interpolation=cv2.INTER_AREA) for c in x]
    return np.clip(np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in small]),
                   0.0, 1.0).astype(np.float32)


BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("gaussian", "sigma", (0.5, 0.75, 1.0, 1.5, 2.0, 3.0), _gaussian),
    Baseline("median", "size", (3, 5, 7), _median),
    Baseline("nlmeans", "h_over_sigma", (0.4, 0.6, 0.8, 1.0, 1.2), _nlmeans),
    Baseline("telea", "radius", (2, 3, 5, 8), _telea),
    Baseline("bicubic", None, (0,), _bicubic),
)}


def applicable(corruption: Corruption) -> list[Baseline]:
    """The baselines that make sense for ``corruption``.

    Gaussian blur and median whenever the input has the output's channels
    (not for colourisation); non-local means for noise; Telea for masks;
    bicubic for downsampling.
    """
    kinds = corruption.kinds()
    chosen = [] if "gray" in kinds else [BASELINES["gaussian"], BASELINES["median"]]
    for kind, name in (("noise", "nlmeans"), ("mask", "telea"), ("downsample", "bicubic")):
        if kind in kinds:
            chosen.append(BASELINES[name])
    return chosen


def known_for(corruption: Corruption, damaged: np.ndarray | None) -> Known:
    """What the baselines may know about an image corrupted by ``corruption`` (``damaged``: its masked pixels)."""
    noise, downsample = corruption.step("noise"), corruption.step("downsample")
    return Known(sigma=noise.sigma if isinstance(noise, Noise) else None, damaged=damaged,
                 factor=downsample.factor if isinstance(downsample, Downsample) else None)
