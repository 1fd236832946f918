"""``interpolate`` and ``evaluate interpolation``: frames between codes, and how good they are."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from . import evaluate
from .common import (
    AtlasOption, JsonOption, QuietOption, ThreadsOption, WhereOption, command, console, emit_json, on_atlas,
)


def register(app: typer.Typer) -> None:
    """Add ``interpolate`` to ``app`` and ``interpolation`` to ``evaluate``."""
    command(app, "interpolate")(interpolate)
    command(evaluate.app, "interpolation")(evaluate_interpolation)


def interpolate(
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="The strip of frames (.png, .jpg, ...) or .npy for the raw stack.")],
    images: Annotated[Optional[list[Path]], typer.Argument(help="Two image files: the ends.")] = None,
    ids: Annotated[Optional[tuple[int, int]], typer.Option("--ids", help="Two stored rows' ids: the ends.")] = None,
    steps: Annotated[int, typer.Option("--steps", help="Frames in the strip, both ends included.")] = 8,
    spherical: Annotated[bool, typer.Option("--spherical", help="Follow the great circle between the codes instead of the straight line.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Decode the line between two codes (--ids A B, or two image files) into a strip of frames."""
    from ..ops.interpolate import InterpolateOptions, save_strip

    ends = _ends(images, ids)
    options = InterpolateOptions(steps=steps, spherical=spherical)

    def run(opened, progress):
        result = opened.interpolate(*ends, options=options)
        return result, save_strip(out, result, opened.model.preprocess.value_range)

    result, path = on_atlas(atlas, run, quiet=True)
    summary = {**result.to_dict(), "out": str(path)}
    if json_output:
        emit_json(summary)
    else:
        console().print(f"Wrote {path}: {steps} frames, {'spherical' if spherical else 'straight'} path; "
                        f"the codes are {summary['distance']:.4g} apart (squared {summary['squared_distance']:.4g}).")


def _ends(images: list[Path] | None, ids: tuple[int, int] | None) -> tuple:
    if ids is not None and images:
        raise UsageError("give either --ids A B or two image files, not both")
    if ids is not None:
        return ids
    if not images or len(images) != 2:
        raise UsageError(f"give two image files or --ids A B (got {len(images or [])} image(s))")
    return tuple(images)


def evaluate_interpolation(
    atlas: AtlasOption,
    step: Annotated[str, typer.Option("--step", help="Time between frames: 1h, 30min, 1d, ...")] = "1h",
    where: WhereOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the per-triple results as Parquet.")] = None,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Predict each frame's code as the mean of its neighbours' (t - step, t + step) and measure it."""
    from ..ops.evaluate.interpolation import TemporalOptions

    options = TemporalOptions(step=step, where=where)
    report = on_atlas(atlas, lambda opened, progress: opened.evaluate_interpolation(progress=progress, options=options),
                      threads, quiet or json_output)
    if out is not None:
        report.write_parquet(out)
    if json_output:
        emit_json(report.to_dict())
    else:
        _print_report(report, out)
    if report.duplicates:
        typer.echo(f"Ignored {report.duplicates} row(s) with the same time and tile as an earlier row.", err=True)
    if report.failures:
        typer.echo(f"{len(report.failures)} image(s) could not be read again; their triples count in code space only:", err=True)
        for failure in report.failures:
            typer.echo(f"  {failure}", err=True)


def _print_report(report, out: Path | None) -> None:
    def number(value, digits=4):
        return "n/a" if value is None else f"{value:.{digits}g}"

    text = console()
    text.print(f"{report.triples} triples (t - step, t, t + step).")
    text.print(f"Code space: squared distance of the mean of the neighbours to the truth {number(report.code_sqdist_interp)}, "
               f"between consecutive steps {number(report.code_sqdist_step)} (ratio {number(report.ratio, 3)}).")
    text.print(f"Pixel space PSNR (dB): decoded prediction {number(report.psnr_interp)}, pixel average of the "
               f"neighbours {number(report.psnr_pixel_blend)}, reconstruction of t {number(report.psnr_reconstruction)}.")
    if out is not None:
        text.print(f"Per-triple results: {out}")
