"""``forecast`` and ``evaluate analogues``: analogue ensemble forecasts, and their verification."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..analogues.options import AnalogueOptions
from ..pictures.grids import REFLECTIVITY
from . import evaluate
from .analogue_options import analogue_options
from .common import (
    AtlasOption, JsonOption, MetricOption, QuietOption, TileColOption, TileRowOption, WhereOption,
    command, console, emit_json, on_atlas, parse_numbers, print_table, tile_of,
)

ThresholdOption = Annotated[Optional[str], typer.Option(
    "--threshold", help="Values whose exceedance probability is forecast, comma-separated (default 20,35 dBZ).")]
ReferenceOption = Annotated[Optional[str], typer.Option(
    "--reference", help="pySTEPS nowcasts beside the analogues: extrapolation (Lucas-Kanade motion), steps (an ensemble).")]
LeadOption = Annotated[str, typer.Option("--lead", help="Lead times, comma-separated (1h,3h,6h).")]
KOption = Annotated[int, typer.Option("-k", "--k", help="Analogues: members of each ensemble.")]


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to ``app`` and ``analogues`` to ``evaluate``."""
    command(app, "forecast")(analogue_options(forecast))
    command(evaluate.app, "analogues")(analogue_options(evaluate_analogues))


def _thresholds(text: str | None) -> tuple[float, ...]:
    from ..analogues.forecast import DEFAULT_THRESHOLDS

    return DEFAULT_THRESHOLDS if text is None else tuple(parse_numbers(text, "--threshold"))


def forecast(
    atlas: AtlasOption,
    time: Annotated[str, typer.Option("--time", help="The stored hour to forecast from (UTC), e.g. '2019-09-20 05:00'.")],
    lead: LeadOption = "1h,3h,6h",
    k: KOption = 20,
    metric: MetricOption = "l2",
    analogue: AnalogueOptions = AnalogueOptions(),
    threshold: ThresholdOption = None,
    where: WhereOption = None,
    tile_row: TileRowOption = None,
    tile_col: TileColOption = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Folder for forecast.png (truth, mean, spread, probabilities) and members.parquet.")] = None,
    colormap: Annotated[str, typer.Option("--colormap", help="Colours of the fields: reflectivity or a matplotlib name.")] = REFLECTIVITY,
    reference: ReferenceOption = None,
    blend: Annotated[bool, typer.Option(
        "--blend", help="Also the blend of extrapolation and analogues (weights per lead learnt on the archive).")] = False,
    json_output: JsonOption = False,
) -> None:
    """What followed the K hours most like --time, as an ensemble forecast at each --lead."""
    tile = tile_of(tile_row, tile_col)
    from ..analogues.forecast import ForecastOptions

    options = ForecastOptions(leads=lead, k=k, metric=metric, analogue=analogue, thresholds=_thresholds(threshold),
                              where=where, references=reference, blend=blend)
    result = on_atlas(atlas, lambda opened, progress: opened.forecast(
        time, tile=tile, out=out, colormap=colormap, options=options), quiet=True)
    data = result.to_dict()
    if json_output:
        emit_json(data)
        return
    console().print(f"Analogue forecast from {data['time']} (row {data['query_id']}): {len(data['analogues'])} analogues.")
    print_table(("rank", "id", "time", "distance"), [[str(a["rank"]), str(a["id"]), a["time"], f"{a['distance']:.4g}"]
                                                     for a in data["analogues"]])
    thresholds = list(data["leads"][0]["exceedance"])
    references = data["settings"].get("references", [])
    rows = []
    for lead_data in data["leads"]:
        truth = lead_data["truth"]
        rows.append([lead_data["lead"], f"{lead_data['mean']['average']:.3g}", f"{lead_data['spread']:.3g}",
                     *[f"{lead_data['exceedance'][t]:.3f}" for t in thresholds],
                     "" if truth is None else f"{truth['crps']:.3g}", "" if truth is None else f"{truth['mae_of_mean']:.3g}",
                     *["" if truth is None else f"{lead_data['references'][name]['crps']:.3g}" for name in references],
                     *([f"{lead_data['blend']['weight']:.2f}", "" if truth is None else f"{lead_data['blend']['crps']:.3g}"]
                       if "blend" in lead_data else [])])
    print_table(("lead", "mean", "spread", *[f"P(> {t}) area" for t in thresholds], "CRPS", "MAE of mean",
                 *[f"CRPS {name}" for name in references],
                 *(["blend weight", "CRPS blend"] if data["leads"][0].get("blend") else [])), rows)
    if data["out"]:
        console().print("Wrote " + ", ".join(data["out"].values()))


def evaluate_analogues(
    atlas: AtlasOption,
    test: Annotated[str, typer.Option("--test", help="The hours forecast, START/END (end excluded), e.g. 2019-11-01/2020-01-01.")],
    lead: LeadOption = "1h,3h,6h,12h",
    k: KOption = 20,
    metric: MetricOption = "l2",
    analogue: AnalogueOptions = AnalogueOptions(),
    threshold: ThresholdOption = None,
    where: WhereOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random hours.")] = 0,
    space: Annotated[Optional[str], typer.Option(
        "--space", help="Also verify analogues found with each of codes,pca,pixels (same period and k).")] = None,
    reference: ReferenceOption = None,
    every: Annotated[Optional[str], typer.Option("--every", help="Forecast only the hours this far apart (6h).")] = None,
    blend: Annotated[bool, typer.Option(
        "--blend", help="Also score the blend of extrapolation and analogues (weights per lead learnt outside --test).")] = False,
    scales: Annotated[Optional[str], typer.Option(
        "--scales", help="Also the fractions skill score at these neighbourhoods (grid points, 1,3,9) and CSI, POD, FAR.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="Folder for verification.png (CRPSS, reliability, rank histogram) and analogues.json.")] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Forecast every hour of --test from the other hours and score it against climatology, persistence and random hours."""
    from ..analogues.verify import VerifyOptions

    options = VerifyOptions(leads=lead, k=k, metric=metric, analogue=analogue, thresholds=_thresholds(threshold),
                            where=where, seed=seed, spaces=space, references=reference, every=every, blend=blend,
                            scales=None if scales is None else parse_numbers(scales, "--scales"))
    report = on_atlas(atlas, lambda opened, progress: opened.evaluate_analogues(
        test, out=out, progress=progress, options=options), quiet=quiet or json_output)
    if json_output:
        emit_json(report.to_dict())
        return
    console().print(f"{report.hours} hours forecast in {report.seconds:.1f} s "
                    f"(skipped: {', '.join(f'{n} {why}' for why, n in report.skipped.items() if n) or 'none'}).")
    for columns, rows in report.tables():
        print_table(columns, rows)
    console().print("CRPSS and BSS (Brier skill, against climatology) are 1 - score / reference's: above 0 is skill.")
    data = report.to_dict()
    if "crps_extrapolation" in data["leads"][0]:
        crossover = data["crossover_lead"]
        console().print(f"The analogues beat extrapolation from +{crossover} on." if crossover else
                        "The analogues do not beat extrapolation up to the last lead.")
    if report.out:
        console().print("Wrote " + ", ".join(report.out.values()))
