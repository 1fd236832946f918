"""Checks on parameters, declared once: one message for one kind of mistake, naming the parameter.

Public functions declare their constraints with :func:`validated`; the
private cores they call check nothing again. Messages name the parameter as
Python spells it (``k``, ``metric``); the command line maps those names to
its flags (:func:`latentatlas.cli.common.command`).
"""

from __future__ import annotations

import functools
import inspect
import numbers
import re
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Callable, Iterable, TypeVar

from .errors import UsageError

__all__ = ["whole_number", "at_least", "one_of", "validated", "parse_duration", "hours_text", "options_of", "MAX_SIDE", "MAX_CHANNELS"]

MAX_SIDE = 8192  # pixels per side of a model input: past this one image alone is gigabytes of activations
MAX_CHANNELS = 4096

F = TypeVar("F", bound=Callable[..., Any])
O = TypeVar("O")


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int, checked to lie in ``[low, high]`` before anything is allocated from it.

    Raises
    ------
    UsageError
        ``"<name> must be a whole number from <low> to <high>, got <value>"``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class _AtLeast:
    low: int

    def __call__(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < self.low:
            raise UsageError(f"{name} must be >= {self.low}, got {value!r}", parameter=name)


@dataclass(frozen=True)
class _OneOf:
    options: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> None:
        if value not in self.options:
            raise UsageError(f"{name} must be one of {', '.join(self.options)}, got {value!r}", parameter=name)


def at_least(low: int) -> Callable[[str, Any], None]:
    """A whole number of at least ``low``: ``"<name> must be >= <low>, got <value>"``."""
    return _AtLeast(low)


def one_of(options: Iterable[str]) -> Callable[[str, Any], None]:
    """One of ``options``: ``"<name> must be one of a, b, got 'c'"``."""
    return _OneOf(tuple(options))


def validated(**constraints: Callable[[str, Any], None]) -> Callable[[F], F]:
    """Check the named arguments of every call against their constraints before the function runs.

    Examples
    --------
    >>> @validated(k=at_least(1))
    ... def top(k: int = 10) -> int:
    ...     return k
    >>> top(0)
    Traceback (most recent call last):
    ...
    latentatlas.errors.UsageError: k must be >= 1, got 0
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no parameter {', '.join(sorted(unknown))}")

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, check in constraints.items():
                check(name, bound.arguments[name])
            return fn(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(min|w|d|h|m|s)\s*")


def parse_duration(duration: str | timedelta | None, parameter: str) -> timedelta | None:
    """``"1d"``, ``"6h"``, ``"1d12h"``, ``"30min"`` (w, d, h, m/min, s) or a timedelta; None stays None.

    ``parameter`` is the name the error message gives the duration.

    Raises
    ------
    UsageError
        If the text is not a positive duration, or is longer than a timedelta holds (about 2.7 million years).
    """
    if duration is None or isinstance(duration, timedelta):
        if duration is not None and duration <= timedelta(0):
            raise UsageError(f"{parameter} must be positive, got {duration}", parameter=parameter)
        return duration
    text = str(duration).strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text):
        raise UsageError(f"{parameter} must be a duration such as 1d, 6h, 1d12h or 30min, got {duration!r}",
                         parameter=parameter)
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    try:
        span = timedelta(seconds=seconds)
    except OverflowError:
        raise UsageError(f"{parameter} must be at most {timedelta.max.days} days, got {duration!r}",
                         parameter=parameter) from None
    return parse_duration(span, parameter)


def hours_text(span: timedelta) -> str:
    """A lead or duration as hours, the way leads are written: ``"1h"``, ``"0.5h"``, ``"24h"``."""
    return f"{span.total_seconds() / 3600:g}h"


def options_of(factory: type[O], given: O | None = None, /, **values: Any) -> O:
    """``given`` as it is, or the options dataclass ``factory`` made from ``values`` by name.

    What the Python face does with a command's options: a user gives the
    dataclass whole or its fields as keywords, never both.

    Raises
    ------
    UsageError
        Naming them, if a name is not a field of ``factory`` or both are given;
        or as ``factory`` checks its values.
    """
    if given is not None:
        if values:
            raise UsageError(f"give {factory.__name__} or its fields by name ({', '.join(values)}), not both",
                             parameter=tuple(values))
        return given
    known = [f.name for f in fields(factory)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                         parameter=tuple(unknown))
    return factory(**values)
