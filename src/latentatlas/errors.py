"""The exceptions latentatlas raises for problems a user can fix.

Every face (CLI, web, Python) turns a :class:`LatentAtlasError` into one line
of text; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "LatentAtlasError",
    "UsageError",
    "BadInputError",
    "ModelMismatchError",
    "NotFittedError",
    "AtlasNotFoundError",
    "AtlasLockedError",
    "first_line",
]


class LatentAtlasError(Exception):
    """Base class of the errors a user can act on.

    ``exit_code`` is the status the command line exits with. ``parameter``
    names the parameters (one name or a tuple) the message mentions by their
    Python names, so that the command line can write its flags instead.
    """

    exit_code = 1

    def __init__(self, message: str = "", parameter: str | tuple[str, ...] | None = None):
        super().__init__(message)
        self.parameter = parameter


class UsageError(LatentAtlasError, ValueError):
    """A parameter has a value that cannot be used (exit status 2).

    Examples: ``k=0``, an unknown id, a malformed ``where`` predicate.
    """

    exit_code = 2


class BadInputError(LatentAtlasError, ValueError):
    """A file or array cannot be read or has content we cannot use."""


class ModelMismatchError(LatentAtlasError):
    """The model does not match the atlas, a query or a file."""


class NotFittedError(LatentAtlasError):
    """The atlas has no trained model yet."""


class AtlasNotFoundError(LatentAtlasError, FileNotFoundError):
    """No atlas exists at the given path."""


class AtlasLockedError(LatentAtlasError):
    """Another process holds the atlas's database (DuckDB allows one writer or several readers)."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message with its whitespace collapsed, for one-line reports."""
    return " ".join(str(error).split("\n")[0].split())
