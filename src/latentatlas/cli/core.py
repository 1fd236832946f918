"""Commands of the foundation: fit, embed, build, decode, sql, info (search lives in ``cli/search.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import (
    AtlasOption, BatchSizeOption, JsonOption, QuietOption, ThreadsOption, TimeBudgetOption, VectorOption, command,
    console, emit_json, parse_numbers, parse_size, printable, progress_bar, report_failures, set_threads, writable_atlas,
)
from .readers import (
    ClipOption, CropOption, FillOption, FilterOption, MaxPixelsOption, ScaleOption, StrideOption, TileOption, VariableOption,
    reader_changes,
)

_RESTORATION = "Restoration"
SourcesArgument = Annotated[
    list[Path], typer.Argument(help="Folders, image files, manifests (.csv/.parquet), stacks (.npy/.npz) "
                               "or GRIB2/NetCDF fields (.grib2/.grb2/.grib, .nc).")
]


def register(app: typer.Typer) -> None:
    """Add the foundation's commands to ``app``."""
    _register_fit(app, "fit", embed_after=False,
                  help="Train the autoencoder on SOURCES and save it in the atlas.")
    _register_fit(app, "build", embed_after=True,
                  help="Fit on SOURCES, then embed them: an atlas in one go.")
    command(app, "embed")(embed)
    command(app, "decode")(decode)
    command(app, "sql")(sql)
    command(app, "info")(info)


def _register_fit(app: typer.Typer, name: str, embed_after: bool, help: str) -> None:
    def fit_command(
        sources: SourcesArgument,
        atlas: AtlasOption,
        code_size: Annotated[int, typer.Option("--code-size", help="Numbers per code.")] = 64,
        size: Annotated[Optional[str], typer.Option(help="Input size N or HxW (default: from the data, at most 64).")] = None,
        channels: Annotated[Optional[int], typer.Option(help="1 (grey) or 3 (RGB); default from the data.")] = None,
        fit: Annotated[str, typer.Option("--fit", help="resize or crop images to the input size.")] = "resize",
        value_range: Annotated[Optional[str], typer.Option("--value-range", help="LOW,HIGH mapped to 0..1 (default: the dtype's range).")] = None,
        preset: Annotated[str, typer.Option("--preset", help="Network size: auto (from the number of images), tiny, small, base or large.")] = "auto",
        family: Annotated[Optional[str], typer.Option("--family", help="Layers: residual (default) or classic (the first release's).")] = None,
        base_channels: Annotated[Optional[int], typer.Option("--base-channels", help="Width of the first conv level (default: the preset's).")] = None,
        linear_path: Annotated[Optional[bool], typer.Option("--linear-path/--no-linear-path", help="Start from PCA through a fixed linear path (default: off; the kept model is never worse than PCA either way).")] = None,
        augment: Annotated[Optional[list[str]], typer.Option("--augment", help="auto (by data kind), none, or steps (repeatable): crop[:MIN_SIDE], hflip, vflip, rot90, shift[:FRACTION], brightness[:AMOUNT], contrast[:AMOUNT].")] = None,
        device: Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu, cuda or mps.")] = "auto",
        precision: Annotated[str, typer.Option("--precision", help="Training arithmetic: auto (bfloat16 where native), float32 or bfloat16.")] = "auto",
        max_images: Annotated[Optional[int], typer.Option("--max-images", help="Train on a seeded sample of this many images.")] = None,
        cache_images: Annotated[Optional[int], typer.Option("--cache-images", help="Stream training images from disk, keeping at most this many decoded.")] = None,
        epochs: Annotated[Optional[int], typer.Option(help="Upper bound on epochs (default 30, or none under --time-budget: the budget ends training).")] = None,
        batch_size: BatchSizeOption = 64,
        learning_rate: Annotated[float, typer.Option("--lr", help="Peak AdamW learning rate.")] = 2e-3,
        val: Annotated[float, typer.Option("--val", help="Share held out for validation.")] = 0.1,
        loss: Annotated[str, typer.Option(help="mse, l1, logcosh, mse+ssim or l1+ssim.")] = "mse",
        patience: Annotated[int, typer.Option(help="Epochs without improvement before stopping (at least 300 steps, and a fifth of --time-budget).")] = 8,
        time_budget: TimeBudgetOption = None,
        objective: Annotated[str, typer.Option("--objective", help="What the codes are for: reconstruct, invariant (search that ignores shifts, flips, lighting), predict:LEAD[,LEAD] (time-stamped fields: near codes, near futures) or auto (by data kind).")] = "auto",
        seed: Annotated[int, typer.Option(help="Seed for split, weights and batch order.")] = 0,
        overwrite: Annotated[bool, typer.Option(help="Replace a model whose codes are stored (clears them).")] = False,
        variable: VariableOption = None, filters: FilterOption = None, fill_value: FillOption = None,
        clip: ClipOption = None, crop: CropOption = None, scale: ScaleOption = None,
        tile: TileOption = None, stride: StrideOption = None, max_pixels: MaxPixelsOption = None,
        corrupt: Annotated[Optional[list[str]], typer.Option(
            "--corrupt", help="Learn to undo this corruption (repeatable, applied in order): noise:SIGMA, "
            "saltpepper:AMOUNT, mask:box|lines|crosshair, gray, downsample:FACTOR, jpeg:QUALITY.",
            rich_help_panel=_RESTORATION)] = None,
        bottleneck: Annotated[str, typer.Option(
            "--bottleneck", help="linear (a vector code: searchable) or conv (a feature map: restoration only).",
            rich_help_panel=_RESTORATION)] = "linear",
        levels: Annotated[Optional[int], typer.Option(
            "--levels", help="Halvings down to the bottleneck (default: linear as the size allows, conv 0).",
            rich_help_panel=_RESTORATION)] = None,
        blocks: Annotated[Optional[int], typer.Option(
            "--blocks", help="3x3 convolutions on the bottleneck grid (default: linear 0, conv 6).",
            rich_help_panel=_RESTORATION)] = None,
        residual: Annotated[Optional[bool], typer.Option(
            "--residual/--no-residual", help="Predict a correction added to the input (default: on for conv).",
            rich_help_panel=_RESTORATION)] = None,
        threads: ThreadsOption = None,
        json_output: JsonOption = False,
        quiet: QuietOption = False,
    ) -> None:
        from ..ops.fit import split_settings
        from ..sources import ReaderOptions

        set_threads(threads)
        options, train = split_settings(dict(
            code_size=code_size, size=parse_size(size), channels=channels, fit=fit,
            value_range=tuple(parse_numbers(value_range, "--value-range")) if value_range else None,
            preset=preset, family=family, base_channels=base_channels, linear_path=linear_path,
            augment=tuple(augment or ("auto",)), device=device, precision=precision, max_images=max_images,
            cache_images=cache_images, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            val_fraction=val, loss=loss, patience=patience, time_budget=time_budget, seed=seed, objective=objective,
            corrupt=tuple(corrupt or ()), bottleneck=bottleneck, levels=levels, blocks=blocks, residual=residual,
        ))
        reader = ReaderOptions(**reader_changes(variable, filters, fill_value, clip, crop, scale, tile, stride, max_pixels))
        whole = dict(overwrite=overwrite, reader=reader, options=options, train=train)
        with writable_atlas(atlas) as opened, progress_bar(quiet or json_output) as progress:
            if embed_after:
                fitted, embedded = opened.build(sources, progress=progress, **whole)
            else:
                fitted, embedded = opened.fit(sources, progress=progress, **whole), None
        result = _fit_summary(fitted)
        failures = fitted.failures
        if embedded is not None:
            result["embed"] = _embed_summary(embedded)
            failures = embedded.failures
        if json_output:
            emit_json(result)
        else:
            _print_fit(result)
        report_failures(failures)

    fit_command.__doc__ = help
    command(app, name)(fit_command)


def _fit_summary(report) -> dict[str, Any]:
    history = report.history
    model = report.model
    return {
        "model": model.fingerprint,
        "images": report.images,
        "failed": [{"uri": f.uri, "reason": f.reason} for f in report.failures],
        "input_shape": list(model.input_preprocessor.input_shape),
        "output_channels": model.architecture.out_channels,
        "code_size": model.code_size if model.has_code else None,
        "bottleneck": model.architecture.bottleneck,
        "corruption": model.corruption.specs,
        "epochs": len(history.epochs),
        "steps": history.steps,
        "stop_reason": history.stop_reason,
        "objective": history.objective,
        "split": history.split,
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_loss if history.n_val else None,
        "baseline_val_loss": history.baseline_val_loss,
        "pca_val_loss": history.pca_val_loss,
        "kept": history.kept,
        "comparison": history.comparison,
        "notes": list(report.notes),
        "seconds": round(history.seconds, 2),
    }


def _embed_summary(report) -> dict[str, Any]:
    return {
        "added": report.added,
        "skipped": report.skipped,
        "failed": [{"uri": f.uri, "reason": f.reason} for f in report.failures],
        "rows": report.total_rows,
    }


def _print_fit(result: dict[str, Any]) -> None:
    out = console()
    c, h, w = result["input_shape"]
    code = f"{result['code_size']} numbers" if result["code_size"] else "a conv feature map"
    task = f", undoing {' then '.join(result['corruption'])}" if result["corruption"] else ""
    out.print(f"Trained on {result['images']} images ({c}x{h}x{w} -> {code}{task}) "
              f"for {result['epochs']} epochs ({result['steps']} steps) in {result['seconds']:.1f} s, "
              f"objective {result['objective']}; stopped by {result['stop_reason']}.")
    out.print(f"Validation: {result['split']}.")
    if result["kept"] == "pca":
        out.print(f"PCA kept: {result['comparison']}.")
    elif result["best_val_loss"] is not None:
        out.print(f"Best validation loss {result['best_val_loss']:.4g} at epoch {result['best_epoch']} "
                  f"(predicting the mean image: {result['baseline_val_loss']:.4g}).")
    if result["comparison"] and result["kept"] != "pca":
        out.print(result["comparison"])
    for note in result["notes"]:
        out.print(f"Note: {note}.")
    if "embed" in result:
        _print_embed(result["embed"])


def _print_embed(result: dict[str, Any]) -> None:
    console().print(f"Embedded {result['added']} new images, skipped {result['skipped']} already present; "
                    f"the atlas holds {result['rows']} rows.")


def embed(
    sources: SourcesArgument,
    atlas: AtlasOption,
    batch_size: BatchSizeOption = 256,
    variable: VariableOption = None, filters: FilterOption = None, fill_value: FillOption = None,
    clip: ClipOption = None, crop: CropOption = None, scale: ScaleOption = None,
    tile: TileOption = None, stride: StrideOption = None, max_pixels: MaxPixelsOption = None,
    threads: ThreadsOption = None,
    engine: Annotated[str, typer.Option("--engine", help="Where to encode: local (this process) or ray.")] = "local",
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray cluster to use (auto, HOST:PORT); default: a new local one.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Ray actors encoding at once (default: the cluster's CPUs).")] = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Encode the images of SOURCES not yet in the atlas and store them.

    Sources are read as `fit` read them (variable, clip, crop, scale, tiles);
    the reading options given here change those settings. With --engine ray
    the batches are encoded on a Ray cluster (docs/scale.md).
    """
    from ..ops.embed import EmbedOptions

    set_threads(threads)
    changes = reader_changes(variable, filters, fill_value, clip, crop, scale, tile, stride, max_pixels)
    options = EmbedOptions(batch_size=batch_size, engine=engine, address=address, workers=workers)
    with writable_atlas(atlas, create=False) as opened, progress_bar(quiet or json_output) as progress:
        report = opened.embed(sources, progress=progress, reader=changes, options=options)
    result = _embed_summary(report)
    if json_output:
        emit_json(result)
    else:
        _print_embed(result)
    report_failures(report.failures)


def decode(
    atlas: AtlasOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Image file to write (.png, .tif, ... or .npy for raw values).")],
    id: Annotated[Optional[int], typer.Option("--id", help="Decode a stored row's code.")] = None,
    vector: VectorOption = None,
    json_output: JsonOption = False,
) -> None:
    """Decode a stored row's code (--id) or a --vector to an image file."""
    from ..atlas import Atlas
    from ..ops.decode import save_decoded

    numbers = parse_numbers(vector, "--vector") if vector is not None else None
    with Atlas.open(atlas, read_only=True) as opened:
        image = opened.decode(id=id, vector=numbers)
        path = save_decoded(out, image, opened.model.preprocess.value_range)
    result = {"out": str(path), "shape": list(image.shape), "dtype": str(image.dtype)}
    if json_output:
        emit_json(result)
    else:
        console().print(f"Wrote {path} ({'x'.join(map(str, image.shape))}, {image.dtype}).")


def sql(
    query: Annotated[str, typer.Argument(help="One read-only SQL statement (tables: images, embeddings, items, ...).")],
    atlas: AtlasOption,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows shown in the table (JSON gets all).")] = 50,
    dialect: Annotated[Optional[str], typer.Option(
        "--dialect", help="Translate from this SQL dialect (bigquery, postgres, snowflake, ...) to DuckDB with sqlglot.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Run a read-only SQL query on the atlas and print a table or JSON."""
    from ..atlas import Atlas

    with Atlas.open(atlas, read_only=True) as opened:
        result = opened.sql(query, dialect=dialect)
    if json_output:
        emit_json({"columns": result.columns, "rows": [_json_row(r) for r in result.records()]})
        return
    from rich.table import Table

    table = Table(*map(printable, result.columns))
    for row in result.rows[:max_rows]:
        table.add_row(*(printable(_cell(v)) for v in row))
    out = console()
    out.print(table)
    if len(result.rows) > max_rows:
        out.print(f"({len(result.rows)} rows, {max_rows} shown; --max-rows or --json for more)")


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()}


def _cell(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        head = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value[:4])
        return f"[{head}{', ...' if len(value) > 4 else ''}] ({len(value)})"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def info(atlas: AtlasOption, json_output: JsonOption = False) -> None:
    """Model, code size, rows and training summary of an atlas."""
    from ..atlas import Atlas

    with Atlas.open(atlas, read_only=True) as opened:
        summary = opened.info()
    if json_output:
        emit_json(summary)
        return
    out = console()
    out.print(f"Atlas {summary['atlas']}: {summary['rows']} images, {summary['embedded']} codes, "
              f"{summary['labels']} labels, {summary['disk_bytes'] / 1e6:.1f} MB on disk.")
    for problem in summary["problems"]:
        typer.echo(f"Warning: {problem}", err=True)
    model = summary["model"]
    if model is None:
        if not summary["problems"]:
            out.print("No model yet: run `latentatlas fit`.")
        return
    c, h, w = model["input_shape"]
    code = f"{model['code_size']} numbers" if model["code_size"] else "a conv feature map (restoration only)"
    history = summary["history"]
    pca_kept = bool(history) and history["kept"] == "pca"
    if pca_kept:
        out.print(f"Model {model['fingerprint']}: PCA kept, {c}x{h}x{w} -> {code} by a linear map "
                  "(the trained network did not beat it).")
    else:
        out.print(f"Model {model['fingerprint']}: {c}x{h}x{w} -> {code}, depth {model['depth']}, "
                  f"widths {model['widths']}, {model['parameters']:,} parameters.")
    if model["corruption"]:
        out.print(f"Trained to undo: {' then '.join(model['corruption'])}.")
    if history:
        stopped = f", stopped by {history['stop_reason']}" if history["stop_reason"] else ""
        trained = (f"Trained {history['epochs']} epochs in {history['seconds']} s{stopped} "
                   f"(objective {history['objective']}; validation: {history['split']})")
    if pca_kept:
        out.print(f"{trained}; {history['comparison']}.")
    elif history:
        out.print(f"{trained}; best {history['loss']} "
                  f"{history['best_loss']:.4g} at epoch {history['best_epoch']} "
                  f"(mean image: {history['baseline_val_loss'] or float('nan'):.4g}).")
        if history["comparison"]:
            out.print(history["comparison"])
