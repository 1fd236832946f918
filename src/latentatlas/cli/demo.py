"""``latentatlas demo ...``: end-to-end runs on built-in data that write a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import (
    AtlasOption, JsonOption, QuietOption, ThreadsOption, TimeBudgetOption, command, console, emit_json, parse_grid,
    progress_bar, set_threads,
)

app = typer.Typer(help="End-to-end demonstrations on built-in data.", no_args_is_help=True)


@command(app, "photos")
def photos(
    atlas: AtlasOption = Path("demo.atlas"),
    time_budget: TimeBudgetOption = 90.0,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build an atlas of the built-in photo tiles and write ATLAS/report.html."""
    from ..demos.photos import photos_demo

    set_threads(threads)
    with progress_bar(quiet or json_output) as progress:
        result = photos_demo(atlas, time_budget=time_budget, seed=seed, progress=progress)
    if json_output:
        emit_json(result)
    else:
        console().print(f"Built {atlas} from {result['images']} photo tiles in {result['seconds']:.0f} s; "
                        f"reconstruction PSNR {result['psnr_val']:.2f} dB on held-out tiles. "
                        f"Report: {result['report']}")


@command(app, "weather")
def weather(
    atlas: AtlasOption = Path("wx.atlas"),
    days: Annotated[int, typer.Option("--days", help="Days of generated radar, centred on the day of --time.")] = 365,
    grid: Annotated[str, typer.Option("--grid", help="Field size HxW on HRRR's domain.")] = "64x112",
    time: Annotated[str, typer.Option("--time", help="The chosen hour (UTC) whose neighbours and analogues are shown.")] = "2019-09-20 05:00",
    time_budget: TimeBudgetOption = 150.0,
    train_every: Annotated[int, typer.Option("--train-every", help="Train on one hour in N (all are embedded).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the weather, the training and k-means.")] = 0,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """The weather article's study on the generated radar year: GRIB2 in, ATLAS/report.html out."""
    from ..demos.weather import WeatherSettings, weather_demo
    from ..ops.at_time import format_time, parse_time

    settings = WeatherSettings(days=days, grid=parse_grid(grid), time=parse_time(time),
                               time_budget=time_budget, train_every=train_every, seed=seed)
    set_threads(threads)
    with progress_bar(quiet or json_output) as progress:
        study = weather_demo(atlas, settings, progress=progress)
    if json_output:
        emit_json(study.to_dict())
        return
    figures = {key: "n/a" if value is None else f"{value:.3g}" for key, value in study.interpolation.items()}
    nearest = ", ".join(f"{hit['hours']:+g} h" for hit in study.nearest[1:3])
    console().print(
        f"Built {atlas} from {study.fields} hours of generated radar (GRIB2) in {study.seconds['total']:.0f} s. "
        f"Nearest hours of {format_time(settings.time)}: {nearest}; interpolation ratio {figures['ratio']}, "
        f"PSNR {figures['psnr_interp']} dB (pixel blend {figures['psnr_pixel_blend']} dB). Report: {study.report}")
