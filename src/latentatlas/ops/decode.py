"""Decode: a stored row's code, or any vector, back to an image in the collection's units."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..models import LatentModel
from ..sources import write_image
from ..store.database import Store
from .search import resolve_query

__all__ = ["decode", "save_decoded"]


def decode(
    store: Store,
    model: LatentModel,
    id: int | None = None,
    vector: Sequence[float] | None = None,
) -> np.ndarray:
    """Decode the code of row ``id``, or ``vector``, to an image.

    A stored row comes back at its original size (or its centred crop's
    size when the model crops); a bare vector at the model's input size.
    """
    query = resolve_query(store, lambda: model, id=id, vector=vector)
    size = None
    if id is not None:
        row = store.images([id])[id]
        size = model.preprocessor.output_size(row["height"], row["width"])
    return model.decode_images(query.vector[None], [size])[0]


def save_decoded(path: str | Path, image: np.ndarray, value_range: tuple[float, float]) -> Path:
    """Write a decoded image: ``.npy`` keeps the values, image formats show them.

    Integer images are written as they are; float images (fields in physical
    units) are mapped from ``value_range`` to 0..255 for an image file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, image)
        return path
    if image.dtype.kind == "f":
        low, high = value_range
        image = np.clip((image - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    return write_image(path, image)
