"""latentatlas: learn a compact latent space for one image collection and work in it.

``from latentatlas import Atlas`` is the Python face; the package imports
PyTorch only when ``Atlas`` is first used, so the command line starts fast.
"""

from typing import Any

from . import errors
from .errors import *  # noqa: F403 (the exception classes are part of the public API)

__version__ = "0.1.0"

__all__ = ["Atlas", "__version__", *errors.__all__]


def __getattr__(name: str) -> Any:
    if name == "Atlas":
        from .atlas import Atlas

        return Atlas
    raise AttributeError(f"module 'latentatlas' has no attribute {name!r}")
