"""Pictures: image grids, captioned result rows, loss curves."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..sources.geometry import GridGeometry

__all__ = ["to_display", "to_colour", "grid", "captioned_rows", "field_colours", "reflectivity_legend", "is_field", "loss_curve", "figure_png", "save_png",
           "restoration_grid", "REFLECTIVITY"]

REFLECTIVITY = "reflectivity"
# The National Weather Service's radar colours, one per 5 dBZ from 0 (no echo below 5 dBZ) to 75 dBZ.
_NWS_DBZ_COLOURS = (
    "#ffffff", "#04e9e7", "#019ff4", "#0300f4", "#02fd02", "#01c501", "#008e00", "#fdf802",
    "#e5bc00", "#fd9500", "#fd0000", "#d40000", "#bc0000", "#f800fd", "#9854c6",
)
_NWS_RANGE = (0.0, 75.0)


def to_display(image: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Any image to ``(H, W, 3)`` uint8 for showing.

    ``uint8`` is kept, ``uint16`` divided by 257, floats mapped from
    ``value_range`` (default: their own min and max). Grey is repeated to
    RGB; channels beyond three are dropped.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.dtype == np.uint16:
        array = (array // 257).astype(np.uint8)
    elif array.dtype != np.uint8:
        low, high = value_range or (float(np.min(array)), float(np.max(array)))
        scale = 255.0 / (high - low) if high > low else 0.0
        array = np.clip((array.astype(np.float32) - low) * scale, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def to_colour(image: np.ndarray, value_range: tuple[float, float] | None = None,
              colormap: str = REFLECTIVITY) -> np.ndarray:
    """An image as :func:`to_display` shows it, but a field (see :func:`is_field`) in ``colormap``; ``(H, W, 3)`` uint8."""
    if not is_field(image):
        return to_display(image, value_range)
    from matplotlib.colors import Normalize

    cmap, span = field_colours(colormap, value_range)
    field = np.asarray(image, np.float32).squeeze(axis=-1) if np.ndim(image) == 3 else np.asarray(image, np.float32)
    low, high = span or (float(field.min()), float(field.max()))
    rgba = cmap(Normalize(low, high)(field), bytes=True)
    return np.ascontiguousarray(rgba[..., :3])


def grid(images: Sequence[np.ndarray], columns: int, pad: int = 2, min_side: int = 64) -> np.ndarray:
    """Images in rows of ``columns``, upscaled (nearest) so small ones stay visible."""
    tiles = [to_display(im) for im in images]
    height = max(t.shape[0] for t in tiles)
    width = max(t.shape[1] for t in tiles)
    factor = max(1, int(np.ceil(min_side / max(height, width))))
    height, width = height * factor, width * factor
    rows = int(np.ceil(len(tiles) / columns))
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, 3), 255, np.uint8)
    for n, tile in enumerate(tiles):
        tile = np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)
        top, left = pad + (n // columns) * (height + pad), pad + (n % columns) * (width + pad)
        canvas[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    return canvas


def is_field(image: np.ndarray) -> bool:
    """Whether an image is a single-channel field of floats (radar, temperature), drawn in a colour map."""
    array = np.asarray(image)
    return array.dtype.kind == "f" and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1))


def field_colours(name: str = REFLECTIVITY, value_range: tuple[float, float] | None = None):
    """A colour map and the values it spans: ``(cmap, (low, high))``.

    ``"reflectivity"`` is the National Weather Service's radar scale: one
    colour per 5 dBZ from 5 to 75 dBZ, white below 5 dBZ (no echo), fields
    in dBZ, over ``value_range`` (default 0..75 dBZ): fields clipped to
    0..60 dBZ get a scale, and a colour bar, that ends at 60. Any other
    name is a matplotlib colour map over ``value_range``.

    Raises
    ------
    UsageError
        If matplotlib knows no colour map of that name.
    """
    import matplotlib

    from ..errors import UsageError

    if name == REFLECTIVITY:
        return _reflectivity(value_range or _NWS_RANGE)
    if name not in matplotlib.colormaps:
        raise UsageError(f"unknown colour map {name!r}; use {REFLECTIVITY} or a matplotlib name such as viridis")
    return matplotlib.colormaps[name], value_range


def reflectivity_legend(value_range: tuple[float, float] | None = None) -> list[tuple[float, str]]:
    """The NWS colours as ``(from dBZ, "#rrggbb")``, one per 5 dBZ step that starts inside ``value_range``."""
    from matplotlib.colors import to_hex

    low, high = value_range or _NWS_RANGE
    return [(5.0 * b, to_hex(colour)) for b, colour in enumerate(_NWS_DBZ_COLOURS) if low <= 5.0 * b < high]


def _reflectivity(span: tuple[float, float]):
    """The NWS colours over ``span`` (dBZ): a fine listed colour map whose entries take their 5 dBZ bin's colour."""
    from matplotlib.colors import ListedColormap

    low, high = span
    entries = int(min(1024, max(16, round(4 * (high - low)))))
    centres = low + (np.arange(entries) + 0.5) * (high - low) / entries
    bins = np.clip(np.floor(centres / 5.0).astype(int), 0, len(_NWS_DBZ_COLOURS) - 1)
    cmap = ListedColormap([_NWS_DBZ_COLOURS[b] for b in bins], name=REFLECTIVITY)
    above = _NWS_DBZ_COLOURS[int(np.clip(high // 5.0, 0, len(_NWS_DBZ_COLOURS) - 1))]
    return cmap.with_extremes(under=_NWS_DBZ_COLOURS[0], over=above), (float(low), float(high))


def captioned_rows(
    rows: Sequence[Sequence[np.ndarray]],
    captions: Sequence[Sequence[str]] | None = None,
    row_titles: Sequence[str] | None = None,
    cmap=None,
    value_range: tuple[float, float] | None = None,
    colorbar: str | None = None,
    geometries: Sequence[Sequence[GridGeometry | None]] | None = None,
):
    """A matplotlib figure with one row of images per entry and a caption under each.

    With ``cmap`` (a name or a matplotlib colour map; see
    :func:`field_colours`) the images are drawn as single-channel fields in
    that colour map over ``value_range``, and ``colorbar`` labels a colour
    bar beside them (e.g. ``"dBZ"``) that spans ``value_range``.
    ``geometries`` (one per image, as ``rows``; None for an image without
    one) draws fields as maps on their grid's coordinates, with coastlines,
    borders and latitude/longitude labels (:func:`latentatlas.pictures.maps.draw_map`).
    Cells follow the first image's aspect ratio (on the ground, for maps).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    first = np.asarray(rows[0][0])
    placed = [g for row in geometries or () for g in row if g is not None]
    aspect = placed[0].aspect() if placed else first.shape[0] / first.shape[1]
    width = (1.8 if aspect >= 1 else min(2.4, 1.8 / aspect)) + (0.3 if placed else 0.0)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols + (0.8 if colorbar else 0),
                                                      (width * aspect + 0.45 + (0.15 if placed else 0)) * n_rows),
                             squeeze=False)
    drawn = None
    for r, images in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(images):
                continue
            geometry = geometries[r][c] if geometries is not None and c < len(geometries[r]) else None
            if cmap is not None and geometry is not None:
                from .maps import draw_map

                ax.axis("on")
                drawn = draw_map(ax, images[c], geometry, cmap, value_range)
            elif cmap is not None:  # a field without a grid: framed, since no echo is white
                vmin, vmax = value_range or (None, None)
                drawn = ax.imshow(np.asarray(images[c], np.float32).squeeze(), cmap=cmap, vmin=vmin, vmax=vmax,
                                  interpolation="nearest")
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_color("#999999")
            else:
                ax.imshow(to_display(images[c], value_range), interpolation="nearest")
            if captions is not None and c < len(captions[r]):
                ax.set_title(captions[r][c], fontsize=7)
        if row_titles is not None:
            axes[r][0].text(-0.1, 0.5, row_titles[r], transform=axes[r][0].transAxes,
                            ha="right", va="center", fontsize=8)
    if colorbar and drawn is not None:
        room = 0.8 / (width * n_cols + 0.8)
        fig.tight_layout(rect=(0, 0, 1 - room, 1))
        bar = fig.colorbar(drawn, cax=fig.add_axes((1 - room * 0.8, 0.15, room * 0.2, 0.7)))
        bar.set_label(colorbar, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    else:
        fig.tight_layout()
    return fig


def loss_curve(epochs: Sequence[dict], loss: str, baseline: float | None = None, initial: float | None = None):
    """A figure of training and validation loss per epoch (log scale).

    ``initial`` is the validation loss before the first epoch (drawn at 0).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = [e["epoch"] for e in epochs]
    ax.plot(x, [e["train_loss"] for e in epochs], label="train")
    if any(e["val_loss"] is not None for e in epochs):
        start = [0] if initial is not None else []
        first = [initial] if initial is not None else []
        ax.plot(start + x, first + [e["val_loss"] for e in epochs], label="validation")
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="mean image")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss} loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def save_png(picture, path: str | Path) -> Path:
    """Write a figure or an ``(H, W, 3)`` uint8 array as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(picture, np.ndarray):
        from PIL import Image

        Image.fromarray(picture).save(path)
    else:
        path.write_bytes(figure_png(picture))
    return path


def rate_distortion_figure(evaluation: dict):
    """PSNR and SSIM against bits per pixel: JPEG/WebP curves over quality, our codes and PCA as points.

    ``evaluation`` is :meth:`latentatlas.ops.evaluate.codec.CodecEvaluation.to_dict`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    markers = {"float32": "o", "float16": "s", "int8": "^"}
    colours = {"latent": "tab:red", "pca": "tab:blue", "jpeg": "tab:green", "webp": "tab:purple"}
    for ax, metric in zip(axes, ("psnr", "ssim")):
        for name, points in evaluation["curves"].items():
            ax.plot([p["bpp"] for p in points], [p[metric] for p in points], "-", color=colours.get(name),
                    alpha=0.6, label=f"{name} (quality sweep)")
        for row in evaluation["rows"]:
            if row[metric] is None:
                continue
            matched = row["method"] in evaluation["curves"]
            ax.plot(row["bpp"], row[metric], markers.get(row["dtype"], "o"), color=colours.get(row["method"]),
                    markerfacecolor="none" if matched else colours.get(row["method"]), markersize=7,
                    label=f"{row['method']} {'at ' if matched else ''}{row['dtype']}")
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        ax.set_xticks([t for t in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if low <= t <= high])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}[metric])
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), loc="center right", fontsize=7)
    fig.suptitle(f"{evaluation['images']} images, codes of {evaluation['code_size']} numbers")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return fig


def restoration_grid(examples: Sequence):
    """One row per example of a restoration evaluation: clean, corrupted, ours, best baseline.

    ``examples`` are :class:`latentatlas.ops.evaluate.restore.Example`: images
    ``(C, H, W)`` in [0, 1] with their captions.
    """
    rows = [[np.asarray(image).transpose(1, 2, 0) for image in example.images] for example in examples]
    return captioned_rows(rows, [example.captions for example in examples], value_range=(0.0, 1.0))
