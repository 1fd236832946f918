"""The page's analogue work: the analogue options of a request, read in one place, and the forecast view.

:func:`analogue_options` is a FastAPI dependency whose query parameters are
the fields of :class:`~latentatlas.analogues.options.AnalogueOptions` (so a
new option reaches the page's API by itself); they are parsed and checked
by :meth:`AnalogueOptions.of`, every bad one named with its own error.
:func:`analogue_text` gives them as sent, to the forecast, which checks them
with its other parameters so that every bad one of all is named at once.

:class:`Forecasts` makes the forecast view of one request (JSON and the
maps as PNG) within the server's bounds on the work one request may ask for
(:data:`LIMITS`) and keeps the last few made, so that the page's JSON and a
later request for its picture share one computation.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Callable, Optional

from ..analogues import forecast as forecasting
from ..analogues.options import AnalogueOptions
from ..analogues.references import parse_references
from ..atlas import Atlas
from ..checks import hours_text
from ..errors import LatentAtlasError, UsageError, UsageErrors
from ..pictures.grids import figure_png

__all__ = ["analogue_options", "analogue_text", "holds_fields", "Forecast", "ForecastRequest", "Forecasts", "LIMITS"]

LIMITS = {"k": 30, "leads": 6, "longest_lead": timedelta(hours=24), "thresholds": 4}
_KEPT = 4  # forecasts kept made, the most recently asked for


def analogue_options(**values: Optional[str]) -> AnalogueOptions:
    """The request's analogue options (query parameters named as the fields of :class:`AnalogueOptions`)."""
    return AnalogueOptions.of(**values)


def analogue_text(**values: Optional[str]) -> tuple[tuple[str, str], ...]:
    """The request's analogue options as given, ``(name, text)`` of those set, for a request that checks them later."""
    return tuple((name, value) for name, value in values.items() if value is not None)


for _dependency, _returns in ((analogue_options, AnalogueOptions), (analogue_text, tuple)):
    _dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Optional[str])
         for option in fields(AnalogueOptions)], return_annotation=_returns)


@dataclass(frozen=True)
class Forecast:
    """A checked forecast request (see :meth:`ForecastRequest.checked`): what :class:`Forecasts` keeps its work by."""

    time: str | None
    id: int | None
    tile: tuple[int, int] | None
    leads: tuple[timedelta, ...]
    k: int
    thresholds: tuple[float, ...]
    references: tuple[str, ...]
    blend: bool
    analogue: AnalogueOptions


@dataclass(frozen=True)
class ForecastRequest:
    """What the forecast view asks for, as sent: the hour (``time``, or row ``id``, with its tile), leads, k,
    thresholds, the nowcast references, the blend and the analogue options (text by name).

    Errors name the API's parameters, the ``forecast`` command's flags:
    ``lead``, ``threshold``, ``reference``.
    """

    time: str | None = None
    id: int | None = None
    tile: tuple[int, int] | None = None
    leads: str = "1h,3h,6h"
    k: int = 10
    thresholds: str = "20,35"
    references: str | None = "extrapolation"
    blend: bool = True
    analogue: tuple[tuple[str, str], ...] = ()

    def checked(self) -> Forecast:
        """The request parsed and within :data:`LIMITS`.

        Raises
        ------
        UsageError
            Naming the parameter: not exactly one of time and id, a lead,
            threshold, reference or analogue option that cannot be read, or
            more than the limits; :class:`~latentatlas.errors.UsageErrors`
            with each one's error when several are bad.
        """
        problems: list[UsageError] = []

        def check(parse: Callable[[], Any]) -> Any:
            try:
                return parse()
            except UsageError as problem:
                problems.append(problem)
                return None

        if (self.time is None) == (self.id is None):
            problems.append(UsageError("give the hour to forecast from: a time or a row id", parameter=("time", "id")))
        if not 1 <= self.k <= LIMITS["k"]:
            problems.append(UsageError(f"k must be from 1 to {LIMITS['k']} members on this server, got {self.k}",
                                       parameter="k"))
        leads = check(lambda: _leads(self.leads))
        thresholds = check(lambda: _numbers(self.thresholds))
        references = check(lambda: () if not self.references else parse_references(self.references))
        analogue = check(lambda: AnalogueOptions.of(**dict(self.analogue)))
        UsageErrors.raise_any(problems)
        return Forecast(self.time, self.id, self.tile, leads, self.k, thresholds, references, self.blend, analogue)


class Forecasts:
    """Forecast views made on an atlas's cursors, the last :data:`_KEPT` kept (the atlas is read-only)."""

    def __init__(self) -> None:
        self._made: OrderedDict[Forecast, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.drawing = threading.Lock()  # matplotlib draws one figure at a time

    @staticmethod
    def warm_up() -> threading.Thread:
        """Import pySTEPS and scoringrules in the background (seconds), so the first forecast spends none of its time on it."""
        from ..analogues.references import pysteps_module

        def load() -> None:
            try:
                pysteps_module()
                import scoringrules  # noqa: F401  (its numba kernels compile on import)
            except (LatentAtlasError, ImportError):  # not installed: the forecasts that need them say so
                pass

        thread = threading.Thread(target=load, name="latentatlas-pysteps", daemon=True)
        thread.start()
        return thread

    def view(self, opened: Atlas, request: Forecast, picture: Callable[[bytes], str | None]) -> dict[str, Any]:
        """The forecast's JSON (:meth:`Forecast.to_dict`) with ``picture`` (its maps, as ``picture(png)`` gives them).

        Raises
        ------
        UsageError
            If the atlas holds no fields with times, or as :func:`latentatlas.analogues.forecast.forecast`.
        """
        made = self.made(opened, request)
        return {**made["json"], "picture": picture(made["png"])}

    def made(self, opened: Atlas, request: Forecast) -> dict[str, Any]:
        """``{"json", "png"}`` of a checked request: kept, or made now."""
        with self._lock:
            if request in self._made:
                self._made.move_to_end(request)
                return self._made[request]
        _check_fields(opened)
        time, tile = (request.time, request.tile) if request.id is None else forecasting.row_time(opened.store,
                                                                                                  request.id)
        options = forecasting.ForecastOptions(leads=request.leads, k=request.k, analogue=request.analogue,
                                              thresholds=request.thresholds, references=request.references or None,
                                              blend=request.blend)
        result = opened.forecast(time, tile=tile, options=options)
        with self.drawing:
            figure = forecasting.forecast_picture(opened.store, result)
            png = None if figure is None else figure_png(figure)
        made = {"json": result.to_dict(), "png": png}
        with self._lock:
            self._made[request] = made
            while len(self._made) > _KEPT:
                self._made.popitem(last=False)
        return made


def holds_fields(opened: Atlas) -> bool:
    """Whether the atlas's model reads its images as fields (one channel of floats: radar, temperature)."""
    try:
        preprocess = opened.model.preprocess
    except LatentAtlasError:  # no model yet, or one that cannot be read (info says which)
        return False
    return preprocess.holds_fields and preprocess.channels == 1


def _check_fields(opened: Atlas) -> None:
    """Refuse, in one line, an atlas whose images are not fields with times (a forecast reads what followed in time)."""
    if not holds_fields(opened):
        raise UsageError("a forecast needs an atlas of fields with times (radar, GRIB2, NetCDF); this atlas holds "
                         "images, not fields", parameter=("time", "id"))
    if opened.store.con.execute("SELECT min(time) FROM images").fetchall()[0][0] is None:
        raise UsageError("a forecast needs an atlas of fields with times; this atlas's rows have no time",
                         parameter=("time", "id"))


def _leads(text: str) -> tuple[timedelta, ...]:
    """``"1h,3h,6h"``: at most :data:`LIMITS` ``["leads"]`` leads, none beyond ``["longest_lead"]``."""
    leads = forecasting.parse_leads(text)
    if len(leads) > LIMITS["leads"] or leads[-1] > LIMITS["longest_lead"]:
        raise UsageError(f"lead: at most {LIMITS['leads']} leads up to {hours_text(LIMITS['longest_lead'])} on this "
                         f"server, got {text!r}", parameter="lead")
    return tuple(leads)


def _numbers(text: str) -> tuple[float, ...]:
    """``"20,35"``: finite numbers, at most :data:`LIMITS` ``["thresholds"]`` of them."""
    parts = [part for part in str(text).replace(" ", "").split(",") if part]
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if not values or len(values) > LIMITS["thresholds"] or not all(abs(v) < float("inf") for v in values):
        raise UsageError(f"threshold must be 1 to {LIMITS['thresholds']} finite numbers separated by commas "
                         f"(20,35), got {text!r}", parameter="threshold")
    return values
