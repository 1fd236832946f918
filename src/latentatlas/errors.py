"""The exceptions latentatlas raises for problems a user can fix.

Every face (CLI, web, Python) turns a :class:`LatentAtlasError` into one line
of text; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "LatentAtlasError",
    "UsageError",
    "UsageErrors",
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


class UsageErrors(UsageError):
    """Several parameters are bad at once: ``problems`` holds each one's own error, the message all of them.

    Raise it with :meth:`raise_any`, which raises a single problem as itself.
    """

    def __init__(self, problems: "list[UsageError] | tuple[UsageError, ...]"):
        names = tuple(name for problem in problems for name in _names(problem))
        super().__init__("; ".join(str(problem) for problem in problems), parameter=names)
        self.problems = tuple(problems)

    @classmethod
    def raise_any(cls, problems: "list[UsageError]") -> None:
        """Raise nothing, the one problem, or all of them (each problem's own problems, if it has several)."""
        flat = [one for problem in problems for one in getattr(problem, "problems", (problem,))]
        if len(flat) > 1:
            raise cls(flat)
        if flat:
            raise flat[0]


def _names(error: LatentAtlasError) -> tuple[str, ...]:
    return (error.parameter,) if isinstance(error.parameter, str) else tuple(error.parameter or ())


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
