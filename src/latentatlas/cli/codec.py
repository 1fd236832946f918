"""``compress``, ``decompress`` and ``evaluate codec``: images as small code files, and what that costs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..codec.quantise import DTYPES
from . import evaluate
from .common import (
    AtlasOption, BatchSizeOption, JsonOption, QuietOption, ThreadsOption, command, console, finish_report, on_atlas,
    show_result,
)
from .core import SourcesArgument

DtypeOption = Annotated[str, typer.Option("--dtype", help="float32, float16 or int8 (per-dimension scale from the atlas's codes).")]


def register(app: typer.Typer) -> None:
    """Add ``compress`` and ``decompress`` to ``app`` and ``codec`` to ``evaluate``."""
    command(app, "compress")(compress)
    command(app, "decompress")(decompress)
    command(evaluate.app, "codec")(evaluate_codec)


def compress(
    sources: SourcesArgument,
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the .lac files (mirrors the sources' layout).")],
    dtype: DtypeOption = "float16",
    batch_size: BatchSizeOption = 256,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write one small code file per image: a versioned header and the quantised code."""
    from ..ops.codec import CompressOptions

    options = CompressOptions(dtype=dtype, batch_size=batch_size)
    report = on_atlas(atlas, lambda opened, progress: opened.compress(
        sources, out, progress=progress, options=options), threads, quiet or json_output)
    finish_report(report, json_output, "Compressed {files} images into {out}: {bytes_per_file} bytes each "
                                 "({dtype}, {code_size} numbers), {bpp:.3f} bits per pixel.")


def decompress(
    files: Annotated[list[Path], typer.Argument(help=".lac files or folders of them.")],
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the restored images.")],
    format: Annotated[Optional[str], typer.Option("--format", help="png, tif, ... or npy (default: png for 8/16-bit collections, npy for float fields).")] = None,
    batch_size: BatchSizeOption = 256,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Restore images from code files at their original size; files of another model are refused."""
    from ..ops.codec import DecompressOptions

    options = DecompressOptions(format=format, batch_size=batch_size)
    report = on_atlas(atlas, lambda opened, progress: opened.decompress(
        files, out, progress=progress, options=options), threads, quiet or json_output)
    finish_report(report, json_output, "Restored {images} images into {out}.")


def evaluate_codec(
    sources: Annotated[list[Path], typer.Argument(help="Held-out images (not used in training).")],
    atlas: AtlasOption,
    pca_train: Annotated[Optional[list[Path]], typer.Option("--pca-train", help="Fit PCA on these images (the model's training images); default: the model's linear path.")] = None,
    dtypes: Annotated[Optional[list[str]], typer.Option("--dtype", help="Code dtypes to score (repeatable; default all three).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the rate-distortion plot here (.png).")] = None,
    threads: ThreadsOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Bytes, bits per pixel, PSNR and SSIM of our codes beside PCA, JPEG and WebP at the same size."""
    from ..ops.evaluate.codec import CodecEvalOptions

    options = CodecEvalOptions(dtypes=dtypes or DTYPES)
    evaluation = on_atlas(atlas, lambda opened, progress: opened.evaluate_codec(
        sources, pca_train=pca_train, progress=progress, options=options), threads, quiet or json_output)
    result = evaluation.to_dict()
    if out is not None:
        from ..pictures.grids import rate_distortion_figure, save_png

        result["plot"] = str(save_png(rate_distortion_figure(result), out))
    show_result(result, json_output, _print_table, evaluation.failures)


def _quality(quality: dict | None) -> str:
    if quality is None:
        return ""
    spread = "" if quality["min"] == quality["max"] else f" ({quality['min']}-{quality['max']})"
    return f"{quality['median']:g}{spread}"


def _print_table(result: dict) -> None:
    from rich.table import Table

    table = Table("method", "code", "bytes", "bpp", "PSNR dB", "SSIM", "quality", "at min")
    for row in result["rows"]:
        table.add_row(
            row["method"], row["dtype"], f"{row['bytes_per_image']:.1f}", f"{row['bpp']:.3f}", f"{row['psnr']:.2f}",
            "" if row["ssim"] is None else f"{row['ssim']:.3f}", _quality(row["quality"]),
            "" if row["smallest_share"] is None else f"{row['smallest_share']:.0%}",
        )
    out = console()
    out.print(table)
    out.print(f"{result['images']} images, codes of {result['code_size']} numbers; bytes per image. JPEG and WebP "
              "are matched to the size of the codes named (quality: median and range; at min: share of images whose "
              f"smallest file is still larger). PCA: {result['pca']}.")
    for note in result["notes"]:
        out.print(note)
    if "plot" in result:
        out.print(f"Plot: {result['plot']}")
