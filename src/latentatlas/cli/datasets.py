"""``latentatlas datasets list|export``: the built-in sample sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import JsonOption, QuietOption, command, console, emit_json, parse_grid, progress_bar

app = typer.Typer(help="Built-in sample sets (nothing is downloaded).", no_args_is_help=True)


@command(app, "list")
def list_samples(json_output: JsonOption = False) -> None:
    """The sample sets and what they hold."""
    from ..datasets.samples import SAMPLES

    rows = [{"name": s.name, "labelled": s.labelled, "description": s.description, "formats": list(s.formats)}
            for s in SAMPLES.values()]
    if json_output:
        emit_json({"datasets": rows})
        return
    from rich.table import Table

    table = Table("name", "labelled", "description")
    for row in rows:
        table.add_row(row["name"], "yes" if row["labelled"] else "no", row["description"])
    console().print(table)


@command(app, "export")
def export(
    name: Annotated[str, typer.Argument(help="Sample set name (see `datasets list`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the images and labels.csv into.")],
    seed: Annotated[int, typer.Option(help="Seed for generated sets.")] = 0,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", help="png for image sets; grib2 (one file per hour), netcdf or npy for radar.")] = None,
    days: Annotated[Optional[int], typer.Option("--days", help="radar: number of days (default 365).")] = None,
    grid: Annotated[Optional[str], typer.Option("--grid", help="radar: field size HxW (default 64x112).")] = None,
    start: Annotated[Optional[datetime], typer.Option("--start", help="radar: first hour, UTC (default 2019-01-01).")] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a sample set: image files (sub-folders by label) plus labels.csv, or radar fields."""
    from ..datasets.samples import export_sample, sample_set

    options: dict[str, Any] = {k: v for k, v in (("days", days), ("grid", parse_grid(grid)), ("start", start)) if v is not None}
    with progress_bar(quiet or json_output) as progress:
        folder, count = export_sample(name, out, seed=seed, fmt=fmt, progress=progress, **options)
    if json_output:
        emit_json({"name": name, "out": str(folder), "images": count})
    elif sample_set(name).export is not None:
        console().print(f"Wrote {count} fields of '{name}' to {folder}.")
    else:
        console().print(f"Wrote {count} images of '{name}' to {folder} (with labels.csv).")

