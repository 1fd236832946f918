"""Interpolate: decode the path between two codes, straight or along the great circle."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import at_least
from ..models import LatentModel
from ..store.database import Store
from .embed import check_model_matches
from .search import resolve_query

__all__ = ["InterpolateOptions", "Interpolation", "interpolate", "lerp", "slerp", "save_strip"]

Endpoint = int | str | Path | np.ndarray


@dataclass(frozen=True, kw_only=True)
class InterpolateOptions:
    """``steps`` frames (at least 2: both ends are frames), along a straight or a ``spherical`` path.

    Raises
    ------
    UsageError
        Naming ``steps``, if it is below 2.
    """

    steps: int = 8
    spherical: bool = False

    def __post_init__(self) -> None:
        at_least(2)("steps", self.steps)


@dataclass
class Interpolation:
    """The frames between two codes, the codes, and where the ends came from."""

    frames: list[np.ndarray]
    codes: np.ndarray
    t: np.ndarray
    spherical: bool
    ends: list[dict[str, Any]] = field(default_factory=list)

    @property
    def distance(self) -> float:
        """Euclidean distance between the two end codes."""
        return float(np.linalg.norm(self.codes[-1].astype(np.float64) - self.codes[0]))

    @property
    def cosine_distance(self) -> float:
        """One minus the cosine similarity of the two end codes."""
        a, b = self.codes[0].astype(np.float64), self.codes[-1].astype(np.float64)
        norms = np.linalg.norm(a) * np.linalg.norm(b)
        return float(1.0 - a @ b / norms) if norms > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: the ends, the distance between their codes, the steps."""
        return {"a": self.ends[0], "b": self.ends[1], "steps": len(self.frames), "spherical": self.spherical,
                "t": self.t.tolist(), "distance": self.distance, "squared_distance": self.distance**2,
                "cosine_distance": self.cosine_distance}


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points ``(len(t), d)`` on the straight line from ``a`` (t=0) to ``b`` (t=1)."""
    t = np.asarray(t, np.float64)[:, None]
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: the great-circle arc from ``a`` to ``b``, norms blended linearly.

    Falls back to :func:`lerp` when the codes are (anti)parallel or zero,
    where the arc is not defined.
    """
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0 or nb == 0:
        return lerp(a, b, t)
    cos = np.clip(a64 @ b64 / (na * nb), -1.0, 1.0)
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(a, b, t)
    t = np.asarray(t, np.float64)[:, None]
    direction = (np.sin((1 - t) * omega) * a64 / na + np.sin(t * omega) * b64 / nb) / np.sin(omega)
    return (direction * ((1 - t) * na + t * nb)).astype(np.float32)


def interpolate(
    store: Store,
    model: LatentModel,
    a: Endpoint,
    b: Endpoint,
    options: InterpolateOptions = InterpolateOptions(),
) -> Interpolation:
    """Decode ``options.steps`` codes evenly spaced from ``a``'s code to ``b``'s, both ends included.

    Each end is a stored row's id (int), an image file, or an image array.
    Frames come back at the model's input size in the collection's units.

    Raises
    ------
    UsageError
        If an id is unknown.
    """
    steps, spherical = options.steps, options.spherical
    ends = [_endpoint(store, model, end) for end in (a, b)]
    t = np.linspace(0.0, 1.0, steps)
    path = (slerp if spherical else lerp)(ends[0][0], ends[1][0], t)
    path[0], path[-1] = ends[0][0], ends[1][0]
    frames = model.decode_images(path)
    return Interpolation(frames, path, t, spherical, [source for _, source in ends])


def _endpoint(store: Store, model: LatentModel, end: Endpoint) -> tuple[np.ndarray, dict[str, Any]]:
    if isinstance(end, np.ndarray):
        return model.encode([end])[0], {"image": "<array>"}
    if isinstance(end, (int, np.integer)):
        check_model_matches(store, model)
        query = resolve_query(store, lambda: model, id=int(end))
    else:
        query = resolve_query(store, lambda: model, image=end)
    return query.vector, query.source


def save_strip(path: str | Path, interpolation: Interpolation, value_range: tuple[float, float]) -> Path:
    """Write the frames side by side as an image, or stacked ``(steps, H, W[, C])`` as ``.npy``."""
    from ..pictures.grids import grid, to_display
    from ..sources import write_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".npy":
        np.save(path, np.stack(interpolation.frames))
        return path
    shown = [to_display(f, value_range if f.dtype.kind == "f" else None) for f in interpolation.frames]
    return write_image(path, grid(shown, columns=len(shown)))
