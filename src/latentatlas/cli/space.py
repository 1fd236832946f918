"""The ``evaluate space`` command: our codes beside raw pixels, PCA and LDA on known classes."""

from __future__ import annotations

from typing import Annotated

import typer

from . import evaluate
from .common import AtlasOption, JsonOption, QuietOption, WhereOption, command, console, emit_json, progress_bar


def register(app: typer.Typer) -> None:
    """Add ``space`` to the ``evaluate`` group (``app`` is the main app, unused)."""
    command(evaluate.app, "space")(space)


def space(
    atlas: AtlasOption,
    label_column: Annotated[str, typer.Option("--label-column", help="Column (or SQL expression) of images with the class.")] = "label",
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Share of each class held out.")] = 0.3,
    knn: Annotated[int, typer.Option(help="Neighbours of the kNN classifier.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    where: WhereOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Nearest-centroid precision/recall/F1, kNN accuracy and mAP@10 of raw pixels, PCA, LDA and our codes."""
    from ..atlas import Atlas
    from ..ops.evaluate.space import SpaceSettings

    settings = SpaceSettings(label_column=label_column, test_fraction=test_fraction, knn=knn, seed=seed, where=where)
    with Atlas.open(atlas, read_only=True) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.evaluate_space(progress=progress, options=settings)
    data = report.to_dict()
    if json_output:
        emit_json(data)
    else:
        from rich.table import Table

        table = Table("representation", "dims", "precision", "recall", "F1", f"kNN-{knn} accuracy", "top-5 agreement",
                      "mAP@10",
                      title=f"Nearest class centroid on {report.test} held-out rows (trained on {report.train})")
        for row in data["rows"]:
            name = row["representation"]
            table.add_row(name, str(data["per_class"][name]["dims"]),
                          *(f"{row[key]:.3f}" for key in ("precision", "recall", "f1", "knn_accuracy", "top5_agreement",
                                                        "map_at_10")))
        console().print(table)
    if report.failures:
        typer.echo(f"{len(report.failures)} image(s) could not be read again and were left out:", err=True)
        for failure in report.failures:
            typer.echo(f"  {failure}", err=True)
