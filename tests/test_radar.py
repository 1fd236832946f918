"""The generated radar year: seeded, date-stable, and with the weather's structure in time and space."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from latentatlas.datasets.radar import NO_ECHO_DBZ, REGIMES, RadarYear
from latentatlas.datasets.samples import export_sample, load_sample
from latentatlas.errors import UsageError

GRID = (64, 112)


def _clipped(year: RadarYear, start: int = 0, stop: int | None = None) -> np.ndarray:
    return np.clip(np.stack(list(year.fields(start, stop))), 0, 60) / 60.0


def test_fields_are_seeded_and_the_weather_of_a_date_does_not_depend_on_the_period():
    two = RadarYear(seed=3, days=2, grid=(32, 56))
    three = RadarYear(seed=3, days=3, grid=(32, 56))
    later = RadarYear(seed=3, days=1, grid=(32, 56), start=datetime(2019, 1, 2))
    np.testing.assert_array_equal(two.field(40), three.field(40))
    np.testing.assert_array_equal(later.field(5), two.field(29))
    assert not np.array_equal(two.field(40), RadarYear(seed=4, days=2, grid=(32, 56)).field(40))
    assert len(three) == 72 and three.times[25] == datetime(2019, 1, 2, 1)


def test_fields_are_reflectivity_in_dbz_north_up():
    year = RadarYear(days=3, grid=GRID)
    stack = np.stack(list(year.fields()))
    assert stack.shape == (72, *GRID) and stack.dtype == np.float32
    assert stack.min() == pytest.approx(NO_ECHO_DBZ, abs=1e-3)
    assert 50 < stack.max() < 75
    assert 0.02 < (stack > 20).mean() < 0.3


def test_the_hours_before_and_after_are_the_nearest_and_their_mean_predicts_the_hour():
    x = _clipped(RadarYear(days=7, grid=(32, 56))).reshape(168, -1)
    distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    inner = range(1, 167)
    adjacent = [set(np.argsort(distances[t])[:2]) == {t - 1, t + 1} for t in inner]
    assert np.mean(adjacent) > 0.95
    blend = np.array([((x[t - 1] + x[t + 1]) / 2 - x[t]) @ ((x[t - 1] + x[t + 1]) / 2 - x[t]) for t in inner])
    neighbour = np.array([distances[t, t + 1] for t in inner])
    assert np.median(blend / neighbour) < 0.4


def test_weather_moves_west_to_east():
    x = _clipped(RadarYear(days=4, grid=GRID))
    later, earlier = x[6:], x[:-6]
    width = GRID[1]
    shifts = range(-8, 9)  # columns the field moved east in six hours
    error = [np.mean((later[..., max(0, s):width + min(0, s)] - earlier[..., max(0, -s):width - max(0, s)]) ** 2)
             for s in shifts]
    best = list(shifts)[int(np.argmin(error))]
    assert 3 <= best <= 8  # six hours at 30-70 km/h is 180-420 km: 4-9 columns of 48 km


def test_summer_convection_follows_the_sun_and_the_north_west_coast_rains_in_winter():
    summer = np.stack(list(RadarYear(days=10, grid=GRID, start=datetime(2019, 7, 10)).fields()))
    by_hour = (summer > 40).reshape(10, 24, -1).mean(axis=(0, 2))
    assert by_hour[0:6].mean() > 2 * by_hour[10:16].mean()  # evening in the central US against its morning
    winter = np.stack(list(RadarYear(days=10, grid=GRID, start=datetime(2019, 1, 10)).fields()))
    north_west = (winter[:, :16, 4:14] > 15).any(axis=(1, 2)).mean()
    south_west = (winter[:, 44:60, 4:14] > 15).any(axis=(1, 2)).mean()
    assert north_west > 0.8 and north_west > 2 * south_west


def test_regimes_and_the_sample_set():
    year = RadarYear(days=2, grid=(16, 28))
    assert {year.regime(h) for h in range(48)} <= set(REGIMES)
    data = load_sample("radar", days=1, grid=(16, 28))
    assert len(data) == 24 and data.names[5] == "20190101_05" and data.images[5].shape == (16, 28)
    assert data.meta[5]["time"] == "2019-01-01T05:00:00" and data.meta[5]["regime"] in REGIMES
    np.testing.assert_array_equal(data.images[5], year.field(5))


def test_bad_periods_grids_and_formats_are_refused(tmp_path):
    with pytest.raises(UsageError, match="days must be >= 1"):
        RadarYear(days=0)
    with pytest.raises(UsageError, match="grid must be at least 4x4"):
        RadarYear(grid=(2, 8))
    with pytest.raises(UsageError, match="'radar' is written as grib2, netcdf, npy, not 'png'"):
        export_sample("radar", tmp_path, fmt="png")
    with pytest.raises(UsageError, match="sample set 'digits' does not take days"):
        export_sample("digits", tmp_path, days=3)
