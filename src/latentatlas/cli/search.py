"""Commands of search at scale: search (one query or a batch), index, duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from ..analogues.options import AnalogueOptions
from ..errors import UsageError
from ..pictures.grids import REFLECTIVITY
from .analogue_options import ANALOGUE_FLAGS, analogue_options
from .common import (
    AtlasOption, ExactOption, JsonOption, MetricOption, QuietOption, TileColOption, TileRowOption, VectorOption,
    WhereOption, command, console, emit_json, parse_numbers, print_table, progress_bar, tile_of,
)

KOption = Annotated[int, typer.Option("-k", "--k", help="Number of results (per query).")]


def register(app: typer.Typer) -> None:
    """Add search, index and duplicates to ``app``."""
    command(app, "search")(analogue_options(search))
    command(app, "index")(index)
    command(app, "duplicates")(duplicates)


def search(
    atlas: AtlasOption,
    image: Annotated[Optional[Path], typer.Argument(help="Query image file.")] = None,
    id: Annotated[Optional[int], typer.Option("--id", help="Query by a stored row's id.")] = None,
    vector: VectorOption = None,
    time: Annotated[Optional[str], typer.Option(
        "--time", help="Query by the stored row valid at this time (UTC), e.g. '2019-09-20 05:00'.")] = None,
    tile_row: TileRowOption = None,
    tile_col: TileColOption = None,
    k: KOption = 10,
    metric: MetricOption = "l2",
    where: WhereOption = None,
    exclude_within: Annotated[Optional[str], typer.Option(
        "--exclude-within", help="Leave out rows within this time of the query's time (1d, 6h, 30min).")] = None,
    analogue: AnalogueOptions = AnalogueOptions(),
    exact: ExactOption = False,
    float16: Annotated[bool, typer.Option("--float16", help="Hold the codes of an exact scan as float16 (half the memory).")] = False,
    ids_from: Annotated[Optional[Path], typer.Option(
        "--ids-from", help="Batch: query every id in this file (text, or .csv/.parquet with an id column).")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Batch: query every stored row (needs --out).")] = False,
    exclude_self: Annotated[bool, typer.Option("--exclude-self", help="Batch: leave each row out of its own neighbours.")] = False,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", help="One query: draw it and its results (FILE.png). Batch: write the neighbours (FILE.parquet).")] = None,
    colormap: Annotated[Optional[str], typer.Option(
        "--colormap", help="Colours of fields in --out: reflectivity (NWS dBZ, the default) or a matplotlib name.")] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """The K stored images nearest to a query image, --id, --vector or --time; or to many rows (--ids-from, --all)."""
    from ..atlas import Atlas
    from ..ops.search import SearchOptions
    from ..search.neighbours import NeighbourOptions, read_ids

    batch = ids_from is not None or all_rows
    if batch:
        _check_batch(image, id, vector, time, ids_from, all_rows, out, colormap)
        if analogue.used:
            raise UsageError(f"{ANALOGUE_FLAGS} go with one query, not a batch")
    else:
        _check_single(out, exclude_self, colormap)
    tile = tile_of(tile_row, tile_col)
    ranking = dict(k=k, metric=metric, where=where, exclude_within=exclude_within, exact=exact,
                   dtype="float16" if float16 else "float32")
    options = NeighbourOptions(**ranking) if batch else SearchOptions(**ranking, analogue=analogue)
    with Atlas.open(atlas, read_only=True) as opened:
        if batch:
            ids = read_ids(ids_from) if ids_from is not None else None
            with progress_bar(quiet or json_output) as progress:
                result = opened.search_batch(ids, exclude_self=exclude_self, out=out, progress=progress,
                                             options=options)
            _print_batch(result, json_output)
            return
        numbers = parse_numbers(vector, "--vector") if vector is not None else None
        found = opened.search(image, id=id, vector=numbers, time=time, tile=tile, out=out,
                              colormap=colormap or REFLECTIVITY, options=options)
    if found.query.get("conversions") and not json_output:
        typer.echo(f"Note: the query was changed to fit the atlas: {'; '.join(found.query['conversions'])}.", err=True)
    if found.hits or json_output:
        print_ranked(found, json_output, ("id", "distance", "label", "time", "uri"), lambda hit: [
            str(hit.id), f"{hit.distance:.4f}", hit.label or "", hit.time.isoformat(sep=" ") if hit.time else "", hit.uri])
    else:  # an empty table would say nothing
        reason = f"matches --where {where}" if where else "is left"
        typer.echo(f"No stored row {reason}{' outside --exclude-within ' + exclude_within if exclude_within else ''}"
                   f"{' with the analogue options' if analogue.used else ''}.", err=True)
    if found.out is not None and not json_output:
        console().print(f"Drew the query and its {len(found.hits)} results: {found.out}")
    skipped = found.query.get("skipped_without_trend_window")
    if skipped and not json_output:
        typer.echo(f"Skipped {skipped} row(s) lacking a full --trend window.", err=True)


def print_summary(data: dict[str, Any], json_output: bool, text: str) -> None:
    """``data`` as one JSON document, or ``text`` for people."""
    if json_output:
        emit_json(data)
    else:
        console().print(text)


def print_ranked(result: Any, json_output: bool, columns: tuple[str, ...], cells: Callable[[Any], list[str]]) -> None:
    """``result`` as one JSON document, or its hits as a table with their rank."""
    if json_output:
        emit_json(result.to_dict())
        return
    print_table(("rank", *columns), [[str(rank), *cells(hit)] for rank, hit in enumerate(result.hits, start=1)])


def _check_batch(image, id, vector, time, ids_from, all_rows, out, colormap) -> None:
    if image is not None or id is not None or vector is not None or time is not None:
        raise UsageError("a batch search (--ids-from, --all) takes no query image, --id, --vector or --time")
    if ids_from is not None and all_rows:
        raise UsageError("give --ids-from or --all, not both")
    if all_rows and out is None:
        raise UsageError("--all needs --out FILE.parquet for its neighbours")
    if out is not None and out.suffix.lower() != ".parquet":
        raise UsageError(f"a batch search writes its neighbours as Parquet: --out must end in .parquet, got {out.name}")
    if colormap is not None:
        raise UsageError("--colormap goes with the picture of one query (--out FILE.png), not a batch")


def _check_single(out: Path | None, exclude_self: bool, colormap: str | None) -> None:
    if colormap is not None and out is None:
        raise UsageError("--colormap colours the picture of --out FILE.png")
    if exclude_self:
        raise UsageError("--exclude-self goes with a batch search (--ids-from or --all)")
    if out is not None and out.suffix.lower() == ".parquet":
        raise UsageError("--out FILE.parquet goes with a batch search (--ids-from or --all); "
                         "one query draws its results into --out FILE.png")


def _print_batch(result, json_output: bool) -> None:
    if json_output:
        emit_json(result.to_dict())
        return
    if result.out is not None:
        found = int((result.ids >= 0).sum())
        console().print(f"Wrote {found} neighbours of {len(result.query_ids)} rows to {result.out} "
                        f"(engine: {result.settings['engine']}).")
        return
    from rich.table import Table

    table = Table("query_id", "rank", "id", "distance")
    for row in result.records():
        table.add_row(str(row["query_id"]), str(row["rank"]), str(row["id"]), f"{row['distance']:.4f}")
    console().print(table)


def index(
    atlas: AtlasOption,
    kind: Annotated[str, typer.Option(help="ivfpq (inverted lists, product codes, exact re-rank; lean) or hnsw (graph; fastest, about twice the memory).")] = "ivfpq",
    metric: Annotated[str, typer.Option(help="Metric served: l2 (also sqeuclidean), cosine or ip.")] = "l2",
    hnsw_m: Annotated[int, typer.Option("--m", help="HNSW links per node.")] = 32,
    ef_construction: Annotated[int, typer.Option("--ef-construction", help="HNSW candidates while building.")] = 64,
    ef_search: Annotated[int, typer.Option("--ef-search", help="HNSW candidates while searching.")] = 128,
    nlist: Annotated[Optional[int], typer.Option(help="IVF lists (default about sqrt(rows)).")] = None,
    pq_m: Annotated[Optional[int], typer.Option("--pq-m", help="PQ sub-vectors (default: code size / 4).")] = None,
    nprobe: Annotated[int, typer.Option(help="IVF lists visited per query.")] = 12,
    refine: Annotated[int, typer.Option(help="IVF-PQ re-ranks refine x k candidates exactly.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the training sample and k-means.")] = 0,
    remove: Annotated[bool, typer.Option("--remove", help="Delete the index instead of building one.")] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Build the approximate index that search then uses automatically (replaces an older one)."""
    from ..atlas import Atlas
    from ..search.ann import AnnSettings

    settings = AnnSettings(kind=kind, metric=metric, hnsw_m=hnsw_m, ef_construction=ef_construction, ef_search=ef_search,
                           nlist=nlist, pq_m=pq_m, nprobe=nprobe, refine=refine, seed=seed)
    with Atlas.open(atlas, read_only=True) as opened:
        if remove:
            removed = opened.remove_index()
            print_summary({"removed": removed}, json_output, "Removed the index." if removed else "There was no index.")
            return
        with progress_bar(quiet or json_output) as progress:
            report = opened.index(progress=progress, options=settings)
    print_summary(report.to_dict(), json_output, f"Built a {report.kind} index ({report.metric}) over {report.rows} "
                  f"rows in {report.seconds:.1f} s: {report.path} ({report.bytes / 1e6:.1f} MB).")


def duplicates(
    atlas: AtlasOption,
    threshold: Annotated[float, typer.Option("--threshold", "-t", help="Largest distance between near-copies.")],
    k: KOption = 10,
    metric: MetricOption = "l2",
    where: WhereOption = None,
    exact: ExactOption = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Groups of identical files (same sha256) and near-identical images (codes within --threshold)."""
    from ..atlas import Atlas
    from ..ops.duplicates import DuplicatesOptions

    options = DuplicatesOptions(threshold=threshold, k=k, metric=metric, where=where, exact=exact)
    with Atlas.open(atlas, read_only=True) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.duplicates(progress=progress, options=options)
    if json_output:
        emit_json(report.to_dict())
        return
    print_table(("group", "kind", "id", "distance", "uri"),
                [[str(number), group.kind, str(id), f"{group.distance:.4g}", uri]
                 for number, group in enumerate(report.groups, start=1) for id, uri in zip(group.ids, group.uris)])
    console().print(f"{len(report.groups)} groups among {report.rows} rows (threshold {threshold:g}, {report.metric}).")
