"""Verification of analogue forecasts: every hour of a test period forecast from the rest, scored as meteorologists score.

Each stored hour ``T`` of the test period ``[start, end)`` is forecast at
every lead by its ``k`` analogues (:mod:`latentatlas.analogues.forecast`), drawn
only from rows whose time lies outside ``[start - longest lead, end)``, so
neither an analogue nor a member comes from the test period. Beside it
stand three reference ensembles of the same truth (the stored field at
``T`` + lead):

* climatology: every stored field at the truth's hour of day, within the
  season window of its date (all dates without one), outside the test period;
* persistence: the field at ``T``, a one-member ensemble;
* random: the fields that followed ``k`` hours drawn at random from the
  rows analogues may come from (a floor any method should beat).

Scores per lead, per pixel of the fields as read and averaged: the fair CRPS
of each ensemble (:mod:`latentatlas.analogues.scores`: ensembles of 1, ``k``
and about 40 members compare without favouring the larger) and its skill score ``1 - CRPS / CRPS_reference``; per
threshold the Brier score of each ensemble's exceedance probability, its
skill against climatology, and the analogues' reliability table; and the
rank histogram of the truth among the analogue members (ties at random;
over the forecasts of the most common ensemble size, ``k`` unless fewer
analogues qualify).
Hours whose truth, or whose trend window, is not stored are skipped and
counted, as are leads whose truth has no climatological member.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..checks import hours_text, parse_duration
from ..errors import UsageError
from ..ops.at_time import format_time
from ..ops.rows import atlas_geometry
from ..progress import ProgressCallback, silent
from ..search.engine import EngineCache
from ..store.database import Store
from .forecast import Ensembles, ForecastOptions, check_thresholds, parse_leads, parse_period, read_fields
from .options import AnalogueOptions
from .blend import BLEND_HOURS, blend_terms, learn_weights, mixture_crps
from .references import PAST_FIELDS, nowcast
from .scores import ESTIMATOR, FieldScores, Reliability, brier, crps, exceedance, rank_counts, skill
from .spaces import crps_by_space, parse_spaces, space_vectors
from .timeline import season_distance

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = ["VerifyOptions", "AnalogueEvaluation", "evaluate_analogues", "save_evaluation", "summary_tables", "METHODS"]

METHODS = ("analogue", "climatology", "persistence", "random")
_DAY_US = 86_400_000_000


@dataclass
class _LeadTally:
    """Running sums of one lead's scores."""

    lead: timedelta
    thresholds: tuple[float, ...]
    methods: tuple[str, ...] = METHODS
    forecasts: int = 0
    analogues: int = 0
    crps: dict[str, float] = field(default_factory=dict)
    brier: dict[float, dict[str, float]] = field(default_factory=dict)
    reliability: dict[float, Reliability] = field(default_factory=dict)
    ranks: dict[int, np.ndarray] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    blend: np.ndarray = field(default_factory=lambda: np.zeros(4))
    blend_weight: float | None = None
    scales: tuple[int, ...] = ()
    fields: dict[str, FieldScores] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.crps = dict.fromkeys(self.methods, 0.0)
        self.brier = {t: dict.fromkeys(self.methods, 0.0) for t in self.thresholds}
        self.reliability = {t: Reliability() for t in self.thresholds}
        self.fields = {m: FieldScores(self.thresholds, self.scales) for m in self.methods} if self.scales else {}

    def add(self, ensembles: dict[str, np.ndarray], truth: np.ndarray, rng: np.random.Generator) -> None:
        """Score one forecast of each method against ``truth``."""
        self.forecasts += 1
        self.analogues += len(ensembles["analogue"])
        for method, members in ensembles.items():
            self.crps[method] += float(crps(members, truth).mean())
            if self.fields:
                self.fields[method].add(members, truth)
            for threshold in self.thresholds:
                probability = exceedance(members, threshold)
                self.brier[threshold][method] += float(brier(probability, truth, threshold).mean())
                if method == "analogue":
                    self.reliability[threshold].add(probability, truth, threshold)
        size = len(ensembles["analogue"])
        self.sizes[size] = self.sizes.get(size, 0) + 1
        self.ranks[size] = self.ranks.get(size, 0) + rank_counts(ensembles["analogue"], truth, rng)

    def rank_histogram(self) -> tuple[int, int, list[int]]:
        """The ensemble size most forecasts had (the larger on a tie), their number, and their rank histogram."""
        if not self.sizes:
            return 0, 0, []
        size = max(self.sizes, key=lambda m: (self.sizes[m], m))
        return size, self.sizes[size], self.ranks[size].tolist()

    def to_dict(self) -> dict[str, Any]:
        """Mean scores and skill scores of this lead."""
        n = max(self.forecasts, 1)
        mean = {m: (self.crps[m] / n if self.forecasts else None) for m in self.methods}
        hours = self.lead.total_seconds() / 3600
        size, counted, histogram = self.rank_histogram()
        return {
            "lead": f"{hours:g}h", "hours": hours, "forecasts": self.forecasts,
            "members": self.analogues / n if self.forecasts else None,
            **{f"crps_{m}": mean[m] for m in self.methods},
            **({} if self.blend_weight is None else {
                "crps_blend": mixture_crps(self.blend / n, self.blend_weight) if self.forecasts else None,
                "blend_weight": self.blend_weight}),
            "crpss_vs_climatology": skill(mean["analogue"], mean["climatology"]),
            "crpss_vs_persistence": skill(mean["analogue"], mean["persistence"]),
            "crpss_vs_random": skill(mean["analogue"], mean["random"]),
            "crpss_random_vs_climatology": skill(mean["random"], mean["climatology"]),
            "brier": {f"{t:g}": {
                **{m: (self.brier[t][m] / n if self.forecasts else None) for m in self.methods},
                "bss_vs_climatology": skill(self.brier[t]["analogue"], self.brier[t]["climatology"]),
                "bss_vs_persistence": skill(self.brier[t]["analogue"], self.brier[t]["persistence"]),
                "reliability": self.reliability[t].table(),
            } for t in self.thresholds},
            "rank_histogram": histogram, "rank_histogram_members": size, "rank_histogram_forecasts": counted,
            **({"fields": {m: scores.to_dict() for m, scores in self.fields.items()}} if self.fields else {}),
        }


@dataclass
class AnalogueEvaluation:
    """Scores per lead of the analogue forecasts of a test period beside climatology, persistence and random hours.

    ``analogues`` maps each forecast hour's row id to its analogues' ids.
    """

    settings: dict[str, Any]
    leads: list[_LeadTally]
    hours: int
    skipped: dict[str, int]
    seconds: float
    analogues: dict[int, np.ndarray] = field(repr=False, default_factory=dict)
    out: dict[str, str] = field(default_factory=dict)
    spaces: dict[str, Any] | None = None
    seconds_per_forecast: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"settings", "hours", "skipped", "leads": [{"lead", "crps_analogue", ..., "brier": {...}}], "spaces", "seconds", "out"}``.

        ``spaces`` (when asked): :func:`latentatlas.analogues.spaces.crps_by_space`'s result.
        """
        leads = [lead.to_dict() for lead in self.leads]
        return {"settings": self.settings, "hours": self.hours, "skipped": self.skipped, "leads": leads,
                "crossover_lead": crossover(leads), "spaces": self.spaces, "seconds": self.seconds,
                "seconds_per_forecast": self.seconds_per_forecast,
                "out": self.out or None}

    def tables(self) -> list[tuple[list[str], list[list[str]]]]:
        """The two summary tables of :func:`summary_tables`."""
        return summary_tables(self.to_dict())


def crossover(leads: list[dict[str, Any]]) -> str | None:
    """The first lead from which the analogues' CRPS is at most extrapolation's at every later lead (None: never, or no extrapolation)."""
    beaten = [lead.get("crps_extrapolation") is not None and lead["crps_analogue"] is not None
              and lead["crps_analogue"] <= lead["crps_extrapolation"] for lead in leads]
    for n in range(len(leads)):
        if all(beaten[n:]):
            return leads[n]["lead"]
    return None


def summary_tables(data: dict[str, Any]) -> list[tuple[list[str], list[list[str]]]]:
    """Columns and rows of the tables of an evaluation's JSON: mean CRPS per method, the skill scores (CRPSS, BSS), and by space."""
    leads = data["leads"]
    thresholds = list(leads[0]["brier"]) if leads else []

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    methods = [key[len("crps_"):] for key in (leads[0] if leads else {}) if key.startswith("crps_")]
    scores = [[lead["lead"], str(lead["forecasts"]), *[shown(lead[f"crps_{m}"]) for m in methods]] for lead in leads]
    skills = [[lead["lead"], shown(lead["crpss_vs_climatology"]), shown(lead["crpss_vs_persistence"]),
               shown(lead["crpss_random_vs_climatology"]),
               *[shown(lead["brier"][t]["bss_vs_climatology"]) for t in thresholds]] for lead in leads]
    tables = [(["lead", "forecasts", *[f"CRPS {m}" for m in methods]], scores),
              (["lead", "CRPSS vs clim.", "CRPSS vs pers.", "random vs clim.", *[f"BSS > {t}" for t in thresholds]],
               skills)]
    if leads and "fields" in leads[0]:
        first = leads[0]["fields"]["analogue"]
        columns = [(t, s) for t, by_scale in first["fss"].items() for s in by_scale]
        km = data["settings"].get("scales_km") or {}
        tables.append((["lead", "method", *[f"FSS > {t} @{s}" + (f" ({km[s]:g} km)" if s in km else "") for t, s in columns],
                        *[f"{name.upper()} > {t}" for t in first["csi"] for name in ("csi", "pod", "far")]],
                       [[lead["lead"], method, *[shown(scores["fss"][t][s]) for t, s in columns],
                         *[shown(scores[name][t]) for t in scores["csi"] for name in ("csi", "pod", "far")]]
                        for lead in leads for method, scores in lead["fields"].items()]))
    spaces = data.get("spaces")
    if spaces:
        tables.append((["lead", "forecasts", *[f"CRPS {name}" for name in spaces["crps"]]],
                       [[lead, str(spaces["forecasts"][lead]), *[shown(by_lead[lead]) for by_lead in spaces["crps"].values()]]
                        for lead in spaces["leads"]]))
    return tables


@dataclass(frozen=True, kw_only=True)
class VerifyOptions(ForecastOptions):
    """The options of a verification: those of :class:`~latentatlas.analogues.forecast.ForecastOptions`, and more.

    Parameters
    ----------
    leads : str or sequence
        ``"1h,3h,6h,12h"`` (the default here) or durations.
    seed : int
        Seed of the random hours and of the rank histogram's tie breaks.
    spaces : str or sequence, optional
        ``"codes,pca,pixels"``: also verify, on the same period, leads, ``k``
        and minimum separation (no other option), the analogues found with
        the stored codes, with PCA of their size and with the raw pixels at
        the model's input size (:func:`latentatlas.analogues.spaces.crps_by_space`);
        needs an atlas of one field per time, and the model for pca and pixels.
    every : str or timedelta, optional
        Forecast only the hours this far apart from the period's start (``"6h"``).
    scales : sequence of int, optional
        Also score each method's mean field by pySTEPS: the fractions skill
        score at these neighbourhood sizes (grid points, ``(1, 3, 9)``) and
        CSI, POD and FAR, per threshold (JSON ``fields`` per lead). On a
        georeferenced grid the settings give each size in km too
        (``scales_km``, from the grid spacing ``grid_km`` of the source's metadata).

    The season window also picks the climatology's hours; the blend's
    weight per lead is learnt on :data:`BLEND_HOURS` hours outside the test period.

    Raises
    ------
    UsageError
        Naming the parameter, as :class:`ForecastOptions`, and on an unknown
        space, an ``every`` that is no positive duration or a scale below 1.
    """

    leads: str | Sequence[str | timedelta] = ("1h", "3h", "6h", "12h")
    seed: int = 0
    spaces: str | Sequence[str] | None = None
    every: str | timedelta | None = None
    scales: Sequence[int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.spaces is not None:
            parse_spaces(self.spaces)
        parse_duration(self.every, "every")
        _sizes(self.scales)

    @property
    def sizes(self) -> tuple[int, ...]:
        """``scales`` as whole numbers (none: ``()``)."""
        return _sizes(self.scales)


def _sizes(scales: Sequence[int] | None) -> tuple[int, ...]:
    sizes = () if scales is None else tuple(scales)
    if any(s < 1 or s != int(s) for s in sizes):
        raise UsageError(f"scales must be whole grid points >= 1, got {list(sizes)}", parameter="scales")
    return tuple(int(s) for s in sizes)


def evaluate_analogues(
    store: Store,
    test: str | tuple,
    options: VerifyOptions = VerifyOptions(),
    engines: EngineCache | None = None,
    progress: ProgressCallback = silent,
    model: Callable[[], LatentModel] | None = None,
) -> AnalogueEvaluation:
    """Forecast every stored hour of the ``test`` period and score it (see the module's notes and :class:`VerifyOptions`).

    Parameters
    ----------
    test : str or (datetime, datetime)
        ``"START/END"``: the hours forecast (start included, end excluded).
    engines : EngineCache, optional
        Reuses loaded codes between calls.
    model : callable, optional
        Returns the atlas's model; needed by channel weights, and by the pca and pixels spaces.

    Raises
    ------
    UsageError
        On a bad period, or a test period holding no stored hour.
    BadInputError
        If stored fields cannot be read again.
    """
    started = clock.perf_counter()
    k, metric, where, seed, blend = options.k, options.metric, options.where, options.seed, options.blend
    names = None if options.spaces is None else parse_spaces(options.spaces)
    nowcasts = options.nowcasts
    spacing = parse_duration(options.every, "every")
    start, end = parse_period(test)
    lead_list = parse_leads(options.leads)
    analogue = options.analogue
    chosen = check_thresholds(options.thresholds)
    engine = (engines or EngineCache()).get(store, metric, exact=True)
    ensembles = Ensembles(store, engine, lead_list, metric, analogue, where, model)
    timeline = ensembles.timeline
    low, high = np.datetime64(start, "us"), np.datetime64(end, "us")
    inside = (timeline.times >= low) & (timeline.times < high)
    queries = timeline.ids[inside]
    if spacing is not None:
        queries = queries[(timeline.time_of(queries) - low) % np.timedelta64(spacing) == np.timedelta64(0, "us")]
    if len(queries) == 0:
        raise UsageError(f"test {format_time(start)}/{format_time(end)} holds no stored hour", parameter="test")
    excluded = [(low - ensembles.longest, high - np.timedelta64(1, "us"))]
    pool = ensembles.allowed(excluded)
    skipped = {"no_truth": 0, "no_trend_window": 0, "no_analogue": 0, "no_climatology": 0, "no_past_fields": 0}
    moving = bool(nowcasts) or blend
    steps = timeline.steps_of(lead_list, parameter="lead") if moving else []
    if analogue.trend is not None:
        full = (timeline.window(queries, analogue.trend) >= 0).all(axis=1)
        skipped["no_trend_window"] = int((~full).sum())
        queries = queries[full]
    progress("read fields", 0, 1)
    fields = _field_array(store, timeline)
    progress("read fields", 1, 1)
    climate = _Climatology(timeline, inside, analogue.season_window)
    rng = np.random.default_rng(seed)
    sizes = options.sizes
    tallies = [_LeadTally(lead, chosen, METHODS + nowcasts, scales=sizes) for lead in lead_list]
    found_by_query: dict[int, np.ndarray] = {}
    timings: dict[str, float] = {}
    truths = ensembles.following(queries)
    for done, (query, truth_ids) in enumerate(zip(queries, truths)):
        progress("forecast", done, len(queries))
        if (truth_ids < 0).all():
            skipped["no_truth"] += 1
            continue
        past = timeline.position(timeline.last(int(query), PAST_FIELDS)) if moving else None
        if past is not None and (past < 0).any():
            skipped["no_past_fields"] += 1
            continue
        timer = clock.perf_counter()
        found = ensembles.analogues(int(query), k, excluded)
        timings["analogue"] = timings.get("analogue", 0.0) + clock.perf_counter() - timer
        if len(found.ids) == 0:
            skipped["no_analogue"] += 1
            continue
        references_of = {}
        for name in (*nowcasts, *(("extrapolation",) if blend and "extrapolation" not in nowcasts else ())):
            timer = clock.perf_counter()
            references_of[name] = nowcast(name, fields[past], steps, k, seed + done)
            timings[name] = timings.get(name, 0.0) + clock.perf_counter() - timer
        found_by_query[int(query)] = found.ids
        members = ensembles.following(found.ids)
        drawn = ensembles.following(rng.choice(pool, size=min(k, len(pool)), replace=False))
        for n, tally in enumerate(tallies):
            if truth_ids[n] < 0:
                continue
            climatology = climate.members(truth_ids[n])
            if len(climatology) == 0:
                skipped["no_climatology"] += 1
                continue
            truth = fields[timeline.position(truth_ids[n:n + 1])[0]]
            tally.add({
                "analogue": fields[timeline.position(members[:, n])],
                "climatology": fields[climatology],
                "persistence": fields[timeline.position(np.array([query]))],
                "random": fields[timeline.position(drawn[:, n])],
                **{name: references_of[name][:, n] for name in nowcasts},
            }, truth, rng)
            if blend:
                tally.blend += blend_terms(fields[timeline.position(members[:, n])], references_of["extrapolation"][0, n],
                                           truth)
    progress("forecast", len(queries), len(queries))
    if blend:
        weights = learn_weights(ensembles, lambda ids: fields[timeline.position(ids)], excluded, steps, k, seed)
        for tally, weight in zip(tallies, weights):
            tally.blend_weight = weight
    by_space = None if names is None else _by_space(names, ensembles, fields, inside, lead_list, k, analogue, model)
    settings = {"test": [start.isoformat(), end.isoformat()], "k": k, "metric": metric,
                "leads": [hours_text(lead) for lead in lead_list], "thresholds": list(chosen),
                "where": where, "seed": seed, "crps_estimator": ESTIMATOR, **analogue.to_dict(),
                **({"references": list(nowcasts)} if nowcasts else {}), **({"every": str(spacing)} if spacing else {}),
                **({"blend_hours": BLEND_HOURS} if blend else {}), **({"scales": list(sizes)} if sizes else {}),
                **_scales_km(store, sizes)}
    return AnalogueEvaluation(settings, tallies, len(found_by_query), skipped, clock.perf_counter() - started,
                              found_by_query, spaces=by_space,
                              seconds_per_forecast={m: t / max(len(found_by_query), 1) for m, t in timings.items()})


def save_evaluation(result: AnalogueEvaluation, out: str | Path) -> dict[str, str]:
    """Write ``verification.png`` (CRPSS against lead, reliability, rank histogram) and ``analogues.json`` into ``out``."""
    from ..jsonable import dumps
    from ..pictures.forecasts import verification_figure
    from ..pictures.grids import save_png

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    result.out["picture"] = str(save_png(verification_figure(data), folder / "verification.png"))
    result.out["json"] = str(folder / "analogues.json")
    (folder / "analogues.json").write_text(dumps({**data, "out": result.out}) + "\n")
    return result.out


class _Climatology:
    """Which stored rows make the climatological ensemble of a truth: its hour of day and season, outside the test period."""

    def __init__(self, timeline, inside: np.ndarray, season: timedelta | None):
        self.timeline, self.season = timeline, season
        micros = timeline.times.astype(np.int64)
        self.time_of_day = micros % _DAY_US
        self.usable = ~inside

    def members(self, truth_id: int) -> np.ndarray:
        """Timeline positions of the climatological members of the truth ``truth_id``."""
        at = self.timeline.position(np.array([truth_id]))[0]
        when = self.timeline.times[at]
        keep = self.usable & (self.time_of_day == self.time_of_day[at]) & (self.timeline.tiles == self.timeline.tiles[at])
        if self.season is not None:
            keep &= season_distance(self.timeline.times, when) <= self.season.total_seconds() / 86400
        return np.flatnonzero(keep)


def _by_space(names: tuple[str, ...], ensembles: Ensembles, fields: np.ndarray, inside: np.ndarray,
              leads: list[timedelta], k: int, options: AnalogueOptions,
              model: Callable[[], LatentModel] | None) -> dict[str, Any]:
    """The CRPS of the analogues found in each of ``names`` (codes, pca, pixels) on the evaluation's test period."""
    timeline = ensembles.timeline
    if len(np.unique(timeline.times)) != len(timeline.times):
        raise UsageError("space needs an atlas of one field per time (this one has tiles)", parameter="space")
    inputs = None
    if set(names) - {"codes"}:
        if model is None:
            raise UsageError("space pca and pixels need the atlas's model (its input size)", parameter="space")
        inputs = model().prepare(list(fields))
    vectors = space_vectors(names, ensembles.engine.vectors(timeline.ids), inputs, ~inside)
    return crps_by_space(vectors, fields, timeline.times, inside, leads, k, options.min_separation)


def _scales_km(store: Store, sizes: tuple[int, ...]) -> dict[str, Any]:
    """``{"grid_km", "scales_km": {size: km}}`` of the neighbourhood sizes on a georeferenced grid (else nothing)."""
    geometry = atlas_geometry(store)
    if not sizes or geometry is None:
        return {}
    spacing = geometry.spacing_km()
    return {"grid_km": round(spacing, 2), "scales_km": {str(s): round(s * spacing, 1) for s in sizes}}


def _field_array(store: Store, timeline) -> np.ndarray:
    """Every timeline row's field, read once (each file once) and stacked in timeline order."""
    fields = read_fields(store, timeline.ids)
    return np.stack([fields[int(i)] for i in timeline.ids])
