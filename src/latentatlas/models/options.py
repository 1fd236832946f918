"""What a user chooses about the model, and the network those choices and a preset give.

The presets (:mod:`latentatlas.models.presets`) fill in widths and depth;
:func:`architecture` turns the options, the preprocessing and the number of
training images into an :class:`~latentatlas.models.autoencoder.AutoencoderConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .autoencoder import AutoencoderConfig
from .corruptions import Corruption
from .preprocess import PreprocessConfig
from .presets import AUTO, choose_preset, stem_for

__all__ = ["ModelOptions", "architecture", "CONV_BLOCKS"]


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """What a user chooses about the model, its preprocessing and what it learns to undo.

    ``None`` for the preprocessing means "follow the data" (see
    :meth:`PreprocessConfig.infer`); for the network's fields it means
    "what the preset and the bottleneck suit" (see :func:`architecture`).
    ``corrupt`` holds corruption specs such as ``"noise:0.1"`` (see
    :mod:`latentatlas.models.corruptions`). ``max_images`` trains on a
    seeded sample of that many images; ``cache_images`` streams the
    training images from their source through a cache of that many
    decoded images instead of holding all of them.
    """

    code_size: int = 64
    size: int | tuple[int, int] | None = None
    channels: int | None = None
    fit: str = "resize"
    value_range: tuple[float, float] | None = None
    preset: str = AUTO
    family: str | None = None
    base_channels: int | None = None
    max_channels: int | None = None
    level_blocks: int | None = None
    stem: int | None = None
    norm: str | None = None
    linear_path: bool | None = None
    bottleneck: str = "linear"
    levels: int | None = None
    blocks: int | None = None
    residual: bool | None = None
    corrupt: tuple[str, ...] = ()
    max_images: int | None = None
    cache_images: int | None = None

    def __post_init__(self) -> None:
        specs = (self.corrupt,) if isinstance(self.corrupt, str) else self.corrupt
        object.__setattr__(self, "corrupt", tuple(specs or ()))
        for name in ("max_images", "cache_images"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be >= 1, got {value}")



CONV_BLOCKS = 6


def architecture(options: ModelOptions, preprocess: PreprocessConfig, corruption: Corruption,
                 n_images: int = 0) -> AutoencoderConfig:
    """The network for ``options`` on ``n_images`` images of ``preprocess``, taking inputs corrupted by ``corruption``.

    Unset choices follow the bottleneck. ``linear`` (a vector code): the
    residual family sized by the preset (see :mod:`latentatlas.models.presets`),
    no normalisation, a pixel-unshuffle stem by the input size, and no
    linear path (the trainer still keeps PCA when the network does not
    beat it). ``conv`` (restoration): the classic family with batch norm, no
    halving, ``CONV_BLOCKS`` convolutions at full resolution and residual
    prediction, which measured best for a short CPU budget.
    """
    conv = options.bottleneck == "conv"
    family = options.family or ("classic" if conv else "residual")
    preset = choose_preset(options.preset, n_images)
    residual_family = family == "residual"
    linear_path = bool(options.linear_path)  # None: off (the conv bottleneck refuses it when asked)
    residual = conv if options.residual is None else options.residual
    stem = options.stem or (stem_for(preprocess.height, preprocess.width) if residual_family and not conv else 1)
    return AutoencoderConfig(
        in_channels=corruption.input_channels(preprocess.channels), out_channels=preprocess.channels,
        height=preprocess.height, width=preprocess.width, code_size=options.code_size,
        base_channels=options.base_channels or (preset.base_channels if residual_family else 32),
        max_channels=options.max_channels or (preset.max_channels if residual_family else 256),
        norm=options.norm or ("none" if residual_family else "batch"),
        linear_path=linear_path, output="identity" if linear_path or residual or residual_family else "sigmoid",
        bottleneck=options.bottleneck, levels=0 if conv and options.levels is None else options.levels,
        blocks=(CONV_BLOCKS if conv else 0) if options.blocks is None else options.blocks, residual=residual,
        family=family, stem=stem,
        level_blocks=options.level_blocks if options.level_blocks is not None else (
            preset.level_blocks if residual_family else 1),
    )
