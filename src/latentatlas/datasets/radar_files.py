"""The generated radar year as the files a meteorologist has: GRIB2, NetCDF or a NumPy stack."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..progress import ProgressCallback, silent
from ..sources.lambert import LambertGrid
from .radar import DEFAULT_GRID, DEFAULT_START, RadarYear

__all__ = ["RADAR_FORMATS", "export_radar"]

RADAR_FORMATS = ("grib2", "netcdf", "npy")
NETCDF_NAME = "radar.nc"
NPY_NAME = "radar.npy"


def export_radar(out: str | Path, fmt: str = "grib2", seed: int = 0, days: int = 365,
                 grid: tuple[int, int] = DEFAULT_GRID, start: datetime = DEFAULT_START,
                 progress: ProgressCallback = silent) -> tuple[Path, int]:
    """Write the generated radar period under ``out``; returns the folder and the number of hours.

    ``grib2``: one file per hour, ``refc_YYYYMMDD_HH.grib2``, one message
    each, HRRR's parameter (``refc``) on HRRR's Lambert grid at the chosen
    resolution, rows south to north as HRRR writes them. ``netcdf``: one CF
    file ``radar.nc`` with a time axis. ``npy``: ``radar.npy`` ``(N, H, W)``
    float32 (north up) and ``radar.times.npy`` beside it. Values are dBZ
    with -10 where there is no echo; read them with ``--clip 0,60``.
    """
    if fmt not in RADAR_FORMATS:
        raise UsageError(f"format must be one of {', '.join(RADAR_FORMATS)} for the radar set, got {fmt!r}")
    year = RadarYear(seed, days, grid, start)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lambert = LambertGrid.conus(*year.grid)
    total = len(year)

    def fields():
        for hour, field in enumerate(year.fields()):
            progress("export", hour, total)
            yield field
        progress("export", total, total)

    if fmt == "grib2":
        from ..sources.grib import write_grib2

        for field, time in zip(fields(), year.times):
            write_grib2(out / f"refc_{time:%Y%m%d_%H}.grib2", [field], [time], lambert)
    elif fmt == "netcdf":
        from ..sources.netcdf import write_netcdf

        write_netcdf(out / NETCDF_NAME, fields(), year.times, lambert)
    else:
        stack = np.lib.format.open_memmap(out / NPY_NAME, mode="w+", dtype=np.float32, shape=(total, *year.grid))
        for hour, field in enumerate(fields()):
            stack[hour] = field
        stack.flush()
        del stack
        np.save(out / NPY_NAME.replace(".npy", ".times.npy"), np.array(year.times, dtype="datetime64[s]"))
    return out, total
