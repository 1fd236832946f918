"""latentatlas: learn a compact latent space for one image collection and work in it.

``from latentatlas import Atlas`` is the Python face; the package imports
PyTorch only when ``Atlas`` is first used, so the command line starts fast.
"""

from typing import Any

from .errors import (
    AtlasNotFoundError,
    BadInputError,
    LatentAtlasError,
    ModelMismatchError,
    NotFittedError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "Atlas",
    "LatentAtlasError",
    "UsageError",
    "BadInputError",
    "ModelMismatchError",
    "NotFittedError",
    "AtlasNotFoundError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Atlas":
        from .atlas import Atlas

        return Atlas
    raise AttributeError(f"module 'latentatlas' has no attribute {name!r}")
