"""NetCDF fields (CF conventions) read and written with netCDF4.

A variable of dimensions ``(..., y, x)`` gives one record per index of its
leading dimensions (time, forecast step, level, ...); its time comes from
``valid_time`` when the file has one, else from the time coordinate plus
any step. Rows are turned north up when a latitude coordinate increases
down the rows. netCDF4 (HDF5) is not thread-safe, so reads are serialised.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import BadInputError
from .lambert import LambertGrid
from .options import ReaderOptions
from .records import Record, Scan, sha256_of_file

__all__ = ["NETCDF_SUFFIXES", "netcdf_records", "write_netcdf"]

NETCDF_SUFFIXES = frozenset({".nc", ".nc4", ".cdf", ".netcdf"})
_LOCK = threading.Lock()
_HOURS = {"hours": 1.0, "hour": 1.0, "h": 1.0, "minutes": 1 / 60, "seconds": 1 / 3600, "days": 24.0}


def _open(path: Path):
    import netCDF4

    try:
        return netCDF4.Dataset(path)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except OSError as error:
        raise BadInputError(f"{path}: not a readable NetCDF file ({error.strerror or error})") from None


def netcdf_records(path: Path, options: ReaderOptions = ReaderOptions()) -> Scan:
    """One record per time (and step, level, ...) of the chosen variables of a NetCDF file.

    ``options.variables`` name variables (several become channels; they
    must share their dimensions); with none, the file must hold a single
    variable of two or more dimensions. Missing values (``_FillValue``,
    NaN) become ``options.field_fill()``. Items are named ``path#i,j,...``.

    Raises
    ------
    BadInputError
        If the file cannot be read, a variable is missing, or the variables
        do not share their dimensions.
    """
    path = path.resolve()
    with _LOCK:
        dataset = _open(path)
        try:
            names = list(options.variables) or [_only_variable(path, dataset)]
            layout = _layout(path, dataset, names)
        finally:
            dataset.close()
    source = _File(path, names, layout["flip"], options.field_fill())
    scan = Scan()
    for index in itertools.product(*(range(n) for n in layout["counts"])):
        meta = {"variable": ",".join(names), **{k: v[i] for (k, v), i in zip(layout["labels"].items(), index) if v}}
        scan.records.append(Record(
            uri=f"{path}#{','.join(map(str, index))}" if index else str(path),
            loader=lambda index=index: source.load(index), hasher=lambda index=index: source.sha256(index),
            time=layout["time"](index), meta=meta, shape=layout["shape"],
        ))
    return scan


def _only_variable(path: Path, dataset) -> str:
    coordinates = set(dataset.dimensions)
    for variable in dataset.variables.values():
        coordinates |= set(getattr(variable, "coordinates", "").split()) | {getattr(variable, "grid_mapping", "")}
    fields = [name for name, v in dataset.variables.items() if v.ndim >= 2 and name not in coordinates]
    if len(fields) != 1:
        raise BadInputError(f"{path}: holds {', '.join(fields) or 'no fields'}; choose one with variable",
                            parameter="variable")
    return fields[0]


def _layout(path: Path, dataset, names: list[str]) -> dict[str, Any]:
    missing = [n for n in names if n not in dataset.variables]
    if missing:
        raise BadInputError(f"{path}: no variable {', '.join(missing)} (it holds {', '.join(dataset.variables)})")
    variables = [dataset.variables[n] for n in names]
    if len({v.dimensions for v in variables}) > 1:
        raise BadInputError(f"{path}: {', '.join(names)} do not share their dimensions")
    first = variables[0]
    if first.ndim < 2:
        raise BadInputError(f"{path}: {names[0]} has {first.ndim} dimension(s); a field needs (y, x)")
    leading, (rows, _) = first.dimensions[:-2], first.dimensions[-2:]
    return {
        "counts": first.shape[:-2],
        "shape": tuple(int(n) for n in first.shape[-2:]),
        "labels": {dim: _labels(dataset, dim) for dim in leading},
        "time": _time_of(dataset, leading),
        "flip": _latitude_increases(dataset, first, rows),
    }


def _labels(dataset, dim: str) -> list[Any] | None:
    """Values of a non-time leading dimension, for the meta (None for time axes)."""
    coordinate = dataset.variables.get(dim)
    if coordinate is None:
        return list(range(len(dataset.dimensions[dim])))
    if " since " in getattr(coordinate, "units", ""):
        return None
    return [v.item() if hasattr(v, "item") else v for v in np.asarray(coordinate[:])]


def _time_of(dataset, leading: tuple[str, ...]):
    """A function from a leading index to the record's valid time (or None)."""
    valid = dataset.variables.get("valid_time")
    if valid is not None and set(valid.dimensions) <= set(leading) and " since " in getattr(valid, "units", ""):
        values = _dates(valid)
        positions = [leading.index(d) for d in valid.dimensions]
        return lambda index: values[tuple(index[p] for p in positions)] if positions else values[()]
    times, steps = {}, {}
    for axis, dim in enumerate(leading):
        coordinate = dataset.variables.get(dim)
        units = getattr(coordinate, "units", "") if coordinate is not None else ""
        if " since " in units:
            times[axis] = _dates(coordinate)
        elif dim == "step" and units.split(" ")[0] in _HOURS:
            steps[axis] = np.asarray(coordinate[:], np.float64) * _HOURS[units.split(" ")[0]]
    scalar = dataset.variables.get("time")
    base = _dates(scalar)[()] if not times and scalar is not None and scalar.ndim == 0 and " since " in getattr(scalar, "units", "") else None

    def time(index: tuple[int, ...]) -> datetime | None:
        found = next((values[index[axis]] for axis, values in times.items()), base)
        if found is None:
            return None
        return found + timedelta(hours=sum(float(values[index[axis]]) for axis, values in steps.items()))

    return time


def _dates(variable) -> np.ndarray:
    import netCDF4

    values = np.asarray(netCDF4.num2date(variable[:], variable.units, getattr(variable, "calendar", "standard"),
                                         only_use_cftime_datetimes=False, only_use_python_datetimes=True), dtype=object)
    plain = [datetime(*v.timetuple()[:6], v.microsecond) for v in values.reshape(-1)]
    return np.array(plain + [None], dtype=object)[:-1].reshape(values.shape)


def _latitude_increases(dataset, variable, rows: str) -> bool:
    names = getattr(variable, "coordinates", "").split() + ["latitude", "lat", rows]
    for name in names:
        candidate = dataset.variables.get(name)
        if candidate is None or rows not in candidate.dimensions:
            continue
        if getattr(candidate, "standard_name", name) not in ("latitude", "lat"):
            continue
        values = np.asarray(candidate[:], np.float64)
        values = values.mean(axis=1 - candidate.dimensions.index(rows)) if values.ndim == 2 else values
        return bool(values[0] < values[-1])
    return False


class _File:
    """The chosen variables of one file, read slice by slice."""

    def __init__(self, path: Path, names: list[str], flip: bool, fill: float):
        self.path, self.names, self.flip, self.fill = path, names, flip, fill

    @cached_property
    def file_sha256(self) -> str:
        return sha256_of_file(str(self.path))

    def load(self, index: tuple[int, ...]) -> np.ndarray:
        with _LOCK:
            dataset = _open(self.path)
            try:
                window = index + (slice(None), slice(None))
                channels = [np.ma.filled(dataset.variables[n][window].astype(np.float32), np.nan) for n in self.names]
            except (OSError, RuntimeError, IndexError) as error:
                raise BadInputError(f"{self.path}: cannot read {', '.join(self.names)} at {index} ({error})") from None
            finally:
                dataset.close()
        array = channels[0] if len(channels) == 1 else np.stack(channels, axis=-1)
        array[np.isnan(array)] = self.fill
        return np.ascontiguousarray(array[::-1] if self.flip else array)

    def sha256(self, index: tuple[int, ...]) -> str:
        return hashlib.sha256(f"{self.file_sha256}:{self.names}:{index}:{self.fill}".encode()).hexdigest()


def write_netcdf(
    path: str | Path,
    fields: Iterable[np.ndarray],
    times: Sequence[datetime],
    grid: LambertGrid,
    name: str = "refc",
    units: str = "dBZ",
    long_name: str = "composite radar reflectivity",
) -> Path:
    """Write 2-D fields (north up) as one CF NetCDF-4 variable ``(time, y, x)``.

    Rows are stored south to north with projection ``y``/``x`` in metres,
    2-D ``latitude``/``longitude`` and a ``lambert_conformal_conic`` grid
    mapping; times as hours since the first. NaN points are written as
    missing (``_FillValue``).
    """
    import netCDF4

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, netCDF4.Dataset(path, "w", format="NETCDF4") as dataset:
        dataset.Conventions = "CF-1.8"
        dataset.title = f"{long_name} on a {grid.height}x{grid.width} Lambert conformal grid"
        dataset.createDimension("time", None)
        dataset.createDimension("y", grid.height)
        dataset.createDimension("x", grid.width)
        x, y = grid.axes()
        lat, lon = grid.latlon()
        time = _variable(dataset, "time", "f8", ("time",), units=f"hours since {times[0]:%Y-%m-%d %H:%M:%S}",
                         calendar="proleptic_gregorian", standard_name="time", axis="T")
        _variable(dataset, "y", "f8", ("y",), units="m", standard_name="projection_y_coordinate", axis="Y")[:] = y
        _variable(dataset, "x", "f8", ("x",), units="m", standard_name="projection_x_coordinate", axis="X")[:] = x
        _variable(dataset, "latitude", "f4", ("y", "x"), units="degrees_north", standard_name="latitude")[:] = lat
        _variable(dataset, "longitude", "f4", ("y", "x"), units="degrees_east", standard_name="longitude")[:] = lon
        mapping = dataset.createVariable("lambert_conformal_conic", "i4")
        mapping.setncatts(grid.cf_attributes())
        data = dataset.createVariable(name, "f4", ("time", "y", "x"), zlib=True, complevel=1,
                                      chunksizes=(1, grid.height, grid.width), fill_value=np.float32(-9999.0))
        data.setncatts({"units": units, "long_name": long_name, "grid_mapping": "lambert_conformal_conic",
                        "coordinates": "latitude longitude"})
        for index, (field, valid) in enumerate(zip(fields, times, strict=True)):
            data[index] = np.ma.masked_invalid(np.asarray(field, np.float32)[::-1])
            time[index] = (valid - times[0]).total_seconds() / 3600.0
    return path


def _variable(dataset, name: str, kind: str, dims: tuple[str, ...], **attributes: Any):
    variable = dataset.createVariable(name, kind, dims)
    variable.setncatts(attributes)
    return variable
