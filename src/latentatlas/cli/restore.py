"""``restore`` (alias ``denoise``) and ``evaluate restore``: undo a corruption, and measure how well."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import evaluate
from .common import (
    AtlasOption, BatchSizeOption, JsonOption, QuietOption, ThreadsOption, command, console, finish_report, on_atlas,
    show_result,
)

ImagesArgument = Annotated[list[Path], typer.Argument(
    help="Image files, folders, manifests (.csv/.parquet) or stacks (.npy/.npz).")]
StrideOption = Annotated[Optional[int], typer.Option(
    "--stride", help="Step between tiles in pixels (default: half the model's input size).")]
CorruptOption = Annotated[Optional[list[str]], typer.Option(
    "--corrupt", help="Evaluate with this corruption instead of the model's own (repeatable, in order).")]


def register(app: typer.Typer) -> None:
    """Add ``restore`` and ``denoise`` to ``app`` and ``restore`` to ``evaluate``."""
    command(app, "restore")(restore)
    command(app, "denoise", help="Same as `restore`.")(restore)
    command(evaluate.app, "restore")(evaluate_restore)


def restore(
    images: ImagesArgument,
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the restored images (mirrors the inputs' layout).")],
    stride: StrideOption = None,
    format: Annotated[Optional[str], typer.Option("--format", help="png, tif, ... or npy (default: the input's own).")] = None,
    upscale: Annotated[bool, typer.Option("--upscale/--no-upscale", help="Super-resolution: enlarge inputs by the model's factor first (off: they are already at the output size).")] = True,
    batch_size: BatchSizeOption = 64,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Restore IMAGES with the atlas's model and write them under --out.

    Any size works: images larger than the model's input go through
    overlapping tiles blended with a smooth window. Unreadable images are
    skipped and listed.
    """
    from ..ops.restore import RestoreSettings

    settings = RestoreSettings(stride=stride, format=format, upscale=upscale, batch_size=batch_size)
    report = on_atlas(atlas, lambda opened, progress: opened.restore(images, out, progress=progress, options=settings),
                      threads, quiet or json_output)
    finish_report(report, json_output, "Restored {images} images into {out} (the model undoes: {corruption}).")


def evaluate_restore(
    images: Annotated[list[Path], typer.Argument(help="Clean held-out images (not used in training).")],
    atlas: AtlasOption,
    corrupt: CorruptOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the grid picture (clean, corrupted, ours, best baseline) here (.png).")] = None,
    validation: Annotated[float, typer.Option("--validation", help="Share of the images that tunes the baselines.")] = 0.3,
    examples: Annotated[int, typer.Option("--examples", help="Images shown in the grid.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the corruption and the split.")] = 0,
    stride: StrideOption = None,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """PSNR and SSIM of the corrupted input, ours, and classic filters tuned on a validation split."""
    from ..ops.evaluate.restore import RestoreEvalSettings

    settings = RestoreEvalSettings(corrupt=corrupt or None, validation=validation, examples=examples, seed=seed,
                                   stride=stride)
    evaluation = on_atlas(atlas, lambda opened, progress: opened.evaluate_restore(
        images, out=out, progress=progress, options=settings), threads, quiet or json_output)
    show_result(evaluation.to_dict(), json_output, _print_table, evaluation.failures)


def _print_table(result: dict) -> None:
    from rich.table import Table

    table = Table("method", "PSNR dB", "SSIM", "tuned")
    for row in result["rows"]:
        parameter = ", ".join(f"{k} {v:g}" for k, v in (row["parameter"] or {}).items())
        table.add_row(row["method"], f"{row['psnr']:.2f}", "" if row["ssim"] is None else f"{row['ssim']:.3f}",
                      parameter)
    out = console()
    out.print(table)
    out.print(f"{result['images']} images scored, {result['tuned_on']} tuned the baselines; "
              f"corruption: {result['corruption']}; best baseline: {result['best_baseline'] or 'none applies'}.")
    for note in result["notes"]:
        out.print(note)
    if result["grid"]:
        out.print(f"Grid: {result['grid']}")
