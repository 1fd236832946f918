"""``latentatlas datasets list|export``: the built-in sample sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, command, console, emit_json

app = typer.Typer(help="Built-in sample sets (nothing is downloaded).", no_args_is_help=True)


@command(app, "list")
def list_samples(json_output: JsonOption = False) -> None:
    """The sample sets and what they hold."""
    from ..sources.samples import SAMPLES

    rows = [{"name": s.name, "labelled": s.labelled, "description": s.description} for s in SAMPLES.values()]
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
    json_output: JsonOption = False,
) -> None:
    """Write a sample set as image files (sub-folders by label) plus labels.csv."""
    from ..sources.samples import export_sample

    folder, count = export_sample(name, out, seed=seed)
    if json_output:
        emit_json({"name": name, "out": str(folder), "images": count})
    else:
        console().print(f"Wrote {count} images of '{name}' to {folder} (with labels.csv).")
