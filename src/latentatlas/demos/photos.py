"""The photos demo: an atlas of the built-in photo tiles and an HTML report of it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atlas import Atlas
from ..datasets.samples import export_sample
from ..models.train import split
from ..ops.evaluate.quality import psnr
from ..pictures.grids import captioned_rows, grid
from ..pictures.report import Report
from ..progress import ProgressCallback, silent
from ..sources import read_sources
from ..sources.loading import load_records

__all__ = ["photos_demo", "psnr"]

VAL_FRACTION = 0.1


def photos_demo(
    atlas_path: str | Path,
    time_budget: float | None = 90.0,
    seed: int = 0,
    progress: ProgressCallback = silent,
) -> dict[str, Any]:
    """Export the photo tiles into the atlas, build it, and write ``report.html``.

    Returns the figures of the run: ``images``, ``seconds``, ``psnr_val``,
    ``same_photo_at_5`` and the ``report`` path.
    """
    start = time.perf_counter()
    atlas_path = Path(atlas_path)
    data_dir = atlas_path / "samples" / "photos"
    if not (data_dir / "labels.csv").is_file():
        export_sample("photos", data_dir)
    with Atlas.open(atlas_path) as atlas:
        fitted, _ = atlas.build(
            data_dir, overwrite=True, progress=progress, code_size=64, epochs=200, patience=10,
            time_budget=time_budget, val_fraction=VAL_FRACTION, seed=seed,
        )
        loaded = load_records(read_sources([data_dir]).records)
        inputs = atlas.model.prepare(loaded.images)
        _, val = split(len(inputs), VAL_FRACTION, seed)
        reconstructions = atlas.model.reconstruct(inputs[val])
        scores = psnr(inputs[val], reconstructions)
        photo_of = [r.uri.rsplit("/", 1)[-1].rsplit("_", 2)[0] for r in loaded.records]
        same_photo = _same_photo_rate(atlas, photo_of)
        report = Report("latentatlas demo: built-in photo tiles")
        _summary(report, atlas, fitted, len(inputs), float(scores.mean()), same_photo, time.perf_counter() - start)
        report.heading("Training")
        report.picture((atlas.store.model_dir / "loss.png").read_bytes(),
                       "Training and validation loss per epoch (epoch 0: the linear path alone, i.e. PCA); "
                       "dashed: the loss of predicting the mean image.")
        report.heading("Originals and reconstructions (held-out tiles)")
        shown = val[np.linspace(0, len(val) - 1, 10).astype(int)]
        originals = [loaded.images[i] for i in shown]
        decoded = atlas.model.to_images(atlas.model.reconstruct(inputs[shown]))
        report.picture(grid(originals + decoded, columns=10),
                       "Top: original tiles. Bottom: decoded from 64 numbers each.")
        report.heading("Search: nearest tiles of a few queries")
        _search_section(report, atlas, loaded, val, photo_of)
        path = report.write(atlas_path / "report.html")
    return {
        "report": str(path), "images": len(inputs), "seconds": time.perf_counter() - start,
        "psnr_val": float(scores.mean()), "same_photo_at_5": same_photo,
        "epochs": len(fitted.history.epochs),
    }


def _same_photo_rate(atlas: Atlas, photo_of: list[str]) -> float:
    """Share of each tile's 5 nearest other tiles that come from the same photograph."""
    ids, vectors = atlas.store.vectors()
    squared = (vectors**2).sum(1)
    distances = squared[:, None] + squared[None, :] - 2.0 * vectors @ vectors.T
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :5]
    photos = np.array(photo_of)
    return float((photos[nearest] == photos[ids][:, None]).mean())


def _summary(report: Report, atlas: Atlas, fitted, n: int, psnr_val: float, same_photo: float, seconds: float) -> None:
    model, history = atlas.model, fitted.history
    c, h, w = model.preprocessor.input_shape
    report.paragraph(
        f"{n} tiles of {h}x{w} RGB from the photographs shipped with scikit-image and scikit-learn, "
        f"encoded to {model.code_size} numbers each ({c * h * w} bytes to {model.code_size * 4} bytes as float32)."
    )
    report.table(["figure", "value"], [
        ["tiles", n],
        ["epochs", len(history.epochs)],
        ["best validation MSE", history.best_loss],
        ["MSE of predicting the mean tile", history.baseline_val_loss],
        ["reconstruction PSNR on held-out tiles (dB)", psnr_val],
        ["5 nearest neighbours from the same photograph", f"{same_photo:.1%}"],
        ["model", model.fingerprint],
    ])
    report.table(["timing", "seconds"], [["training", round(history.seconds, 1)], ["whole demo", round(seconds, 1)]])


def _search_section(report: Report, atlas: Atlas, loaded, val: np.ndarray, photo_of: list[str]) -> None:
    queries = val[np.linspace(0, len(val) - 1, 4).astype(int)]
    rows, captions = [], []
    for query in queries.tolist():
        result = atlas.search(id=query, k=6, where=f"id <> {query}")
        rows.append([loaded.images[query]] + [loaded.images[h.id] for h in result.hits])
        captions.append([f"query\n{photo_of[query]}"] +
                        [f"{photo_of[h.id]}\nd={h.distance:.2f}" for h in result.hits])
    report.picture(captioned_rows(rows, captions),
                   "Each row: a held-out query tile, then its six nearest other tiles by code distance.")
