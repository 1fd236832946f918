"""Corruptions a restoration model learns to undo, drawn afresh for every training batch.

Each corruption maps a batch of model inputs ``(N, C, H, W)`` float32 in
[0, 1] (the value scale of :mod:`latentatlas.models.preprocess`) to corrupted
inputs in [0, 1], drawing what it needs from a NumPy ``Generator``; the same
seed gives the same corruption. A :class:`Corruption` chains several in
order and is written in a small spec language, one spec per step::

    noise:0.1          Gaussian noise of sigma 0.1 (in [0, 1] units: 25.5 of 255), clipped to [0, 1]
    saltpepper:0.05    5 % of pixels set to black or white (all channels)
    mask:box           a random rectangle set to black (inpainting); also mask:lines, mask:crosshair
    gray               colour to grey (colourisation: 3 channels in the target, 1 in the input)
    downsample:4       area-averaged to a quarter of the size, then enlarged back by nearest neighbour
    jpeg:20            JPEG at quality 20 and decoded again (1 or 3 channels)

``Corruption.parse(["mask:crosshair", "noise:0.05"])`` draws a crosshair and
then adds noise. Each step has ``spec`` (its text) and ``apply(x, rng)``,
which returns the corrupted batch and the ``(N, H, W)`` pixels it masked
(None for steps that mask nothing). The chain is stored in the model's ``config.json`` as the
list of its specs, so restoring and evaluating use the model's own
corruption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from ..errors import UsageError
from .preprocess import LUMA
from .specs import Numeric, SpecLanguage

__all__ = ["Corruption", "Corrupted", "Noise", "SaltPepper", "Mask", "Gray", "Downsample", "Jpeg", "KNOWN_SPECS"]

KNOWN_SPECS = "noise:SIGMA, saltpepper:AMOUNT, mask:box|lines|crosshair, gray, downsample:FACTOR, jpeg:QUALITY"
MASK_SHAPES = ("box", "lines", "crosshair")


@dataclass(frozen=True)
class Noise(Numeric):
    """Additive Gaussian noise of standard deviation ``sigma`` (model units), clipped to [0, 1]."""

    sigma: float
    kind, argument, bounds = "noise", "SIGMA", (1e-6, 1.0)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        noisy = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(self.sigma)
        return np.clip(noisy, 0.0, 1.0, out=noisy), None


@dataclass(frozen=True)
class SaltPepper(Numeric):
    """A share ``amount`` of pixels set to 0 or 1 (half each), in every channel alike."""

    amount: float
    kind, argument, bounds = "saltpepper", "AMOUNT", (1e-6, 1.0)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        n, _, h, w = x.shape
        draw = rng.random((n, 1, h, w), dtype=np.float32)
        out = x.copy()
        np.copyto(out, 0.0, where=draw < self.amount / 2)
        np.copyto(out, 1.0, where=draw > 1.0 - self.amount / 2)
        return out, None


@dataclass(frozen=True)
class Mask:
    """Pixels under a random shape set to black: a box, a few lines, or a crosshair (inpainting).

    Sizes follow the image: a box has sides of 20-40 % of it, lines and the
    crosshair are 1/32 of the shorter side thick (at least one pixel).
    """

    shape: str
    kind: ClassVar[str] = "mask"

    @classmethod
    def parse(cls, language: SpecLanguage, spec: str, arg: str | None) -> "Mask":
        if arg not in MASK_SHAPES:
            raise language.bad(spec, f"mask shape must be one of {', '.join(MASK_SHAPES)}, got {arg!r}")
        return cls(arg)

    @property
    def spec(self) -> str:
        return f"mask:{self.shape}"

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n, _, h, w = x.shape
        damaged = np.stack([self.draw(h, w, rng) for _ in range(n)])
        return np.where(damaged[:, None], np.float32(0.0), x), damaged

    def draw(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        """One ``(h, w)`` boolean mask of this shape."""
        import cv2

        canvas = np.zeros((h, w), np.uint8)
        side = min(h, w)
        thickness = max(1, round(side / 32))
        if self.shape == "box":
            bh, bw = (rng.uniform(0.2, 0.4, size=2) * (h, w)).astype(int) + 1
            top, left = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
            canvas[top:top + bh, left:left + bw] = 1
        elif self.shape == "lines":
            for _ in range(3):
                ends = rng.uniform(0, 1, size=4) * (w, h, w, h)
                cv2.line(canvas, (int(ends[0]), int(ends[1])), (int(ends[2]), int(ends[3])), 1, thickness)
        else:
            cy, cx = rng.uniform(0.3, 0.7, size=2) * (h, w)
            arm = rng.uniform(0.2, 0.35) * side
            cv2.line(canvas, (int(cx - arm), int(cy)), (int(cx + arm), int(cy)), 1, thickness)
            cv2.line(canvas, (int(cx), int(cy - arm)), (int(cx), int(cy + arm)), 1, thickness)
            cv2.circle(canvas, (int(cx), int(cy)), max(1, int(arm * 0.6)), 1, thickness)
        return canvas.astype(bool)


@dataclass(frozen=True)
class Gray:
    """Colour to grey with the luma weights the preprocessor uses: 3 channels to 1."""

    kind: ClassVar[str] = "gray"

    @classmethod
    def parse(cls, language: SpecLanguage, spec: str, arg: str | None) -> "Gray":
        language.no_argument(spec, arg, "gray")
        return cls()

    @property
    def spec(self) -> str:
        return "gray"

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        return np.einsum("nchw,c->nhw", x, np.asarray(LUMA, np.float32))[:, None].astype(np.float32), None


@dataclass(frozen=True)
class Downsample(Numeric):
    """Area-average to ``1 / factor`` of the size, then enlarge back by nearest neighbour."""

    factor: int
    kind, argument, bounds, integer = "downsample", "FACTOR", (2, 64), True

    def small_size(self, h: int, w: int) -> tuple[int, int]:
        """Height and width of the reduced image."""
        return max(1, round(h / self.factor)), max(1, round(w / self.factor))

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        import torch
        from torch.nn import functional

        tensor = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        small = functional.interpolate(tensor, size=self.small_size(*x.shape[2:]), mode="area")
        return functional.interpolate(small, size=x.shape[2:], mode="nearest").numpy(), None


@dataclass(frozen=True)
class Jpeg(Numeric):
    """JPEG compression at ``quality`` (1-100) and decoding again (1 or 3 channels)."""

    quality: int
    kind, argument, bounds, integer = "jpeg", "QUALITY", (1, 100), True

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        import cv2

        out = np.empty_like(x)
        for i, image in enumerate(x):
            pixels = np.rint(image.transpose(1, 2, 0)[..., ::-1] * 255.0).astype(np.uint8)  # RGB to OpenCV's BGR
            _, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED).reshape(pixels.shape)
            out[i] = decoded[..., ::-1].transpose(2, 0, 1) / np.float32(255.0)
        return out, None


_LANGUAGE = SpecLanguage("corruption", {cls.kind: cls for cls in (Noise, SaltPepper, Mask, Gray, Downsample, Jpeg)},
                         KNOWN_SPECS)
Step = Noise | SaltPepper | Mask | Gray | Downsample | Jpeg


@dataclass(frozen=True)
class Corrupted:
    """Corrupted inputs ``(N, C', H, W)`` and the ``(N, H, W)`` pixels masks covered (None without a mask)."""

    inputs: np.ndarray
    damaged: np.ndarray | None


@dataclass(frozen=True)
class Corruption:
    """An ordered chain of corruptions; empty means none.

    Call it as ``corruption(x, rng)`` for the corrupted batch, or use
    :meth:`corrupt` to get the masked pixels as well.
    """

    steps: tuple[Step, ...] = ()

    @classmethod
    def parse(cls, specs: Sequence[str] | None) -> "Corruption":
        """The chain of ``specs`` (e.g. ``["mask:crosshair", "noise:0.05"]``), in order.

        Raises
        ------
        UsageError
            On an unknown kind or a bad argument, naming the spec and the known kinds.
        """
        return cls(_LANGUAGE.parse(specs or ()))

    @property
    def specs(self) -> list[str]:
        """The chain as its specs, as stored in ``config.json``."""
        return [step.spec for step in self.steps]

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __str__(self) -> str:
        return " then ".join(self.specs) or "none"

    def kinds(self) -> set[str]:
        """The kinds in the chain (``noise``, ``mask``, ...)."""
        return {step.kind for step in self.steps}

    def step(self, kind: str) -> Step | None:
        """The first step of ``kind``, or None."""
        return next((s for s in self.steps if s.kind == kind), None)

    def input_channels(self, channels: int) -> int:
        """Channels of the corrupted input for clean images of ``channels``.

        Raises
        ------
        UsageError
            If a step cannot take images of that many channels.
        """
        for step in self.steps:
            if isinstance(step, Gray):
                if channels != 3:
                    raise UsageError(f"corruption 'gray' needs 3-channel (colour) images, these have {channels}")
                channels = 1
            elif isinstance(step, Jpeg) and channels not in (1, 3):
                raise UsageError(f"corruption {step.spec!r} needs 1 or 3 channels, these have {channels}")
        return channels

    def corrupt(self, x: np.ndarray, rng: np.random.Generator) -> Corrupted:
        """Apply every step to ``x`` ``(N, C, H, W)`` in [0, 1], drawing from ``rng``."""
        out = np.asarray(x, np.float32)
        damaged = None
        self.input_channels(out.shape[1])
        for step in self.steps:
            out, covered = step.apply(out, rng)
            if covered is not None:
                damaged = covered if damaged is None else damaged | covered
        return Corrupted(np.ascontiguousarray(out, np.float32), damaged)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.corrupt(x, rng).inputs
