"""How the core reports progress without printing: a callback the faces supply."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ProgressCallback", "silent"]


class ProgressCallback(Protocol):
    """Called as work advances.

    Parameters
    ----------
    stage : str
        What is running (``"read"``, ``"train"``, ``"embed"``, ...).
    done, total : int
        Units finished and units in all (``total`` may be ``None``).
    info : dict
        Figures worth showing, e.g. ``epoch``, ``train_loss``, ``val_loss``.
    """

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None: ...


def silent(stage: str, done: int, total: int | None, **info: Any) -> None:
    """A callback that shows nothing."""
