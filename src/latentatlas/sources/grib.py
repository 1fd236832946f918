"""GRIB1/GRIB2 fields (HRRR composite reflectivity and the like) read and written with ecCodes.

Reading indexes a file's message headers once (``headers_only``) and
decodes one message per record when its pixels are needed, so a year of
hourly files is read in batches with bounded memory. ecCodes is called
directly rather than through cfgrib + xarray: opening a 1059 x 1799 HRRR
file with cfgrib costs seconds (it computes every latitude and longitude),
decoding its one reflectivity message with ecCodes about 0.03 s. The keys
that select a message are the ones cfgrib's ``filter_by_keys`` takes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import BadInputError
from .lambert import LambertGrid
from .options import ReaderOptions
from .records import Failure, Record, Scan

__all__ = ["GRIB_SUFFIXES", "GRIB_PRESETS", "grib_records", "write_grib2"]

GRIB_SUFFIXES = frozenset({".grib2", ".grb2", ".grib", ".grb"})
# Variables that need more than a short name to find. HRRR's composite reflectivity is NCEP's
# local parameter 0/16/196 on the entire atmosphere (level type 10: "atmosphere" in recent
# ecCodes, "unknown" in older ones, hence the number), instantaneous.
GRIB_PRESETS: dict[str, dict[str, str]] = {
    "refc": {"shortName": "refc", "typeOfFirstFixedSurface": "10", "stepType": "instant"},
}
REFC_PARAMETER = {"centre": 7, "discipline": 0, "parameterCategory": 16, "parameterNumber": 196,
                  "typeOfFirstFixedSurface": 10, "typeOfSecondFixedSurface": 255}
_LOCK = threading.Lock()  # ecCodes handles are cheap; serialising them is faster than contention
_MISSING = 9.999e20


@dataclass(frozen=True)
class _Message:
    """What the header of one GRIB message says."""

    offset: int
    length: int
    variable: str
    valid: datetime
    step: float
    shape: tuple[int, int]
    flip_rows: bool
    flip_cols: bool
    problem: str | None = None


def grib_records(path: Path, options: ReaderOptions = ReaderOptions()) -> Scan:
    """One record per valid time (and forecast step) of the chosen variables in a GRIB file.

    ``options.variables`` name GRIB short names (or presets such as
    ``refc``); with none, the file must hold a single parameter. Several
    variables become channels of one record per time. Fields come north up;
    missing points become ``options.field_fill()``. Items are named
    ``path#YYYY-MM-DDTHH:MM`` (``+Nh`` for a forecast step).

    Raises
    ------
    BadInputError
        If the file is not GRIB, no message matches, or a variable matches
        several messages at one time (add a ``--filter``).
    """
    path = path.resolve()
    selections = {v: {**GRIB_PRESETS.get(v, {"shortName": v}), **dict(options.filters)} for v in options.variables}
    messages = _index(path, {key for wanted in selections.values() for key in wanted} | set(dict(options.filters)))
    if not selections:
        selections = {_only_variable(path, messages): dict(options.filters)}
    groups: dict[tuple[datetime, float], dict[str, _Message]] = defaultdict(dict)
    for variable, wanted in selections.items():
        for message in _select(path, messages, wanted, variable):
            if variable in groups[message.valid, message.step]:
                raise BadInputError(
                    f"{path}: {variable} matches several messages valid {message.valid:%Y-%m-%d %H:%M}; "
                    "narrow it with --filter KEY=VALUE (e.g. typeOfLevel, level, stepType)")
            groups[message.valid, message.step][variable] = message
    return _records(path, groups, list(selections), options.field_fill())


def _select(path: Path, messages: list[tuple[_Message, dict]], wanted: dict[str, str], variable: str) -> list[_Message]:
    chosen = [m for m, keys in messages if all(_matches(keys.get(k), v) for k, v in wanted.items())]
    if not chosen:
        found = sorted({m.variable for m, _ in messages})
        raise BadInputError(f"{path}: no GRIB message matches {_describe(wanted)} (the file holds {', '.join(found)})")
    if all(message.problem for message in chosen):
        raise BadInputError(f"{path}: {variable}: {chosen[0].problem}")
    return chosen  # a message with a problem becomes its time's failure


def _records(path: Path, groups: dict, variables: list[str], fill: float) -> Scan:
    scan = Scan()
    for (valid, step), by_variable in sorted(groups.items()):
        uri = f"{path}#{valid:%Y-%m-%dT%H:%M}" + (f"+{step:g}h" if step else "")
        missing = [v for v in variables if v not in by_variable]
        chosen = [by_variable[v] for v in variables if v in by_variable]
        problems = [f"{m.variable}: {m.problem}" for m in chosen if m.problem]
        if missing:
            scan.failures.append(Failure(uri, f"no {', '.join(missing)} at this time"))
        elif problems:
            scan.failures.append(Failure(uri, "; ".join(problems)))
        elif len({m.shape for m in chosen}) > 1:
            scan.failures.append(Failure(uri, f"{', '.join(variables)} are on different grids"))
        else:
            item = _Item(path, chosen, fill)
            meta = {"variable": ",".join(variables), **({"step": step} if step else {})}
            scan.records.append(Record(uri=uri, loader=item.load, hasher=item.sha256, time=valid, meta=meta,
                                       shape=chosen[0].shape))
    return scan


_HEADER_KEYS = ("shortName", "typeOfLevel", "stepType", "level", "typeOfFirstFixedSurface")


def _index(path: Path, keys: set[str]) -> list[tuple[_Message, dict[str, str | None]]]:
    import eccodes

    messages = []
    try:
        with _LOCK, open(path, "rb") as handle:
            while (gid := eccodes.codes_grib_new_from_file(handle, headers_only=True)) is not None:
                try:
                    messages.append(_header(gid, keys | set(_HEADER_KEYS)))
                finally:
                    eccodes.codes_release(gid)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except (eccodes.GribInternalError, OSError) as error:
        raise BadInputError(f"{path}: not a readable GRIB file ({error})") from None
    if not messages:
        raise BadInputError(f"{path}: no GRIB messages in this file")
    return messages


def _header(gid, keys: set[str]) -> tuple[_Message, dict[str, str | None]]:
    import eccodes

    def get(key: str, kind: type = str):
        try:
            return eccodes.codes_get(gid, key, kind)
        except eccodes.GribInternalError:  # key absent from this message's templates
            return None

    problem = None
    if get("Nj", int) is None or get("gridType") in ("reduced_gg", "reduced_ll", "unstructured_grid", "sh"):
        problem = f"grid type {get('gridType')} is not a regular 2-D grid"
    elif get("alternativeRowScanning", int):
        problem = "rows scanned in alternating directions are not supported"
    valid = _datetime(get("validityDate", int), get("validityTime", int))
    reference = _datetime(get("dataDate", int), get("dataTime", int))
    shape = (get("Nj", int) or 0, get("Ni", int) or 0)
    message = _Message(
        offset=int(get("offset", int)), length=int(get("totalLength", int)), variable=get("shortName") or "unknown",
        valid=valid, step=(valid - reference).total_seconds() / 3600.0,
        shape=shape[::-1] if get("jPointsAreConsecutive", int) else shape,
        flip_rows=bool(get("jScansPositively", int)), flip_cols=bool(get("iScansNegatively", int)), problem=problem,
    )
    return message, {key: get(key) for key in keys}


def _datetime(date: int, time: int) -> datetime:
    return datetime(date // 10000, date // 100 % 100, date % 100, time // 100, time % 100)


def _matches(value: str | None, wanted: str) -> bool:
    if value is None:
        return False
    try:
        return float(value) == float(wanted)
    except ValueError:
        return value == wanted


def _describe(keys: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in keys.items())


def _only_variable(path: Path, messages: list[tuple[_Message, dict[str, str]]]) -> str:
    names = sorted({m.variable for m, _ in messages})
    if len(names) > 1:
        raise BadInputError(f"{path}: holds several variables ({', '.join(names)}); choose with variable",
                            parameter="variable")
    return names[0]


class _Item:
    """The messages of one record, decoded on load."""

    def __init__(self, path: Path, messages: Sequence[_Message], fill: float):
        self.path, self.messages, self.fill = path, messages, fill

    def load(self) -> np.ndarray:
        import eccodes

        channels = []
        try:
            with _LOCK, open(self.path, "rb") as handle:
                for message in self.messages:
                    handle.seek(message.offset)
                    gid = eccodes.codes_grib_new_from_file(handle)
                    try:
                        channels.append(self._values(gid, message))
                    finally:
                        eccodes.codes_release(gid)
        except (eccodes.GribInternalError, OSError, ValueError) as error:
            raise BadInputError(f"{self.path}: cannot decode GRIB message ({error})") from None
        return channels[0] if len(channels) == 1 else np.stack(channels, axis=-1)

    def _values(self, gid, message: _Message) -> np.ndarray:
        import eccodes

        eccodes.codes_set(gid, "missingValue", _MISSING)
        values = eccodes.codes_get_values(gid).astype(np.float32).reshape(message.shape)
        values[values >= _MISSING * 0.999] = self.fill
        values[np.isnan(values)] = self.fill
        if message.flip_rows:
            values = values[::-1]
        if message.flip_cols:
            values = values[:, ::-1]
        return np.ascontiguousarray(values)

    def sha256(self) -> str:
        digest = hashlib.sha256(f"grib:{self.fill}".encode())
        with open(self.path, "rb") as handle:
            for message in self.messages:
                handle.seek(message.offset)
                digest.update(handle.read(message.length))
        return digest.hexdigest()


def write_grib2(
    path: str | Path,
    fields: Iterable[np.ndarray],
    times: Sequence[datetime],
    grid: LambertGrid,
    parameter: dict[str, int] = REFC_PARAMETER,
    steps: Sequence[float] | None = None,
    bits: int = 12,
) -> Path:
    """Write 2-D fields (north up) as GRIB2 messages, one per field, into one file.

    ``times`` are valid times; ``steps`` (hours) make a message a forecast
    from ``time - step``. NaN points are written as missing (a bitmap).
    Default ``parameter``: composite reflectivity (``refc``) as HRRR codes it.
    """
    import eccodes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    template = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        for key, value in {**grid.grib_keys(), **parameter, "productionStatusOfProcessedData": 0,
                           "significanceOfReferenceTime": 1, "stepUnits": 1, "packingType": "grid_simple",
                           "bitsPerValue": bits}.items():
            eccodes.codes_set(template, key, value)
        with open(path, "wb") as handle:
            for index, (field, valid) in enumerate(zip(fields, times, strict=True)):
                step = 0 if steps is None else steps[index]
                _write_message(handle, template, np.asarray(field), valid, step, grid)
    finally:
        eccodes.codes_release(template)
    return path


def _write_message(handle, template, field: np.ndarray, valid: datetime, step: float, grid: LambertGrid) -> None:
    import eccodes

    if field.shape != (grid.height, grid.width):
        raise ValueError(f"field of shape {field.shape} on a {grid.height}x{grid.width} grid")
    reference = valid - timedelta(hours=step)
    gid = eccodes.codes_clone(template)
    try:
        eccodes.codes_set(gid, "dataDate", int(reference.strftime("%Y%m%d")))
        eccodes.codes_set(gid, "dataTime", int(reference.strftime("%H%M")))
        eccodes.codes_set(gid, "typeOfGeneratingProcess", 2 if step else 0)
        eccodes.codes_set(gid, "forecastTime", int(step))
        values = field[::-1].astype(np.float64).reshape(-1)  # rows south to north, as HRRR
        missing = np.isnan(values)
        if missing.any():
            eccodes.codes_set(gid, "bitmapPresent", 1)
            eccodes.codes_set(gid, "missingValue", _MISSING)
            values[missing] = _MISSING
        eccodes.codes_set_values(gid, values)
        eccodes.codes_write(gid, handle)
    finally:
        eccodes.codes_release(gid)
