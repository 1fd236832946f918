"""Analogue forecasts: what followed the past hours that looked like T, as an ensemble forecast of what follows T.

For a query time ``T`` the ``k`` analogues are found among the stored rows
(under the analogue options of :mod:`latentatlas.analogues.options`); for
each lead the members are the stored fields valid at each analogue's time
plus the lead, at the same tile, read again through the atlas's reader in
the source's units (dBZ after ``--clip`` for radar). Only rows followed by
a stored field at every lead can be analogues, and rows within the longest
lead of ``T`` never are, so no member is ``T``'s own future. From the
members: the ensemble mean, its spread (standard deviation) and, per
threshold, the probability of exceeding it at every pixel; beside them the
truth (the stored field at ``T`` + lead) when the atlas holds it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..checks import at_least, hours_text, one_of
from ..errors import BadInputError, UsageError
from ..pictures.grids import REFLECTIVITY
from ..ops.at_time import format_time, parse_time, row_at
from ..ops.rows import RowReader, atlas_geometry, read_pixels, row_geometry
from ..search.engine import Engine, EngineCache
from ..search.metrics import METRICS
from ..search.neighbours import parse_window
from ..store.database import Store
from .find import Analogues, find_analogues, rerank_for, restrict
from .options import AnalogueOptions
from .blend import BLEND_HOURS, blend_terms, learn_weights, mixture_crps
from .references import PAST_FIELDS, nowcast, parse_references
from .scores import ESTIMATOR, crps, exceedance
from .timeline import Timeline, shown_step

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["ForecastOptions", "Ensembles", "LeadForecast", "Forecast", "forecast", "forecast_picture", "parse_leads",
           "parse_period", "read_fields", "row_time", "save_forecast", "write_members", "DEFAULT_THRESHOLDS"]

DEFAULT_THRESHOLDS = (20.0, 35.0)  # dBZ: rain, and heavy rain or storms


def parse_leads(leads: str | Sequence[str | timedelta], parameter: str = "lead") -> list[timedelta]:
    """``"1h,3h,6h"`` or a sequence of durations, as sorted distinct timedeltas.

    Raises
    ------
    UsageError
        If one is not a positive duration, or none is given.
    """
    parts = leads.split(",") if isinstance(leads, str) else list(leads)
    parsed = sorted({parse_window(p.strip() if isinstance(p, str) else p, parameter) for p in parts if p != ""})
    if not parsed:
        raise UsageError(f"{parameter} needs at least one duration such as 1h", parameter=parameter)
    return parsed


def check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    """``thresholds`` as a tuple of finite numbers.

    Raises
    ------
    UsageError
        Naming ``threshold``, if one is not a finite number.
    """
    try:
        values = tuple(float(t) for t in thresholds)
    except (TypeError, ValueError):
        values = (float("nan"),)
    if not all(np.isfinite(values)):
        raise UsageError(f"threshold must be finite numbers, got {thresholds!r}", parameter="threshold")
    return values


@dataclass(frozen=True, kw_only=True)
class ForecastOptions:
    """The options of an analogue forecast, checked on creation and passed whole from the faces to :func:`forecast`.

    Parameters
    ----------
    leads : str or sequence
        ``"1h,3h,6h"`` or durations.
    k : int
        Analogues, hence members per lead.
    metric : {"l2", "sqeuclidean", "cosine", "ip"}
    analogue : AnalogueOptions
        Season window, minimum separation, trend window, region and channel weights of the search.
    thresholds : sequence of float
        Values whose exceedance probability is forecast (source units).
    where : str, optional
        SQL predicate on ``images`` the analogues must pass.
    references : str or sequence, optional
        ``"extrapolation,steps"``: pySTEPS' nowcasts from the last three
        fields (:mod:`latentatlas.analogues.references`; STEPS with ``k``
        members), beside the analogues at every lead.
    blend : bool
        Also the blend of extrapolation and analogues (:mod:`latentatlas.analogues.blend`).

    Raises
    ------
    UsageError
        Naming the parameter, on a lead that is no positive duration, ``k < 1``,
        an unknown metric or reference, or a threshold that is not a number.
    """

    leads: str | Sequence[str | timedelta] = ("1h", "3h", "6h")
    k: int = 20
    metric: str = "l2"
    analogue: AnalogueOptions = AnalogueOptions()
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS
    where: str | None = None
    references: str | Sequence[str] | None = None
    blend: bool = False

    def __post_init__(self) -> None:
        parse_leads(self.leads)
        at_least(1)("k", self.k)
        one_of(METRICS)("metric", self.metric)
        check_thresholds(self.thresholds)
        if self.references is not None:
            parse_references(self.references)

    @property
    def nowcasts(self) -> tuple[str, ...]:
        """The references by name (none: ``()``)."""
        return () if self.references is None else parse_references(self.references)


def parse_period(text: str | tuple) -> tuple[datetime, datetime]:
    """``"2019-11-01/2020-01-01"`` (start included, end excluded) or a pair, as naive UTC datetimes.

    Raises
    ------
    UsageError
        If it is not two times separated by ``/`` with the start first.
    """
    parts = text.split("/") if isinstance(text, str) else list(text)
    if len(parts) != 2:
        raise UsageError(f"test must be START/END such as 2019-11-01/2020-01-01, got {text!r}", parameter="test")
    try:
        start, end = parse_time(parts[0]), parse_time(parts[1])
    except UsageError:
        raise UsageError(f"test must be START/END such as 2019-11-01/2020-01-01, got {text!r}", parameter="test") from None
    if end <= start:
        raise UsageError(f"test must end after it starts, got {text!r}", parameter="test")
    return start, end


def read_fields(store: Store, ids: Sequence[int], reader: RowReader | None = None) -> dict[int, np.ndarray]:
    """The fields of ``ids`` read again as they were embedded (float32, a single channel as ``(H, W)``).

    Raises
    ------
    BadInputError
        If some cannot be read as they were embedded.
    """
    wanted = np.unique(np.asarray(ids, np.int64))
    pixels = read_pixels(store, wanted, reader)
    if pixels.failures:
        raise BadInputError(f"{len(pixels.failures)} field(s) could not be read again, e.g. {pixels.failures[0]}")
    return {int(i): _plane(image) for i, image in zip(pixels.ids, pixels.images)}


def _plane(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, np.float32)
    return array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array


class Ensembles:
    """What analogue ensembles of one atlas need: its engine, its timeline, and which rows a lead follows.

    ``candidates`` are the rows (sorted ids) followed by a stored row at
    every lead (and passing ``where``, and overlapping the options'
    region); ``followers`` maps each timeline row to its row at each lead
    (-1: none).
    """

    def __init__(self, store: Store, engine: Engine, leads: Sequence[timedelta], metric: str = "l2",
                 options: AnalogueOptions | None = None, where: str | None = None,
                 model: Callable[[], LatentModel] | None = None):
        self.engine, self.metric, self.options, self.model = engine, metric, options or AnalogueOptions(), model
        self.leads = list(leads)
        self.timeline = Timeline.of(store)
        self.followers = np.stack([self.timeline.shifted(self.timeline.ids, _micros(lead)) for lead in self.leads], 1)
        candidates = self.timeline.ids[(self.followers >= 0).all(axis=1)]
        if where is not None:
            candidates = np.intersect1d(candidates, store.ids_where(where))
        self.candidates = np.sort(restrict(store, self.options, candidates))
        self.candidate_times = self.timeline.time_of(self.candidates)
        self.longest = _micros(max(self.leads))

    def allowed(self, excluded: Sequence[tuple[np.datetime64, np.datetime64]]) -> np.ndarray:
        """The candidates whose time lies in none of the ``excluded`` closed intervals."""
        keep = np.ones(len(self.candidates), bool)
        for low, high in excluded:
            keep &= (self.candidate_times < low) | (self.candidate_times > high)
        return self.candidates[keep]

    def analogues(self, query_id: int, k: int, excluded: Sequence[tuple[np.datetime64, np.datetime64]] = ()) -> Analogues:
        """The ``k`` analogues of stored row ``query_id``, never within the longest lead of its time nor in ``excluded``."""
        when = self.timeline.time_of(np.array([query_id]))[0]
        around = [(when - self.longest, when + self.longest)] if not np.isnat(when) else []
        vector = self.engine.vectors(np.array([query_id]))[0]
        return find_analogues(self.engine, self.timeline, vector, k, self.metric, self.options, query_id, when,
                              self.allowed([*around, *excluded]),
                              rerank_for(self.options, self.model, self.engine, vector))

    def following(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), leads)``: the row at each lead after each of ``ids`` (-1: none)."""
        at = self.timeline.position(ids)
        rows = self.followers[np.maximum(at, 0)]
        return np.where((at >= 0)[:, None], rows, -1)


@dataclass
class LeadForecast:
    """The ensemble at one lead: members ``(m, H, W)``, their ids, mean, spread, exceedance probabilities, truth.

    ``references`` holds the members of each nowcast reference (``{"steps": (m, H, W)}``);
    ``blend`` the blend's weight on extrapolation and the extrapolated field
    (:mod:`latentatlas.analogues.blend`).
    """

    lead: timedelta
    member_ids: np.ndarray
    members: np.ndarray
    thresholds: tuple[float, ...]
    truth_id: int | None = None
    truth: np.ndarray | None = None
    references: dict[str, np.ndarray] = field(default_factory=dict)
    blend: tuple[float, np.ndarray] | None = None
    mean: np.ndarray = field(init=False)
    spread: np.ndarray = field(init=False)
    probabilities: dict[float, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.mean = self.members.mean(axis=0)
        self.spread = self.members.std(axis=0)
        self.probabilities = {t: exceedance(self.members, t) for t in self.thresholds}

    def summary(self, times: dict[int, datetime]) -> dict[str, Any]:
        """JSON-able: the lead, members' ids and times, field statistics, and the CRPS and MAE against the truth."""
        data: dict[str, Any] = {
            "lead": hours_text(self.lead), "members": [{"id": int(i), "time": times[int(i)].isoformat()} for i in self.member_ids],
            "mean": {"min": float(self.mean.min()), "max": float(self.mean.max()), "average": float(self.mean.mean())},
            "spread": float(self.spread.mean()),
            "exceedance": {f"{t:g}": float(p.mean()) for t, p in self.probabilities.items()},
            "truth": None,
        }
        if self.truth is not None:
            data["truth"] = {"id": self.truth_id, "time": times[self.truth_id].isoformat(),
                             "crps": float(crps(self.members, self.truth).mean()),
                             "mae_of_mean": float(np.abs(self.mean - self.truth).mean()),
                             "exceeded": {f"{t:g}": float((self.truth > t).mean()) for t in self.thresholds}}
        if self.blend is not None:
            weight, extrapolated = self.blend
            data["blend"] = {"weight": weight, "mean": float(self.blend_mean().mean()), **(
                {} if self.truth is None else {
                    "crps": mixture_crps(blend_terms(self.members, extrapolated, self.truth), weight),
                    "mae_of_mean": float(np.abs(self.blend_mean() - self.truth).mean())})}
        for name, members in self.references.items():
            data.setdefault("references", {})[name] = {"members": len(members), "mean": float(members.mean()), **(
                {} if self.truth is None else {"crps": float(crps(members, self.truth).mean()),
                                               "mae_of_mean": float(np.abs(members.mean(axis=0) - self.truth).mean())})}
        return data


    def blend_mean(self) -> np.ndarray:
        """The blend's mean field: the weighted mean of the extrapolation and the analogues' mean."""
        weight, extrapolated = self.blend
        return weight * extrapolated + (1 - weight) * self.mean


@dataclass
class Forecast:
    """An analogue forecast of the hour after ``time``: the analogues and one ensemble per lead."""

    time: datetime
    query_id: int
    settings: dict[str, Any]
    analogues: Analogues
    leads: list[LeadForecast]
    times: dict[int, datetime]
    query: np.ndarray | None = None
    out: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"time", "query_id", "settings", "analogues": [...], "leads": [...], "out"}``."""
        return {
            "time": self.time.isoformat(), "query_id": self.query_id, "settings": self.settings,
            "analogues": [{"rank": rank, "id": int(i), "time": self.times[int(i)].isoformat(), "distance": float(d)}
                          for rank, (i, d) in enumerate(zip(self.analogues.ids, self.analogues.distances), start=1)],
            "leads": [lead.summary(self.times) for lead in self.leads],
            "out": self.out or None,
        }


def forecast(
    store: Store,
    time: str | datetime,
    options: ForecastOptions = ForecastOptions(),
    tile: tuple[int, int] | None = None,
    engines: EngineCache | None = None,
    model: Callable[[], LatentModel] | None = None,
) -> Forecast:
    """The analogue forecast of the hours after ``time`` at each lead (see the module's notes and :class:`ForecastOptions`).

    Parameters
    ----------
    time : str or datetime
        The stored hour forecast from (``"2019-09-20 05:00"``); in an atlas
        of tiles, ``tile`` ``(tile_row, tile_col)`` says which.
    engines : EngineCache, optional
        Reuses loaded codes between calls.
    model : callable, optional
        Returns the atlas's model; needed by channel weights only.

    Raises
    ------
    UsageError
        On an unknown time, when no row qualifies as an analogue, or when
        a reference lacks the fields before ``time``.
    BadInputError
        If the members' fields cannot be read again.
    """
    k, metric, where, blend = options.k, options.metric, options.where, options.blend
    analogue = options.analogue
    lead_list, nowcasts, chosen = parse_leads(options.leads), options.nowcasts, check_thresholds(options.thresholds)
    when = parse_time(time)
    query_id = row_at(store, when, tile)
    engine = (engines or EngineCache()).get(store, metric, exact=True)
    ensembles = Ensembles(store, engine, lead_list, metric, analogue, where, model)
    found = ensembles.analogues(query_id, k)
    if len(found.ids) == 0:
        raise UsageError(f"no stored row qualifies as an analogue of {format_time(when)}: none is followed by "
                         f"rows at every lead ({', '.join(hours_text(l) for l in lead_list)}) and passes the options")
    members = ensembles.following(found.ids)
    truths = ensembles.following(np.array([query_id]))[0]
    past = ensembles.timeline.last(query_id, PAST_FIELDS) if nowcasts or blend else np.array([], np.int64)
    if (past < 0).any():
        raise UsageError(f"reference needs the {PAST_FIELDS} fields up to {format_time(when)}, one every "
                         f"{shown_step(ensembles.timeline.step)}; {int((past < 0).sum())} are not stored",
                         parameter="reference")
    ids = np.concatenate([members.reshape(-1), truths[truths >= 0], [query_id], past])
    fields = read_fields(store, ids)
    steps = ensembles.timeline.steps_of(lead_list) if nowcasts or blend else []
    nowcast_of = {name: nowcast(name, np.stack([fields[int(i)] for i in past]), steps, k)
                  for name in (*nowcasts, *(("extrapolation",) if blend and "extrapolation" not in nowcasts else ()))}
    weights = _blend_weights(store, ensembles, fields, when, steps, k) if blend else [None] * len(lead_list)
    times = {int(i): t.astype("datetime64[us]").item() for i, t in zip(ids, ensembles.timeline.time_of(ids))}
    times.update({int(i): t.astype("datetime64[us]").item() for i, t in zip(found.ids, found.times)})
    per_lead = [LeadForecast(lead, members[:, n], np.stack([fields[int(i)] for i in members[:, n]]), chosen,
                             int(truths[n]) if truths[n] >= 0 else None,
                             fields[int(truths[n])] if truths[n] >= 0 else None,
                             {name: nowcast_of[name][:, n] for name in nowcasts},
                             None if weights[n] is None else (weights[n], nowcast_of["extrapolation"][0, n]))
                for n, lead in enumerate(lead_list)]
    settings = {"k": k, "metric": metric, "leads": [hours_text(l) for l in lead_list], "thresholds": list(chosen),
                "where": where, "crps_estimator": ESTIMATOR, **(analogue.to_dict() if analogue is not None else {}),
                **({"references": list(nowcasts)} if nowcasts else {}), **({"blend_hours": BLEND_HOURS} if blend else {})}
    if analogue is not None and analogue.trend is not None:
        settings["skipped_without_trend_window"] = found.skipped
    return Forecast(when, query_id, settings, found, per_lead, times, fields[query_id])


def _blend_weights(store: Store, ensembles: Ensembles, fields: dict[int, np.ndarray], when: datetime,
                   steps: list[int], k: int) -> list[float]:
    """The blend's weight per lead, learnt on archive hours more than the longest lead from ``when``."""
    cache, reader = dict(fields), RowReader(store)

    def field_of(ids: np.ndarray) -> np.ndarray:
        missing = [int(i) for i in ids if int(i) not in cache]
        if missing:
            cache.update(read_fields(store, missing, reader))
        return np.stack([cache[int(i)] for i in ids])

    at = np.datetime64(when, "us")
    return learn_weights(ensembles, field_of, [(at - ensembles.longest, at + ensembles.longest)], steps, k, 0)


def save_forecast(store: Store, result: Forecast, out: str | Path, colormap: str = REFLECTIVITY) -> dict[str, str]:
    """Write ``forecast.png`` (:func:`forecast_picture`) and ``members.parquet`` into ``out``."""
    from ..pictures.grids import save_png

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result.out["members"] = str(write_members(result, folder / "members.parquet"))
    figure = forecast_picture(store, result, colormap)
    if figure is not None:
        result.out["picture"] = str(save_png(figure, folder / "forecast.png"))
    return result.out


def forecast_picture(store: Store, result: Forecast, colormap: str = REFLECTIVITY):
    """The forecast as a figure: per lead the truth, the mean, the references' and the blend's means, the spread
    and the probabilities, each a map where the atlas knows its grid; None when the members are not 2-D fields.

    Fields are coloured in ``colormap`` over the atlas's ``clip`` range.
    """
    from ..pictures.forecasts import forecast_figure
    from ..ops.embed import reader_options

    if not all(lead.mean.ndim == 2 for lead in result.leads):
        return None
    rows = [{"lead": hours_text(lead.lead), "truth": lead.truth, "mean": lead.mean, "spread": lead.spread,
             "valid": None if lead.truth_id is None else f"{format_time(result.times[lead.truth_id])} UTC",
             "references": {**{name: members.mean(axis=0) for name, members in lead.references.items()},
                            **({"blend": lead.blend_mean()} if lead.blend is not None else {})},
             "probabilities": lead.probabilities} for lead in result.leads]
    title = f"Analogue forecast from {format_time(result.time)} UTC ({len(result.analogues.ids)} members)"
    geometry = atlas_geometry(store)
    place = None if geometry is None else row_geometry(geometry, store.images([result.query_id])[result.query_id])
    return forecast_figure(rows, reader_options(store).clip, colormap, title, place)


def row_time(store: Store, id: int) -> tuple[datetime, tuple[int, int] | None]:
    """The time of stored row ``id`` and its tile (None for a whole field): what :func:`forecast` takes.

    Raises
    ------
    UsageError
        If there is no such row or it has no time.
    """
    try:
        row = store.images([id]).get(id)
    except UsageError as error:  # not a row id at all
        raise UsageError(str(error), parameter="id") from None
    if row is None:
        raise UsageError(f"unknown id {id}", parameter="id")
    if row["time"] is None:
        raise UsageError(f"row {id} has no time: a forecast starts from a stored hour", parameter="id")
    tile = None if row.get("tile_row") is None else (int(row["tile_row"]), int(row["tile_col"]))
    return row["time"], tile


def write_members(result: Forecast, path: str | Path) -> Path:
    """The members as Parquet: one row per lead and member (lead in hours, rank, analogue, member id and time, values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: dict[str, list] = {name: [] for name in ("lead_hours", "rank", "analogue_id", "analogue_time", "distance",
                                                   "id", "time", "height", "width", "values")}
    for lead in result.leads:
        for rank, (analogue, distance, member, values) in enumerate(
                zip(result.analogues.ids, result.analogues.distances, lead.member_ids, lead.members), start=1):
            for name, value in (("lead_hours", lead.lead.total_seconds() / 3600), ("rank", rank),
                                ("analogue_id", int(analogue)), ("analogue_time", result.times[int(analogue)]),
                                ("distance", float(distance)), ("id", int(member)), ("time", result.times[int(member)]),
                                ("height", values.shape[0]), ("width", values.shape[1] if values.ndim > 1 else 1),
                                ("values", values.reshape(-1).astype(np.float32))):
                rows[name].append(value)
    table = pa.table({**{name: rows[name] for name in rows if name != "values"},
                      "values": pa.array(rows["values"], pa.list_(pa.float32()))})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, staging)
    os.replace(staging, path)
    return path


def _micros(span: timedelta) -> np.timedelta64:
    return np.timedelta64(int(span.total_seconds() * 1e6), "us")
