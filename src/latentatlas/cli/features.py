"""``latentatlas features index`` and ``features search``: ORB keypoints and verified copy search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..search.orb import MIN_INLIERS, OrbSettings
from .common import AtlasOption, JsonOption, QuietOption, WhereOption, command, console, progress_bar, writable_atlas
from .search import print_ranked, print_summary

app = typer.Typer(help="ORB local features: store them, find rotated, scaled or cropped copies.", no_args_is_help=True)


@command(app, "index")
def index(
    atlas: AtlasOption,
    max_features: Annotated[int, typer.Option("--max-features", help="Keypoints kept per image.")] = 1000,
    min_side: Annotated[int, typer.Option("--min-side", help="Enlarge smaller images to this shorter side first.")] = 256,
    where: WhereOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Replace the stored features.")] = False,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Extract and store ORB keypoints and descriptors of every image not yet indexed."""
    settings = OrbSettings(max_features=max_features, min_side=min_side)
    with writable_atlas(atlas, create=False) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.features_index(where=where, rebuild=rebuild, progress=progress, options=settings)
    print_summary(report.to_dict(), json_output, f"Indexed {report.indexed} images ({report.keypoints} keypoints); "
                  f"{report.total} images have features.")
    for failure in report.failures:
        typer.echo(f"  skipped {failure}", err=True)


@command(app, "search")
def search(
    query: Annotated[Path, typer.Argument(help="The query image file.")],
    atlas: AtlasOption,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of results.")] = 5,
    candidates: Annotated[Optional[int], typer.Option(help="Match only this many images nearest by embedding (default: all).")] = None,
    ratio: Annotated[float, typer.Option(help="Lowe's ratio test: best match below ratio x second best.")] = 0.75,
    transform: Annotated[str, typer.Option(help="affine or homography, fitted by RANSAC.")] = "affine",
    reprojection: Annotated[float, typer.Option(help="RANSAC tolerance as a share of the image's longer side.")] = 0.01,
    min_inliers: Annotated[int, typer.Option(
        "--min-inliers", help="Fewer inliers is chance: no match (the default is above every chance count measured).",
    )] = MIN_INLIERS,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Draw the matches with the best result here.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Stored images showing QUERY (even rotated, scaled or cropped), ranked by RANSAC inliers, or "No match"."""
    from ..atlas import Atlas

    settings = OrbSettings(ratio=ratio, transform=transform, reprojection=reprojection, min_inliers=min_inliers)
    with Atlas.open(atlas, read_only=True) as opened:
        result = opened.features_search(query, k=k, candidates=candidates, out=out, options=settings)
    if not result.matched and not json_output:
        console().print(result.no_match_line() + (" Nothing drawn." if out is not None else ""))
        return
    print_ranked(result, json_output, ("id", "inliers", "matches", "label", "uri"), lambda hit: [
        str(hit.id), str(hit.inliers), str(hit.matches), hit.label or "", hit.uri])
    if result.out is not None and not json_output:
        console().print(f"Wrote {result.out}.")
