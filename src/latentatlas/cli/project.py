"""The ``project`` command: a PCA, t-SNE, UMAP or LDA picture of the codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import AtlasOption, JsonOption, QuietOption, WhereOption, command, console, emit_json, progress_bar


def register(app: typer.Typer) -> None:
    """Add ``project`` to ``app``."""
    command(app, "project")(project)


def project(
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The picture (.png).")],
    method: Annotated[str, typer.Option(help="pca, tsne (openTSNE after PCA to 50), umap or lda (needs labels).")] = "pca",
    dims: Annotated[int, typer.Option(help="2 or 3.")] = 2,
    color_by: Annotated[Optional[str], typer.Option("--color-by", help="label, cluster:RUN, time or none (default: label if any).")] = None,
    thumbnails: Annotated[bool, typer.Option("--thumbnails", help="Draw images at their points (2-D).")] = False,
    max_thumbnails: Annotated[int, typer.Option("--max-thumbnails", help="How many images --thumbnails draws, spread out.")] = 60,
    coords: Annotated[Optional[Path], typer.Option("--coords", help="Also write the coordinates here (Parquet).")] = None,
    where: WhereOption = None,
    perplexity: Annotated[float, typer.Option(help="t-SNE's perplexity.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of t-SNE, UMAP and the thumbnails' choice.")] = 0,
    max_rows: Annotated[Optional[int], typer.Option("--max-rows", help="Project at most this many rows, spread over the ids (default 200,000; 0: all).")] = 200_000,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Project the codes to 2 or 3 dimensions: a picture, and with --coords the coordinates as Parquet."""
    from ..atlas import Atlas
    from ..ops.project import ProjectSettings

    settings = ProjectSettings(method=method, dims=dims, color_by=color_by, thumbnails=max_thumbnails if thumbnails else 0,
                               where=where, seed=seed, perplexity=perplexity,
                               max_rows=max_rows or None)
    with Atlas.open(atlas, read_only=True) as opened, progress_bar(quiet or json_output) as progress:
        result = opened.project(out=out, coordinates=coords, progress=progress, options=settings)
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        sampled = f" (a sample of {data['matched']})" if data["rows"] < data["matched"] else ""
        console().print(f"{data['method']} of {data['rows']} codes{sampled} to {data['dims']}-D, coloured by {data['color_by']}: "
                        f"{data['plot']}" + (f"; coordinates in {data['coordinates']}." if data["coordinates"] else "."))
    for failure in result.failures:
        typer.echo(f"thumbnail skipped: {failure}", err=True)
