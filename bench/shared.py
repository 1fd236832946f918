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


def analogue_crps(vectors: "np.ndarray", fields: "np.ndarray", times: "np.ndarray", archive: "np.ndarray",
                  leads: list, k: int, chunk: int = 64) -> list[float]:
    """Mean CRPS of ``k``-analogue ensembles at each lead: queries are the items outside ``archive``.

    For each query time ``t`` (whose field at every lead exists) the ``k``
    archive items nearest in ``vectors`` (squared L2) among those whose own
    field a lead later is in the archive give the members ``fields[t' + lead]``;
    the truth is ``fields[t + lead]``.
    """
    import numpy as np

    from latentatlas.ops.evaluate.ensemble_scores import crps

    stamps = np.asarray(times, "datetime64[us]")
    position = {int(t): i for i, t in enumerate(stamps.astype(np.int64))}

    def later(items, lead):
        step = int(lead.total_seconds() * 1e6)
        return np.array([position.get(int(stamps[i].astype(np.int64)) + step, -1) for i in items])

    archived = np.flatnonzero(archive)
    queries = np.flatnonzero(~archive)
    queries = queries[np.all([later(queries, lead) >= 0 for lead in leads], axis=0)]
    vectors = np.asarray(vectors, np.float32)
    bank = vectors[archived]
    distance = ((vectors[queries] ** 2).sum(1)[:, None] - 2 * vectors[queries] @ bank.T
                + (bank ** 2).sum(1)[None]).astype(np.float64)
    scores = []
    for lead in leads:
        future = later(archived, lead)
        usable = (future >= 0) & archive[np.maximum(future, 0)]
        masked = np.where(usable[None], distance, np.inf)
        total = 0.0
        for lo in range(0, len(queries), chunk):
            q = queries[lo:lo + chunk]
            part = masked[lo:lo + chunk]
            nearest = np.argpartition(part, k, axis=1)[:, :k]
            members = fields[future[nearest]]  # (q, k, H, W)
            truth = fields[later(q, lead)]
            total += float(crps(np.moveaxis(members, 1, 0), truth).mean(axis=tuple(range(1, truth.ndim))).sum())
        scores.append(total / len(queries))
    return scores
