"""Augmentations: each training batch is drawn afresh through random changes that keep what an image shows.

A small collection teaches a large network more when every epoch shows it
somewhat different images. Steps are written in the spec language of the
corruptions, one spec per step, and applied in a fixed order::

    crop            cut a random window of at least 80 % of each side (crop:0.6 for
                    60 %) anywhere in the image and stretch it back to the input size
    hflip           mirror half the images left to right
    vflip           mirror half the images top to bottom
    rot90           turn each image by a random multiple of 90 degrees (square inputs)
    shift           move each image by up to 1/16 of its side (shift:0.1), edges repeated
    brightness      add one draw from [-0.1, 0.1] to all of an image (brightness:0.2)
    contrast        scale each image about its mean by a draw from [0.8, 1.2] (contrast:0.3)

Batches are model inputs ``(N, C, H, W)`` float32 in [0, 1] and stay so
(values are clipped). ``auto`` chooses from the data (see
:meth:`Augmentation.choose`); the chosen specs are stored with the model's
training settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from ..errors import UsageError
from .specs import Numeric, SpecLanguage

__all__ = ["Augmentation", "KNOWN_AUGMENTATIONS", "AUTO", "NONE"]

KNOWN_AUGMENTATIONS = "auto, none, or a list of crop[:MIN_SIDE], hflip, vflip, rot90, shift[:FRACTION], " \
                      "brightness[:AMOUNT], contrast[:AMOUNT]"
AUTO, NONE = "auto", "none"


class _Plain:
    """A step without an argument."""

    kind: ClassVar[str]

    @classmethod
    def parse(cls, language: SpecLanguage, spec: str, arg: str | None):
        language.no_argument(spec, arg, cls.kind)
        return cls()

    @property
    def spec(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Crop(Numeric):
    """Cut a random window of ``min_side`` to all of each side and resize it back to the image's size."""

    min_side: float
    kind, argument, bounds, default = "crop", "MIN_SIDE", (0.1, 1.0), 0.8

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import cv2

        n, _, height, width = x.shape
        for i in range(n):
            h, w = (max(1, int(round(side * rng.uniform(self.min_side, 1.0)))) for side in (height, width))
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            window = np.ascontiguousarray(x[i, :, top:top + h, left:left + w].transpose(1, 2, 0))
            resized = cv2.resize(window, (width, height), interpolation=cv2.INTER_LINEAR)
            x[i] = resized.reshape(height, width, -1).transpose(2, 0, 1)
        return x


@dataclass(frozen=True)
class _Flip(_Plain):
    """Mirror half the images along ``axis`` (3: left to right, 2: top to bottom)."""

    axis: ClassVar[int]

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        chosen = rng.random(len(x)) < 0.5
        x[chosen] = np.flip(x[chosen], axis=self.axis)
        return x


@dataclass(frozen=True)
class HFlip(_Flip):
    """Mirror half the images left to right."""

    kind: ClassVar[str] = "hflip"
    axis: ClassVar[int] = 3


@dataclass(frozen=True)
class VFlip(_Flip):
    """Mirror half the images top to bottom."""

    kind: ClassVar[str] = "vflip"
    axis: ClassVar[int] = 2


@dataclass(frozen=True)
class Rot90(_Plain):
    """Turn each image by 0, 90, 180 or 270 degrees (square inputs only)."""

    kind: ClassVar[str] = "rot90"

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        turns = rng.integers(0, 4, len(x))
        for k in (1, 2, 3):
            chosen = turns == k
            x[chosen] = np.rot90(x[chosen], k, axes=(2, 3))
        return x


@dataclass(frozen=True)
class Shift(Numeric):
    """Move each image by up to ``fraction`` of its side each way; the edge pixels fill the gap."""

    fraction: float
    kind, argument, bounds, default = "shift", "FRACTION", (0.001, 0.5), 0.0625

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, _, h, w = x.shape
        most_y, most_x = (max(1, int(round(self.fraction * side))) for side in (h, w))
        padded = np.pad(x, ((0, 0), (0, 0), (most_y, most_y), (most_x, most_x)), mode="edge")
        dy = rng.integers(-most_y, most_y + 1, n)
        dx = rng.integers(-most_x, most_x + 1, n)
        for i in range(n):
            top, left = most_y + dy[i], most_x + dx[i]
            x[i] = padded[i, :, top:top + h, left:left + w]
        return x


@dataclass(frozen=True)
class Brightness(Numeric):
    """Add one uniform draw from ``[-amount, amount]`` to every pixel of an image."""

    amount: float
    kind, argument, bounds, default = "brightness", "AMOUNT", (0.0, 1.0), 0.1

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x += rng.uniform(-self.amount, self.amount, (len(x), 1, 1, 1)).astype(np.float32)
        return np.clip(x, 0.0, 1.0, out=x)


@dataclass(frozen=True)
class Contrast(Numeric):
    """Scale each image about its mean by a draw from ``[1 - amount, 1 + amount]``."""

    amount: float
    kind, argument, bounds, default = "contrast", "AMOUNT", (0.0, 1.0), 0.2

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        factor = rng.uniform(1.0 - self.amount, 1.0 + self.amount, (len(x), 1, 1, 1)).astype(np.float32)
        x[...] = (x - mean) * factor + mean
        return np.clip(x, 0.0, 1.0, out=x)


_ORDER = (Crop, HFlip, VFlip, Rot90, Shift, Brightness, Contrast)
_LANGUAGE = SpecLanguage("augmentation", {cls.kind: cls for cls in _ORDER}, KNOWN_AUGMENTATIONS)
Step = Crop | HFlip | VFlip | Rot90 | Shift | Brightness | Contrast


@dataclass(frozen=True)
class Augmentation:
    """The augmentation steps of one training run, in the fixed order of the module's table; empty means none."""

    steps: tuple[Step, ...] = ()

    @classmethod
    def parse(cls, specs: Sequence[str] | None) -> "Augmentation":
        """The steps of ``specs`` (``["hflip", "shift:0.1"]``); ``auto`` is not resolved here.

        Raises
        ------
        UsageError
            On an unknown kind, a bad argument or a kind given twice.
        """
        steps = _LANGUAGE.parse([s for s in specs or () if s != NONE])
        kinds = [step.kind for step in steps]
        twice = sorted({k for k in kinds if kinds.count(k) > 1})
        if twice:
            raise UsageError(f"augmentation {', '.join(twice)} given more than once")
        return cls(tuple(sorted(steps, key=lambda step: _ORDER.index(type(step)))))

    @classmethod
    def choose(cls, specs: Sequence[str] | str | None, georeferenced: bool, square: bool) -> "Augmentation":
        """The augmentation for ``specs``, with ``auto`` chosen from the data.

        ``auto`` leaves georeferenced fields (GRIB, NetCDF, float stacks) as
        they are: a flipped or shifted weather map is another place. Images
        get left-right mirrors (see ``docs/model.md`` for the study behind
        this choice). ``rot90`` needs square inputs.

        Raises
        ------
        UsageError
            On a bad spec, ``auto`` or ``none`` mixed with steps, or
            ``rot90`` on non-square inputs.
        """
        specs = [specs] if isinstance(specs, str) else list(specs or [NONE])
        if (AUTO in specs or NONE in specs) and len(specs) > 1:
            raise UsageError(f"augmentation {AUTO!r} or {NONE!r} stands alone, got {', '.join(specs)}")
        if specs == [AUTO]:
            specs = [] if georeferenced else ["hflip"]
        chosen = cls.parse(specs)
        if chosen.step("rot90") is not None and not square:
            raise UsageError("augmentation 'rot90' turns images by 90 degrees, which needs square inputs")
        return chosen

    @property
    def specs(self) -> list[str]:
        """The steps as specs, as stored with the model's training settings."""
        return [step.spec for step in self.steps]

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __str__(self) -> str:
        return ", ".join(self.specs) or NONE

    def step(self, kind: str) -> Step | None:
        """The step of ``kind``, or None."""
        return next((s for s in self.steps if s.kind == kind), None)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The batch steps applied to ``x`` ``(N, C, H, W)`` in [0, 1] (a float32 copy; ``x`` is kept)."""
        out = np.array(x, np.float32)
        for step in self.steps:
            out = step.apply(out, rng)
        return np.ascontiguousarray(out)
