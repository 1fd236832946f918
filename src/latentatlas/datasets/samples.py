"""Built-in sample sets, made from data shipped with scikit-learn and scikit-image or generated.

Nothing here downloads: ``digits`` and the photographs are on disk inside
those packages, ``shapes`` and ``radar`` are drawn from a seed.
"""

from __future__ import annotations

import csv
import functools
import inspect
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from .radar import DEFAULT_GRID, DEFAULT_START, RadarYear
from .radar_files import RADAR_FORMATS, export_radar

__all__ = ["SampleData", "SampleSet", "SAMPLES", "sample_set", "load_sample", "export_sample", "photographs"]


@dataclass
class SampleData:
    """Images of a sample set with their file names, labels and meta."""

    images: list[np.ndarray]
    names: list[str]
    labels: list[str | None]
    meta: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class SampleSet:
    """A named sample set: what it is and how to make it."""

    name: str
    description: str
    labelled: bool
    make: Callable[..., SampleData]
    formats: tuple[str, ...] = ("png",)
    export: Callable[..., tuple[Path, int]] | None = None


def digits(seed: int = 0) -> SampleData:
    """scikit-learn's 1,797 handwritten digits, 8x8 grey, values scaled 0..16 to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return SampleData(
        images=list(images),
        names=[f"{i:05d}" for i in range(len(images))],
        labels=[str(t) for t in bunch.target],
    )


def photographs() -> list[tuple[str, np.ndarray]]:
    """The colour and grey photographs that ship inside scikit-image and scikit-learn, whole, by name."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = [(name, getattr(data, name)()) for name in (
        "astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
        "camera", "coins", "moon", "brick", "grass", "gravel", "clock",
    )]
    left, right, _ = data.stereo_motorcycle()
    photos += [("motorcycle_left", left), ("motorcycle_right", right)]
    bunch = load_sample_images()
    photos += [(Path(f).stem, image) for f, image in zip(bunch.filenames, bunch.images)]
    return photos


def photos(seed: int = 0, tile: int = 64, stride: int | None = None) -> SampleData:
    """Tiles of the built-in photographs, RGB uint8 (grey photos repeated to RGB).

    Unlabelled; each tile's meta names its photo and position, so that a
    held-out split can keep whole photos apart.
    """
    stride = stride or tile
    data = SampleData(images=[], names=[], labels=[], meta=[])
    for name, photo in photographs():
        if photo.ndim == 2:
            photo = np.repeat(photo[..., None], 3, axis=2)
        for top in range(0, photo.shape[0] - tile + 1, stride):
            for left in range(0, photo.shape[1] - tile + 1, stride):
                data.images.append(np.ascontiguousarray(photo[top:top + tile, left:left + tile, :3]))
                data.names.append(f"{name}_{top:04d}_{left:04d}")
                data.labels.append(None)
                data.meta.append({"photo": name, "top": top, "left": left})
    return data


SHAPE_COLOURS = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (40, 80, 230),
    "yellow": (235, 220, 40), "magenta": (220, 50, 220), "cyan": (40, 210, 220),
    "white": (240, 240, 240),
}


# The colourisation task's colours: both are grey 97 (luma), so only the shape tells them apart.
TASK_COLOURS = {"circle": ("red", (230, 40, 40)), "square": ("blue", (40, 100, 230))}


def shapes(seed: int = 0, n: int = 600, size: int = 32, colour_by_shape: bool = False) -> SampleData:
    """Generated circles and squares in colours on black, labelled by shape.

    With ``colour_by_shape`` circles are red and squares blue, of the same
    grey: the colourisation task (grey shapes in with ``--corrupt gray``,
    the colour out), which only the shape decides. The shapes and their
    places are the same as without it.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    colour_names = list(SHAPE_COLOURS)
    data = SampleData(images=[], names=[], labels=[], meta=[])
    for index in range(n):
        kind = ("circle", "square")[index % 2]
        colour = colour_names[rng.integers(len(colour_names))]
        colour, rgb = TASK_COLOURS[kind] if colour_by_shape else (colour, SHAPE_COLOURS[colour])
        radius = rng.uniform(0.15, 0.3) * size
        cy, cx = rng.uniform(radius + 1, size - radius - 1, size=2)
        if kind == "circle":
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        else:
            inside = (np.abs(rows - cy) <= radius * 0.85) & (np.abs(cols - cx) <= radius * 0.85)
        image = np.zeros((size, size, 3), np.uint8)
        image[inside] = rgb
        data.images.append(image)
        data.names.append(f"{index:05d}")
        data.labels.append(kind)
        data.meta.append({"colour": colour, "cx": round(float(cx), 2), "cy": round(float(cy), 2), "radius": round(float(radius), 2)})
    return data


def radar(seed: int = 0, days: int = 365, grid: tuple[int, int] = DEFAULT_GRID,
          start: datetime = DEFAULT_START) -> SampleData:
    """The generated radar period (see :class:`~latentatlas.datasets.radar.RadarYear`) in memory.

    dBZ fields (float32, north up, -10 where there is no echo) named by
    their hour; each meta holds its ``time`` (ISO 8601) and ``regime``.
    """
    year = RadarYear(seed, days, grid, start)
    times = year.times
    return SampleData(
        images=list(year.fields()),
        names=[f"{t:%Y%m%d_%H}" for t in times],
        labels=[None] * len(year),
        meta=[{"time": t.isoformat(), "regime": year.regime(h)} for h, t in enumerate(times)],
    )


SAMPLES: dict[str, SampleSet] = {
    s.name: s
    for s in (
        SampleSet("digits", "1,797 handwritten digits, 8x8 grey, labels 0-9 (scikit-learn)", True, digits),
        SampleSet("photos", "64x64 RGB tiles of the photographs in scikit-image and scikit-learn", False, photos),
        SampleSet("shapes", "generated circles and squares in seven colours, 32x32 RGB, labelled", True, shapes),
        SampleSet("colour-shapes", "the colourisation task: the shapes with circles red and squares blue "
                  "(train with --corrupt gray)", True, functools.partial(shapes, colour_by_shape=True)),
        SampleSet("radar", "a generated year of hourly radar reflectivity (dBZ) on a CONUS-like grid, "
                  "64x112 by default; exported as GRIB2, NetCDF or .npy", False, radar,
                  formats=RADAR_FORMATS, export=export_radar),
    )
}


def sample_set(name: str) -> SampleSet:
    """The registered sample set called ``name``; :class:`UsageError` if there is none."""
    try:
        return SAMPLES[name]
    except KeyError:
        raise UsageError(f"unknown sample set {name!r}; choose one of {', '.join(SAMPLES)}") from None


def _check_options(sample: SampleSet, options: dict[str, Any]) -> None:
    accepted = set(inspect.signature(sample.make).parameters) - {"seed"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no options"
        raise UsageError(f"sample set {sample.name!r} does not take {', '.join(unknown)} (it takes: {takes})")


def load_sample(name: str, seed: int = 0, **options: Any) -> SampleData:
    """Make the sample set ``name`` in memory."""
    sample = sample_set(name)
    _check_options(sample, options)
    return sample.make(seed=seed, **options)


def export_sample(name: str, out: str | Path, seed: int = 0, fmt: str | None = None, **options: Any) -> tuple[Path, int]:
    """Write a sample set under ``out``; returns the folder and the number of images written.

    Image sets are written as PNG files with a ``labels.csv`` manifest:
    labelled sets go to ``out/<label>/<name>.png`` so that the folder reader
    finds the labels; ``labels.csv`` lists ``path,label`` and any meta
    columns. The radar set is written as ``grib2`` (default), ``netcdf`` or
    ``npy`` files (see :func:`~latentatlas.datasets.radar_files.export_radar`).
    """
    from ..sources.images import write_image

    sample = sample_set(name)
    fmt = fmt or sample.formats[0]
    if fmt not in sample.formats:
        raise UsageError(f"sample set {name!r} is written as {', '.join(sample.formats)}, not {fmt!r}")
    _check_options(sample, {k: v for k, v in options.items() if k != "progress"})
    if sample.export is not None:
        return sample.export(out, fmt=fmt, seed=seed, **options)
    options.pop("progress", None)
    data = load_sample(name, seed=seed, **options)
    out = Path(out)
    meta_columns = sorted({key for meta in data.meta for key in meta})
    rows = []
    for index, (image, stem, label) in enumerate(zip(data.images, data.names, data.labels)):
        relative = Path(label, f"{stem}.png") if label is not None else Path(f"{stem}.png")
        write_image(out / relative, image)
        meta = data.meta[index] if data.meta else {}
        rows.append([relative.as_posix(), label or ""] + [meta.get(c, "") for c in meta_columns])
    with open(out / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", *meta_columns])
        writer.writerows(rows)
    return out, len(data)
