"""The ``cluster`` command: k-means++ on the codes, a stored run, and pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from .common import (
    AtlasOption, JsonOption, QuietOption, ThreadsOption, WhereOption, command, console, emit_json, progress_bar,
    set_threads, writable_atlas,
)


def register(app: typer.Typer) -> None:
    """Add ``cluster`` to ``app``."""
    command(app, "cluster")(cluster)


def cluster(
    atlas: AtlasOption,
    k: Annotated[str, typer.Option("-k", "--k", help="Number of clusters, or 'auto' to pick it by silhouette.")],
    k_range: Annotated[str, typer.Option("--k-range", help="LOW:HIGH tried by -k auto.")] = "2:12",
    name: Annotated[Optional[str], typer.Option("--name", help="Run name (default k<K>, made unique).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a stored run of the same --name.")] = False,
    where: WhereOption = None,
    engine: Annotated[str, typer.Option(help="faiss or sklearn: what runs the Lloyd iterations.")] = "faiss",
    restarts: Annotated[int, typer.Option(help="k-means++ restarts; the lowest inertia is kept.")] = 4,
    max_iter: Annotated[int, typer.Option("--max-iter", help="Lloyd iterations per restart at most.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the k-means++ draws.")] = 0,
    init_size: Annotated[str, typer.Option(
        "--init-size", help="Rows the k-means++ seeds are drawn from: auto (256 per cluster), all, or a number.")] = "auto",
    members: Annotated[int, typer.Option(help="Members nearest the centre shown per cluster.")] = 16,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for the pictures (default <atlas>/clusters/<run>).")] = None,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """K-means++ on the stored codes; store the run and draw its centres and members."""
    from ..ops.cluster import ClusterSettings

    set_threads(threads)
    settings = ClusterSettings(k=_parse_k(k), k_range=_parse_range(k_range), name=name, replace=replace, where=where,
                               engine=engine, restarts=restarts, max_iter=max_iter, seed=seed,
                               init_size=_parse_init_size(init_size), members=members)
    with writable_atlas(atlas, create=False) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.cluster(out=out, progress=progress, options=settings)
    result = report.to_dict()
    if json_output:
        emit_json(result)
    else:
        _print(result)
    if report.failures:
        typer.echo(f"{len(report.failures)} member image(s) could not be read for the grids:", err=True)
        for failure in report.failures:
            typer.echo(f"  {failure}", err=True)


def _parse_k(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"-k must be a number or 'auto', got {text!r}") from None


def _parse_init_size(text: str) -> int | str:
    word = text.strip().lower()
    if word in ("auto", "all"):
        return word
    try:
        return int(word)
    except ValueError:
        raise UsageError(f"--init-size must be auto, all or a number, got {text!r}") from None


def _parse_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(p) for p in text.split(":"))
    except ValueError:
        raise UsageError(f"--k-range must be LOW:HIGH, got {text!r}") from None
    return low, high


def _print(result: dict) -> None:
    out = console()
    if result["curve"]:
        from rich.table import Table

        table = Table("k", "silhouette", "", "inertia", title="-k auto: mean silhouette per k")
        for point in result["curve"]:
            score = point["silhouette"]
            bar = "█" * max(0, round((score or 0.0) * 40))
            mark = " ◀" if point["k"] == result["k"] else ""
            table.add_row(str(point["k"]), f"{score:.3f}" if score is not None else "-", bar + mark, f"{point['inertia']:.4g}")
        out.print(table)
    scores = [f"inertia {result['inertia']:.4g}"]
    for key, title in (("silhouette", "silhouette"), ("ari", "ARI"), ("nmi", "NMI")):
        if result[key] is not None:
            scores.append(f"{title} {result[key]:.3f}")
    out.print(f"Run {result['run']!r}: {result['k']} clusters of {result['rows']} rows; {', '.join(scores)}.")
    out.print(f"Sizes: {', '.join(str(s) for s in result['sizes'])}.")
    out.print(f"Pictures in {result['out']} (centroids.png, cluster_*.png{', silhouette.png' if result['curve'] else ''}).")
