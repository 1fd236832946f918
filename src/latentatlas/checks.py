"""Checks on parameters shared by the configurations: one message for one kind of mistake."""

from __future__ import annotations

from typing import Any

from .errors import UsageError

__all__ = ["whole_number", "MAX_SIDE", "MAX_CHANNELS"]

MAX_SIDE = 8192  # pixels per side of a model input: past this one image alone is gigabytes of activations
MAX_CHANNELS = 4096


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
