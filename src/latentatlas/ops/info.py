"""Info: what an atlas holds: model, code size, rows, training summary."""

from __future__ import annotations

from typing import Any

from ..errors import LatentAtlasError, ModelMismatchError
from ..models import has_model, load_model
from ..store.database import Store
from ..store.schema import READER_SETTING
from ..store.switch import check_codes_made_by
from .fit import read_history

__all__ = ["info"]


def info(store: Store) -> dict[str, Any]:
    """A JSON-able summary of the atlas.

    Keys: ``atlas``, ``rows``, ``embedded``, ``code_size``, ``model``
    (None before ``fit``), ``history`` (None before ``fit``), ``disk_bytes``,
    ``reader`` (how ``fit`` read its sources, None before ``fit``) and
    ``problems``: one line per damaged part (a model or history that cannot
    be read is None and named there, with what still works).
    """
    summary: dict[str, Any] = {
        "atlas": str(store.path.resolve()),
        "rows": store.count("images"),
        "embedded": store.count("embeddings"),
        "code_size": store.code_size(),
        "labels": _labels(store),
        "model": None,
        "history": None,
        "disk_bytes": sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file()),
        "reader": store.setting(READER_SETTING),
        "problems": [],
    }
    try:
        model = load_model(store.model_dir) if has_model(store.model_dir) else None
        if model is not None:
            check_codes_made_by(store, model.fingerprint, model.code_size if model.has_code else None)
    except ModelMismatchError as error:  # the model reads, but did not make the codes
        summary["problems"].append(f"{error}; decoding and image search are off (SQL and search by id still work)")
    except LatentAtlasError as error:
        model = None
        summary["problems"].append(f"{error}; decoding is off (SQL and search by id or vector still work)")
    if model is not None:
        arch = model.architecture
        summary["model"] = {
            "fingerprint": model.fingerprint,
            "code_size": arch.code_size if model.has_code else None,
            "bottleneck": arch.bottleneck,
            "corruption": model.corruption.specs,
            "input_shape": [arch.in_channels, arch.height, arch.width],
            "output_channels": arch.out_channels,
            "depth": arch.depth,
            "widths": arch.widths,
            "parameters": sum(p.numel() for p in model.net.parameters()),
            "preprocess": model.preprocess.to_dict(),
            "training": model.training,
        }
        summary["code_size"] = summary["code_size"] or summary["model"]["code_size"]
    try:
        history = read_history(store.model_dir)
    except LatentAtlasError as error:
        history = None
        summary["problems"].append(str(error))
    if history is not None:
        last = history.epochs[-1] if history.epochs else None
        summary["history"] = {
            "epochs": len(history.epochs),
            "best_epoch": history.best_epoch,
            "best_loss": history.best_loss,
            "last_train_loss": last.train_loss if last else None,
            "baseline_val_loss": history.baseline_val_loss,
            "initial_val_loss": history.initial_val_loss,
            "loss": history.loss,
            "stopped_early": history.stopped_early,
            "stop_reason": history.stop_reason or None,
            "steps": history.steps or None,
            "split": history.split,
            "objective": history.objective,
            "seconds": round(history.seconds, 2),
            "n_train": history.n_train,
            "n_val": history.n_val,
            "pca_val_loss": history.pca_val_loss,
            "kept": history.kept,
            "comparison": history.comparison,
        }
    return summary


def _labels(store: Store) -> int:
    if not store.count("images"):
        return 0
    return store.scalar("SELECT count(DISTINCT label) FROM images")
