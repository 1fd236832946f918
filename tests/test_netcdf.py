"""NetCDF fields: CF files written and read back, other layouts, missing values, variables as channels."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas.errors import BadInputError
from latentatlas.sources import ReaderOptions, read_source
from latentatlas.sources.lambert import LambertGrid
from latentatlas.sources.netcdf import write_netcdf

GRID = LambertGrid.conus(12, 20)
TIMES = [datetime(2019, 9, 20, 4) + timedelta(hours=h) for h in range(4)]


@pytest.fixture()
def fields(rng) -> np.ndarray:
    return rng.uniform(-10, 65, (len(TIMES), GRID.height, GRID.width)).astype(np.float32)


def test_a_cf_file_with_a_time_axis_reads_back_values_times_and_shape(tmp_path, fields):
    path = write_netcdf(tmp_path / "radar.nc", fields, TIMES, GRID)
    scan = read_source(path)
    assert [r.time for r in scan.records] == TIMES and type(scan.records[0].time) is datetime
    assert [r.uri for r in scan.records] == [f"{path.resolve()}#{i}" for i in range(len(TIMES))]
    for record, field in zip(scan.records, fields):
        assert record.shape == (12, 20)
        np.testing.assert_array_equal(record.load(), field)
    assert scan.records[0].meta == {"variable": "refc"}


def test_the_file_is_cf_with_south_first_rows_and_a_lambert_mapping(tmp_path, fields):
    import xarray as xr

    path = write_netcdf(tmp_path / "radar.nc", fields, TIMES, GRID)
    with xr.open_dataset(path) as dataset:
        assert list(dataset["time"].values) == [np.datetime64(t) for t in TIMES]
        assert dataset["refc"].attrs["grid_mapping"] == "lambert_conformal_conic"
        assert dataset["lambert_conformal_conic"].attrs["longitude_of_central_meridian"] == -97.5
        assert float(dataset["latitude"][0, 0]) < float(dataset["latitude"][-1, 0])
        np.testing.assert_array_equal(dataset["refc"].values[:, ::-1], fields)


def test_missing_values_and_nans_become_the_fill(tmp_path, fields):
    fields[2, 5, 6] = np.nan
    path = write_netcdf(tmp_path / "holes.nc", fields, TIMES, GRID)
    assert read_source(path).records[2].load()[5, 6] == 0.0
    assert read_source(path, ReaderOptions(fill=-10.0)).records[2].load()[5, 6] == -10.0


def test_plain_lat_lon_files_with_steps_and_two_variables(tmp_path, rng):
    import netCDF4

    path = tmp_path / "forecast.nc"
    values = rng.random((2, 3, 5, 6)).astype(np.float32)
    with netCDF4.Dataset(path, "w") as dataset:
        for name, size in (("time", 2), ("step", 3), ("lat", 5), ("lon", 6)):
            dataset.createDimension(name, size)
        time = dataset.createVariable("time", "f8", ("time",))
        time.units, time[:] = "days since 2020-01-01", [0, 1]
        step = dataset.createVariable("step", "f8", ("step",))
        step.units, step[:] = "hours", [0, 6, 12]
        lat = dataset.createVariable("lat", "f4", ("lat",))
        lat.standard_name, lat[:] = "latitude", [50, 45, 40, 35, 30]  # north first already
        for name, scale in (("a", 1.0), ("b", 2.0)):
            dataset.createVariable(name, "f4", ("time", "step", "lat", "lon"))[:] = values * scale
    records = read_source(path, ReaderOptions(variables=("a", "b"))).records
    assert len(records) == 6
    assert records[4].time == datetime(2020, 1, 2, 6) and records[4].meta == {"variable": "a,b", "step": 6.0}
    pixels = records[4].load()
    assert pixels.shape == (5, 6, 2)
    np.testing.assert_array_equal(pixels[..., 0], values[1, 1])
    np.testing.assert_array_equal(pixels[..., 1], values[1, 1] * 2)
    with pytest.raises(BadInputError, match="forecast.nc: holds a, b; choose one with variable"):
        read_source(path)
    with pytest.raises(BadInputError, match="no variable refc"):
        read_source(path, ReaderOptions(variables=("refc",)))


def test_a_file_that_is_not_netcdf_is_named(tmp_path):
    (tmp_path / "bad.nc").write_text("not netcdf")
    with pytest.raises(BadInputError, match="bad.nc: not a readable NetCDF file"):
        read_source(tmp_path / "bad.nc")
