"""``latentatlas demo ...``: end-to-end runs on built-in data that write a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import AtlasOption, JsonOption, QuietOption, ThreadsOption, command, console, emit_json, progress_bar, set_threads

app = typer.Typer(help="End-to-end demonstrations on built-in data.", no_args_is_help=True)


@command(app, "photos")
def photos(
    atlas: AtlasOption = Path("demo.atlas"),
    time_budget: Annotated[Optional[float], typer.Option("--time-budget", help="Seconds of training.")] = 90.0,
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
