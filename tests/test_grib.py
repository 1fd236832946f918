"""GRIB2 fields written with ecCodes and read back: values, times, shape, layouts, keys, missing points."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from latentatlas.errors import BadInputError
from latentatlas.sources import ReaderOptions, read_source, read_sources
from latentatlas.sources.grib import REFC_PARAMETER, grib_records, write_grib2
from latentatlas.sources.lambert import LambertGrid

GRID = LambertGrid.conus(12, 20)
TIMES = [datetime(2019, 9, 20, 4) + timedelta(hours=h) for h in range(4)]
# 12-bit simple packing of a -10..65 dBZ range: a quantum of 75 / 4096
PACKING = 75 / 4096


@pytest.fixture()
def fields(rng) -> np.ndarray:
    return rng.uniform(-10, 65, (len(TIMES), GRID.height, GRID.width)).astype(np.float32)


def test_one_file_with_several_hours_reads_back_values_times_and_shape(tmp_path, fields):
    path = write_grib2(tmp_path / "hours.grib2", fields, TIMES, GRID)
    scan = read_source(path, ReaderOptions(variables=("refc",)))
    assert scan.failures == []
    assert [r.time for r in scan.records] == TIMES
    assert [r.uri for r in scan.records] == [f"{path.resolve()}#{t:%Y-%m-%dT%H:%M}" for t in TIMES]
    for record, field in zip(scan.records, fields):
        pixels = record.load()
        assert pixels.shape == record.shape == (12, 20) and pixels.dtype == np.float32
        np.testing.assert_allclose(pixels, field, atol=PACKING)
    assert len({r.sha256 for r in scan.records}) == len(TIMES)


def test_a_folder_of_files_with_one_hour_each_is_read_in_time_order(tmp_path, fields):
    for field, time in zip(fields[::-1], TIMES[::-1]):
        write_grib2(tmp_path / "hrrr" / f"refc_{time:%H}.grib2", [field], [time], GRID)
    (tmp_path / "hrrr" / "notes.txt").write_text("not a field")
    scan = read_source(tmp_path / "hrrr")
    assert [r.time for r in scan.records] == TIMES
    np.testing.assert_allclose(np.stack([r.load() for r in scan.records]), fields, atol=PACKING)


def test_rows_come_north_up_as_cfgrib_reads_them_south_first(tmp_path, fields):
    import xarray as xr

    path = write_grib2(tmp_path / "f.grib2", fields[:2], TIMES[:2], GRID)
    with xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}) as dataset:
        theirs = dataset["refc"].values
        latitude = dataset["latitude"].values
    ours = np.stack([r.load() for r in read_source(path).records])
    np.testing.assert_array_equal(ours, theirs[:, ::-1])
    assert latitude[0, 0] < latitude[-1, 0]  # cfgrib keeps the file's south-first rows
    lat, lon = GRID.latlon()
    np.testing.assert_allclose(latitude, lat, atol=1e-5)


def test_forecast_steps_give_one_record_each_at_their_valid_time(tmp_path, fields):
    valid = [TIMES[2]] * 3
    path = write_grib2(tmp_path / "steps.grib2", fields[:3], valid, GRID, steps=[0, 1, 6])
    records = read_source(path).records
    assert [r.time for r in records] == valid
    assert [r.meta.get("step") for r in records] == [None, 1.0, 6.0]
    assert records[2].uri.endswith("#2019-09-20T06:00+6h")


def test_missing_points_become_the_fill(tmp_path, fields):
    fields[1, 3, 4] = np.nan
    path = write_grib2(tmp_path / "holes.grib2", fields[:2], TIMES[:2], GRID)
    assert read_source(path).records[1].load()[3, 4] == 0.0
    assert read_source(path, ReaderOptions(fill=-5.0)).records[1].load()[3, 4] == -5.0
    assert read_source(path).records[0].load()[3, 4] == pytest.approx(fields[0, 3, 4], abs=PACKING)


def test_variables_stack_as_channels_and_filters_select_messages(tmp_path, fields):
    temperature = {"centre": 7, "discipline": 0, "parameterCategory": 0, "parameterNumber": 0,
                   "typeOfFirstFixedSurface": 103, "scaledValueOfFirstFixedSurface": 2}
    path = tmp_path / "two.grib2"
    write_grib2(tmp_path / "a.grib2", fields[:2], TIMES[:2], GRID)
    write_grib2(tmp_path / "b.grib2", fields[2:] + 300, TIMES[:2], GRID, parameter=temperature)
    path.write_bytes((tmp_path / "a.grib2").read_bytes() + (tmp_path / "b.grib2").read_bytes())
    stacked = read_source(path, ReaderOptions(variables=("refc", "t"))).records
    assert [r.time for r in stacked] == TIMES[:2]
    pixels = stacked[0].load()
    assert pixels.shape == (12, 20, 2)
    np.testing.assert_allclose(pixels[..., 1], fields[2] + 300, atol=0.05)
    only = read_source(path, ReaderOptions(variables=("t",), filters=(("typeOfLevel", "heightAboveGround"),)))
    assert len(only.records) == 2
    with pytest.raises(BadInputError, match="two.grib2: holds several variables .*choose with variable"):
        read_source(path)
    with pytest.raises(BadInputError, match="no GRIB message matches shortName=t, level=500"):
        read_source(path, ReaderOptions(variables=("t",), filters=(("level", "500"),)))


def test_a_variable_matching_two_messages_at_one_time_asks_for_a_filter(tmp_path, fields):
    path = write_grib2(tmp_path / "twice.grib2", fields[:2], [TIMES[0]] * 2, GRID)
    with pytest.raises(BadInputError, match="refc matches several messages valid 2019-09-20 04:00; narrow it with --filter"):
        grib_records(path)


def test_files_that_are_not_grib_are_named(tmp_path):
    (tmp_path / "empty.grib2").write_bytes(b"")
    (tmp_path / "text.grb2").write_text("hello, not GRIB")
    with pytest.raises(BadInputError, match="empty.grib2: no GRIB messages"):
        read_source(tmp_path / "empty.grib2")
    with pytest.raises(BadInputError, match="text.grb2: not a readable GRIB file"):
        read_sources([tmp_path / "text.grb2"])


def test_a_truncated_message_fails_on_load_naming_the_file(tmp_path, fields):
    path = write_grib2(tmp_path / "cut.grib2", fields[:1], TIMES[:1], GRID)
    record = read_source(path).records[0]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(BadInputError, match="cut.grib2: cannot decode GRIB message"):
        record.load()


def test_the_grid_is_hrrr_s_lambert_grid_at_any_resolution():
    full = LambertGrid.conus()
    lat, lon = full.latlon()
    assert (full.height, full.width, full.dx) == (1059, 1799, 3000.0)
    assert lat[0, 0] == pytest.approx(21.138123) and lon[0, 0] == pytest.approx(237.280472)
    assert lat[-1, -1] == pytest.approx(47.8422, abs=1e-3) and lon[-1, -1] == pytest.approx(299.0828, abs=1e-3)
    coarse_lat, _ = GRID.latlon()
    assert 21.1 < coarse_lat.min() and coarse_lat.max() < 53.0


def test_bad_files_in_a_folder_of_fields_are_listed_and_the_good_kept(tmp_path, fields):
    folder = tmp_path / "hrrr"
    for field, time in zip(fields, TIMES):
        write_grib2(folder / f"refc_{time:%H}.grib2", [field], [time], GRID)
    good = (folder / "refc_04.grib2").read_bytes()
    (folder / "a_empty.grib2").write_bytes(b"")
    (folder / "b_truncated.grib2").write_bytes(good[:200])
    (folder / "c_picture.grib2").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (folder / "d_text.nc").write_text("not NetCDF")
    scan = read_source(folder)
    reasons = {Path(f.uri).name: f.reason for f in scan.failures}
    assert set(reasons) == {"a_empty.grib2", "b_truncated.grib2", "c_picture.grib2", "d_text.nc"}, reasons
    assert reasons["a_empty.grib2"] == reasons["c_picture.grib2"] == "no GRIB messages in this file"
    assert reasons["b_truncated.grib2"].startswith("not a readable GRIB file")
    assert reasons["d_text.nc"].startswith("not a readable NetCDF file")
    assert [r.time for r in scan.records] == TIMES


def test_a_folder_whose_every_file_is_bad_is_one_error(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.grib2").write_bytes(b"")
    with pytest.raises(BadInputError, match="x.grib2: no GRIB messages"):
        read_source(tmp_path / "f")



def test_a_message_on_a_grid_that_is_not_regular_is_its_time_s_failure(tmp_path, fields):
    import eccodes

    path = write_grib2(tmp_path / "mixed.grib2", fields[:1], TIMES[:1], GRID)
    reduced = eccodes.codes_grib_new_from_samples("reduced_gg_pl_32_grib2")
    try:
        later = TIMES[1]
        for key, value in {**{k: v for k, v in REFC_PARAMETER.items() if k != "typeOfSecondFixedSurface"},
                           "dataDate": int(f"{later:%Y%m%d}"), "dataTime": int(f"{later:%H%M}")}.items():
            eccodes.codes_set(reduced, key, value)
        with open(path, "ab") as handle:
            eccodes.codes_write(reduced, handle)
    finally:
        eccodes.codes_release(reduced)
    scan = read_source(path)
    assert [r.time for r in scan.records] == TIMES[:1]
    assert [str(f) for f in scan.failures] == [
        f"{path.resolve()}#{later:%Y-%m-%dT%H:%M}: refc: grid type reduced_gg is not a regular 2-D grid"]
