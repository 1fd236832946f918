"""The small spec language of corruptions and augmentations: ``kind`` or ``kind:VALUE``, one step per spec."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Mapping, Sequence

from ..errors import UsageError

__all__ = ["SpecLanguage", "Numeric"]


@dataclass(frozen=True)
class SpecLanguage:
    """Parses specs into steps of the classes in ``kinds`` and words its errors.

    Parameters
    ----------
    what : str
        What a step is called in messages (``"corruption"``).
    kinds : mapping of str to class
        Each class has ``parse(spec, arg)`` returning the step.
    known : str
        The specs a user may write, as shown in messages.
    """

    what: str
    kinds: Mapping[str, Any]
    known: str

    def bad(self, spec: str, reason: str) -> UsageError:
        """The one-line error for ``spec``: what is wrong and what is known."""
        return UsageError(f"{self.what} {spec!r}: {reason} (known: {self.known})")

    def parse(self, specs: Sequence[str]) -> tuple[Any, ...]:
        """The steps of ``specs`` in order; :class:`UsageError` on an unknown kind or a bad argument."""
        steps = []
        for spec in specs:
            kind, sep, arg = str(spec).strip().partition(":")
            if kind.lower() not in self.kinds:
                raise self.bad(spec, f"unknown kind {kind!r}")
            steps.append(self.kinds[kind.lower()].parse(self, spec, arg.strip() if sep else None))
        return tuple(steps)

    def number(self, spec: str, arg: str | None, name: str, low: float, high: float, integer: bool = False) -> float:
        """``arg`` as a number (an int if ``integer``) in [low, high]."""
        if arg is None:
            raise self.bad(spec, f"needs {name}")
        try:
            value = int(arg) if integer else float(arg)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            raise self.bad(spec, f"{name} must be {kind} in [{low:g}, {high:g}], got {arg!r}")
        return value

    def no_argument(self, spec: str, arg: str | None, kind: str) -> None:
        """Refuse an argument to a kind that takes none."""
        if arg is not None:
            raise self.bad(spec, f"{kind} takes no argument")


class Numeric:
    """A step of one number, written ``kind:VALUE`` (or ``kind`` when it has a ``default``).

    Subclasses are frozen dataclasses of that one field.
    """

    kind: ClassVar[str]
    argument: ClassVar[str]
    bounds: ClassVar[tuple[float, float]]
    integer: ClassVar[bool] = False
    default: ClassVar[float | None] = None

    @classmethod
    def parse(cls, language: SpecLanguage, spec: str, arg: str | None):
        if arg is None and cls.default is not None:
            return cls(cls.default)
        return cls(language.number(spec, arg, cls.argument, *cls.bounds, integer=cls.integer))

    @property
    def spec(self) -> str:
        return f"{self.kind}:{getattr(self, fields(self)[0].name):g}"
