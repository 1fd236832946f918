"""What the benchmarks that train share: photo tiles with whole photographs held out, and the training summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentatlas.sources import write_image
from latentatlas.datasets.samples import load_sample

HELD_OUT = ("astronaut", "coffee", "camera", "grass")


def export_tiles(held_out: set[str], root: Path, tile: int = 64, stride: int = 32) -> tuple[Path, Path, int, int]:
    """Training tiles (``tile`` pixels, ``stride`` apart, other photos) and held-out 64x64 tiles (``held_out`` photos) as PNG."""
    train, test = root / "train", root / "heldout"
    n_train = n_test = 0
    training = load_sample("photos", tile=tile, stride=stride)
    for image, name, meta in zip(training.images, training.names, training.meta):
        if meta["photo"] not in held_out:
            write_image(train / f"{name}.png", image)
            n_train += 1
    tiles = load_sample("photos")
    for image, name, meta in zip(tiles.images, tiles.names, tiles.meta):
        if meta["photo"] in held_out:
            write_image(test / f"{name}.png", image)
            n_test += 1
    return train, test, n_train, n_test


def training_summary(history: Any, time_budget: float) -> dict[str, Any]:
    """The JSON fields that say how a benchmark's model trained (``history``: the fit's History)."""
    return {
        "time_budget_s": time_budget,
        "training_seconds": round(history.seconds, 1),
        "epochs": len(history.epochs),
        "best_epoch": history.best_epoch,
        "val_mse_start": history.initial_val_loss,
        "val_mse_best": history.best_loss,
    }

