"""How the core reports progress without printing: a callback the faces supply.

The core calls a :class:`ProgressCallback`; :class:`ProgressBar` draws those
calls as Rich bars on stderr (a terminal or a notebook), or off a terminal
(a log, CI) as a plain line at most every 10 s; :func:`shows_progress` gives
the Python API a bar by default.
"""

from __future__ import annotations

import functools
import inspect
import sys
import time
from typing import Any, Callable, Protocol, TypeVar

__all__ = ["ProgressBar", "ProgressCallback", "Progress", "shows_progress", "silent"]


class ProgressCallback(Protocol):
    """Called as work advances.

    Parameters
    ----------
    stage : str
        What is running (``"scan"``, ``"read"``, ``"train"``, ``"embed"``, ...).
    done, total : int
        Units finished and units in all (``total`` is ``None`` while unknown:
        a spinner).
    info : dict
        Figures worth showing, e.g. ``epoch``, ``train_loss``, ``val_loss``;
        a time-budgeted stage adds ``elapsed`` and ``budget`` in seconds.
    """

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None: ...


Progress = ProgressCallback | bool
"""What the Python API accepts: a callback, ``True`` (a bar) or ``False`` (nothing)."""


def silent(stage: str, done: int, total: int | None, **info: Any) -> None:
    """A callback that shows nothing."""


PLAIN_INTERVAL_S = 10.0  # off a terminal: at most one progress line this often
_clock = time.monotonic


class ProgressBar:
    """Rich bars on stderr, one per stage, fed as a :class:`ProgressCallback`.

    Drawn in terminals and notebooks; where stderr is neither (a log, CI) a
    plain line such as ``train · epoch 3/30: 120/500 24% (20 s)`` at most
    every :data:`PLAIN_INTERVAL_S` seconds, so quick commands print none;
    nothing when ``enabled`` is false. A time-budgeted stage (its events carry ``elapsed``
    and ``budget``) advances with whichever is further along, its steps or
    its budget, shows ``elapsed/budget s`` and ends at 100 %.

    Examples
    --------
    >>> with ProgressBar(enabled=False) as bar:
    ...     bar("read", 5, 10)
    """

    def __init__(self, enabled: bool = True):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        stderr = Console(stderr=True)
        drawn = stderr.is_terminal or stderr.is_jupyter
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=stderr, disable=not enabled or not drawn, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.plain = enabled and not drawn
        self.started = self.printed = _clock()

    def __enter__(self) -> "ProgressBar":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None:
        completed, scale, count = _position(done, total, info)
        description = _describe(stage, info)
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(description, total=scale, count=count)
        self.progress.update(self.tasks[stage], completed=completed, total=scale, description=description,
                             count=count)
        if self.plain:
            self._line(description, completed, scale, count)

    def _line(self, description: str, completed: float, total: float | None, count: str) -> None:
        """One plain line on stderr, unless one was printed less than :data:`PLAIN_INTERVAL_S` ago."""
        now = _clock()
        if now - self.printed < PLAIN_INTERVAL_S:
            return
        self.printed = now
        figures = " ".join(part for part in (count, f"{completed / total:.0%}" if total else "") if part)
        sys.stderr.write(f"{description}{': ' + figures if figures else ''} ({now - self.started:.0f} s)\n")
        sys.stderr.flush()


def _position(done: int, total: int | None, info: dict[str, Any]) -> tuple[float, float | None, str]:
    """Where the bar stands: ``(completed, total, label)``; a budget counts when it is further along."""
    budget, elapsed = info.get("budget"), info.get("elapsed")
    if total is None:
        return done, None, str(done) if done else ""
    if budget and elapsed is not None:
        fraction = 1.0 if done >= total else min(max(done / total, elapsed / budget), 0.99)
        return fraction * 100, 100, f"{_seconds(min(elapsed, budget))}/{_seconds(budget)} s"
    return done, total, f"{done}/{total}"


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _describe(stage: str, info: dict[str, Any]) -> str:
    parts = [stage]
    if "epoch" in info:
        parts.append(f"epoch {info['epoch']}" + (f"/{info['epochs']}" if info.get("epochs") else ""))
    for key in ("train_loss", "val_loss"):
        if info.get(key) is not None:
            parts.append(f"{key.split('_')[0]} {info[key]:.4g}")
    if info.get("failed"):
        parts.append(f"{info['failed']} failed")
    return " · ".join(parts)


Method = TypeVar("Method", bound=Callable[..., Any])


def shows_progress(method: Method) -> Method:
    """Let ``method``'s ``progress`` argument be a callback, ``True`` or ``False``.

    ``True`` (what the Python API defaults to) draws a :class:`ProgressBar`
    for the length of the call, ``False`` shows nothing, and a callback is
    passed on unchanged (so one bar serves calls made inside the call).
    """
    signature = inspect.signature(method)

    @functools.wraps(method)
    def with_progress(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        chosen = bound.arguments["progress"]
        if callable(chosen):
            return method(*bound.args, **bound.kwargs)
        with ProgressBar(enabled=bool(chosen)) as bar:
            bound.arguments["progress"] = bar
            return method(*bound.args, **bound.kwargs)

    return with_progress  # type: ignore[return-value]
