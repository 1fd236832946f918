"""The ``export`` and ``explore`` commands: the atlas in Apple's Embedding Atlas."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import LatentAtlasError
from .common import (
    AtlasOption, HostOption, JsonOption, PortOption, QuietOption, command, console, emit_json, progress_bar, report_failures,
)

NeighboursOption = Annotated[int, typer.Option("--neighbours", help="Nearest rows listed for each row.")]
ProjectionOption = Annotated[str, typer.Option("--projection", help="The 2-D map: pca, tsne or umap.")]
ThumbnailOption = Annotated[int, typer.Option("--thumbnail", help="Longer side of each thumbnail in pixels.")]


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``explore`` to ``app``."""
    command(app, "export")(export)
    command(app, "explore")(explore)


def export(
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The folder to write ATLAS-NAME.parquet in.")],
    format: Annotated[str, typer.Option("--format", help="embedding-atlas (one Parquet file; needs only pyarrow).")] = "embedding-atlas",
    neighbours: NeighboursOption = 10,
    projection: ProjectionOption = "pca",
    thumbnail: ThumbnailOption = 96,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write the rows, a 2-D map, each row's neighbours and thumbnails as Parquet for Embedding Atlas."""
    from ..atlas import Atlas
    from ..ops.export import ExportOptions

    options = ExportOptions(format=format, neighbours=neighbours, projection=projection, thumbnail=thumbnail)
    path = _parquet(atlas, out)
    with Atlas.open(atlas, read_only=True) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.export(path, progress=progress, options=options)
    if json_output:
        emit_json(report.to_dict())
    else:
        console().print(f"Wrote {report.rows} rows to {report.path}; open it with: {' '.join(report.command)}")
    report_failures(report.failures)


def explore(
    atlas: AtlasOption,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Keep the Parquet file in this folder (default: a temporary one).")] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 5055,
    neighbours: NeighboursOption = 10,
    projection: ProjectionOption = "pca",
    thumbnail: ThumbnailOption = 96,
    quiet: QuietOption = False,
) -> None:
    """Open the atlas in Apple's Embedding Atlas (offline): every point, thumbnails, filters, neighbours."""
    if importlib.util.find_spec("embedding_atlas") is None:
        raise LatentAtlasError("explore needs Embedding Atlas, an optional extra: pip install 'latentatlas[explore]' "
                               "(`latentatlas export --format embedding-atlas` writes its file without it)")
    with tempfile.TemporaryDirectory(prefix="latentatlas-explore-") as scratch:
        folder = out or Path(scratch)
        export(atlas, folder, neighbours=neighbours, projection=projection, thumbnail=thumbnail, quiet=quiet)
        path = _parquet(atlas, folder)
        typer.echo(f"Embedding Atlas at http://{host}:{port}/ (Ctrl+C stops)")
        shown = subprocess.run([sys.executable, "-m", "embedding_atlas.cli", str(path), "--x", "x", "--y", "y",
                                "--neighbors", "neighbors", "--image", "image", "--host", host, "--port", str(port),
                                "--no-auto-port"], check=False)
    if shown.returncode not in (0, -2, 130):
        raise LatentAtlasError(f"Embedding Atlas stopped with status {shown.returncode}")


def _parquet(atlas: Path, folder: Path) -> Path:
    """Where the export of ``atlas`` goes in ``folder``: ``digits.atlas`` -> ``folder/digits.parquet``."""
    return folder / f"{Path(atlas).resolve().name.removesuffix('.atlas')}.parquet"
