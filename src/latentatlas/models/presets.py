"""Model presets: the size of the network, chosen by default from the number of training images.

Kept apart from the architecture (as CompressAI keeps its zoo of models
apart from its layers): a preset only fills in the widths and depth of a
:class:`~latentatlas.models.autoencoder.AutoencoderConfig`; anything a user
sets explicitly wins. The table and the thresholds of ``auto`` come from
the study in ``docs/model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

__all__ = ["Preset", "PRESETS", "AUTO", "choose_preset", "stem_for"]

AUTO = "auto"


@dataclass(frozen=True)
class Preset:
    """Widths and depth of the residual family."""

    name: str
    base_channels: int
    max_channels: int
    level_blocks: int
    up_to_images: int | None  # ``auto`` takes the first preset whose bound the collection stays under


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("tiny", 16, 128, 1, 20_000),
    Preset("small", 24, 192, 1, 100_000),
    Preset("base", 32, 256, 1, None),
    Preset("large", 48, 384, 2, None),
)}


def choose_preset(name: str, n_images: int) -> Preset:
    """The preset called ``name``; ``auto`` grows with ``n_images`` (tiny below 20,000, small below 100,000, else base).

    Small networks win under a CPU time budget: on the radar year (7,296
    training fields, 240 s) ``tiny`` beat PCA on validation while ``base``,
    four times the work per image, was still above it (``docs/model.md``).
    ``large`` is never chosen automatically.

    Raises
    ------
    UsageError
        On an unknown name.
    """
    if name == AUTO:
        return next(p for p in PRESETS.values() if p.up_to_images is None or n_images < p.up_to_images)
    if name not in PRESETS:
        raise UsageError(f"preset must be {AUTO} or one of {', '.join(PRESETS)}, got {name!r}")
    return PRESETS[name]


def stem_for(height: int, width: int) -> int:
    """The pixel-unshuffle factor for an input size: 4 from 128 pixels a side, 2 from 32, else 1 (it must divide both)."""
    for stem, side in ((4, 128), (2, 32)):
        if min(height, width) >= side and height % stem == 0 and width % stem == 0:
            return stem
    return 1
