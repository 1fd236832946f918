"""Pictures of the space: scatter plots of projections (with thumbnails) and the silhouette curve."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["scatter", "silhouette_curve", "spread_points"]

_MAX_CATEGORIES = 20
_MISSING = "(none)"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def silhouette_curve(curve: Sequence[dict], chosen: int):
    """A figure of the mean silhouette per k, the chosen k marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ks = [p["k"] for p in curve]
    ax.plot(ks, [p["silhouette"] for p in curve], marker="o")
    ax.axvline(chosen, color="grey", linestyle="--", linewidth=1, label=f"k = {chosen}")
    ax.set_xlabel("k")
    ax.set_ylabel("mean silhouette")
    ax.set_xticks(ks)
    ax.legend()
    fig.tight_layout()
    return fig


def scatter(coords: np.ndarray, values: np.ndarray | None = None, continuous: bool = False, title: str = "",
            legend_title: str = "", thumbnails: Sequence[tuple[int, np.ndarray]] = ()):
    """A 2-D or 3-D scatter plot of ``coords`` coloured by ``values``.

    Parameters
    ----------
    coords : ndarray of shape (n, 2) or (n, 3)
    values : ndarray of shape (n,) or None
        Categories (labels, cluster numbers; None shown grey) or, with
        ``continuous``, numbers shown on a colour bar.
    thumbnails : sequence of (row, image)
        ``(H, W, 3)`` uint8 images drawn at the rows' points (2-D only).
    """
    plt = _pyplot()
    three_d = coords.shape[1] == 3
    fig = plt.figure(figsize=(8, 7) if thumbnails else (6.5, 5.5))
    ax = fig.add_subplot(projection="3d" if three_d else None)
    axes = [coords[:, i] for i in range(coords.shape[1])]
    size = max(2.0, min(20.0, 4000.0 / max(len(coords), 1)))
    edges = np.zeros((len(coords), 4))
    if values is None:
        ax.scatter(*axes, s=size, alpha=0.7)
    elif continuous:
        points = ax.scatter(*axes, c=values.astype(np.float64), s=size, cmap="viridis", alpha=0.8)
        fig.colorbar(points, ax=ax, label=legend_title, shrink=0.8)
        edges = points.to_rgba(values.astype(np.float64))
    else:
        edges = _categories(ax, axes, values, size, legend_title)
    if thumbnails:
        _thumbnails(ax, coords, thumbnails, edges)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _categories(ax, axes: list[np.ndarray], values: np.ndarray, size: float, legend_title: str) -> np.ndarray:
    """Draw each category in its colour; returns the colour of every row."""
    import matplotlib

    from ..space.scores import natural_order

    text = np.array([_MISSING if v is None else str(v) for v in values], dtype=object)
    names = natural_order(sorted(set(text) - {_MISSING}))
    colours = matplotlib.colormaps["tab20" if len(names) > 10 else "tab10"]
    edges = np.tile([0.75, 0.75, 0.75, 0.6], (len(text), 1))
    for n, name in enumerate(names):
        mask = text == name
        edges[mask] = colours(n % colours.N) if n < _MAX_CATEGORIES else (0.3, 0.3, 0.3, 1.0)
        ax.scatter(*(a[mask] for a in axes), s=size, color=edges[mask][0], alpha=0.8,
                   label=name if n < _MAX_CATEGORIES else None)
    if (text == _MISSING).any():
        mask = text == _MISSING
        ax.scatter(*(a[mask] for a in axes), s=size, color=edges[mask][0], label=_MISSING)
    ax.legend(title=legend_title, fontsize=7, markerscale=max(1.0, 8.0 / size), loc="best", ncol=2 if len(names) > 10 else 1)
    return edges


def _thumbnails(ax, coords: np.ndarray, thumbnails: Sequence[tuple[int, np.ndarray]], edges: np.ndarray) -> None:
    """Each image at its point, framed in the point's colour."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    for row, image in thumbnails:
        zoom = 18.0 / max(image.shape[:2])
        box = AnnotationBbox(OffsetImage(image, zoom=zoom, interpolation="nearest"), coords[row, :2],
                             frameon=True, pad=0.15, bboxprops={"linewidth": 1.2, "edgecolor": edges[row]})
        ax.add_artist(box)


def spread_points(coords: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Rows of ``count`` points spread over the picture (greedy farthest-point), in order of choice."""
    n = len(coords)
    if count >= n:
        return np.arange(n)
    points = coords.astype(np.float64)
    chosen = [int(np.random.default_rng(seed).integers(n))]
    nearest = np.sum((points - points[chosen[0]]) ** 2, axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.sum((points - points[chosen[-1]]) ** 2, axis=1))
    return np.array(chosen, np.int64)
