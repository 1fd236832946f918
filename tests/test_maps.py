"""Radar maps on their grid's coordinates: geometry read from GRIB2/NetCDF, outlines, labels, colour bar, UTC."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import numpy as np
import pytest

from latentatlas.pictures.grids import REFLECTIVITY, captioned_rows, field_colours
from latentatlas.pictures.maps import outlines
from latentatlas.sources import ReaderOptions
from latentatlas.sources.geometry import GridGeometry, file_geometry
from latentatlas.sources.lambert import LambertGrid

GRID = (32, 56)


@pytest.fixture(scope="module")
def radar_grib(tmp_path_factory):
    """A day of generated radar as GRIB2 files on HRRR's Lambert grid (32 x 56 points)."""
    from latentatlas.datasets.radar_files import export_radar

    folder, _ = export_radar(tmp_path_factory.mktemp("grib"), "grib2", days=1, grid=GRID,
                             start=datetime(2019, 9, 20))
    return folder


@pytest.fixture(scope="module")
def latlon_netcdf(tmp_path_factory):
    """A field on a regular 1-degree latitude/longitude grid over the United States (rows south to north)."""
    import netCDF4

    path = tmp_path_factory.mktemp("latlon") / "field.nc"
    with netCDF4.Dataset(path, "w") as dataset:
        dataset.createDimension("lat", 31)
        dataset.createDimension("lon", 71)
        lat = dataset.createVariable("lat", "f8", ("lat",))
        lat.standard_name, lat.units, lat[:] = "latitude", "degrees_north", np.arange(20.0, 51.0)
        lon = dataset.createVariable("lon", "f8", ("lon",))
        lon.standard_name, lon.units, lon[:] = "longitude", "degrees_east", np.arange(230.0, 301.0)
        field = dataset.createVariable("refc", "f4", ("lat", "lon"))
        field[:] = np.linspace(0, 70, 31 * 71, dtype=np.float32).reshape(31, 71)
    return path


def _conus() -> GridGeometry:
    """HRRR's domain on the test grid, built from the projection alone."""
    grid = LambertGrid.conus(*GRID)
    x, y = grid.axes()
    return GridGeometry(GRID, (x[0] - grid.dx / 2, x[-1] + grid.dx / 2, y[0] - grid.dy / 2, y[-1] + grid.dy / 2),
                        grid)


def _collections(ax) -> dict[str, int]:
    """Segments per named line collection of an axes."""
    return {c.get_gid(): len(c.get_segments()) for c in ax.collections if c.get_gid()}


def _labels(ticks) -> list[str]:
    return [t.get_text() for t in ticks]


def test_the_lambert_grid_of_the_radar_export_is_read_from_grib_and_netcdf(radar_grib, tmp_path):
    from latentatlas.datasets.radar_files import export_radar

    grib = file_geometry(sorted(radar_grib.glob("*.grib2"))[0])
    assert grib.shape == GRID and grib.lambert == LambertGrid.conus(*GRID)
    south_west, north_east = grib.inverse(grib.extent[0], grib.extent[2]), grib.inverse(grib.extent[1], grib.extent[3])
    assert np.allclose(south_west, (21.14, -122.72), atol=0.05)  # HRRR's corners
    assert np.allclose(north_east, (47.84, -60.90), atol=0.05)
    folder, _ = export_radar(tmp_path, "netcdf", days=1, grid=GRID, start=datetime(2019, 9, 20))
    netcdf = file_geometry(folder / "radar.nc")
    assert netcdf.shape == GRID and np.allclose(netcdf.extent, grib.extent, rtol=0, atol=1.0)
    assert file_geometry(tmp_path / "picture.png") is None


def test_a_latlon_grid_is_read_from_netcdf_and_follows_crop_and_tiles(latlon_netcdf):
    geometry = file_geometry(latlon_netcdf)
    assert geometry.lambert is None and geometry.shape == (31, 71)
    assert geometry.extent == (-130.5, -59.5, 19.5, 50.5)  # cell edges, longitudes in -180..180
    cropped = geometry.read_with(ReaderOptions(crop=(1, 10, 10, 20), scale=0.5))
    assert cropped.shape == (5, 10) and cropped.extent == (-120.5, -100.5, 39.5, 49.5)
    left, right = geometry.window(0, 0, 31, 35), geometry.window(0, 35, 31, 36)
    assert left.extent[1] == right.extent[0] and right.extent[1] == geometry.extent[1]
    assert GridGeometry.from_dict(cropped.to_dict()) == cropped


def test_the_grid_spacing_in_km_comes_from_the_grid():
    conus = _conus()  # HRRR's 3 km grid at 1/32 of its points a side: about 97 km
    assert conus.spacing_km() == pytest.approx(np.sqrt(conus.lambert.dx * conus.lambert.dy) / 1000, rel=1e-3)
    degree = GridGeometry((10, 10), (0.0, 10.0, -5.0, 5.0))  # one degree at the equator
    assert degree.spacing_km() == pytest.approx(111.2, abs=0.1)
    north = GridGeometry((10, 10), (0.0, 10.0, 55.0, 65.0))  # longitudes shrink by cos(60 degrees)
    assert north.spacing_km() == pytest.approx(111.2 * np.sqrt(0.5), abs=0.1)


def test_the_reflectivity_scale_ends_at_the_clip_range():
    cmap, span = field_colours(REFLECTIVITY, (0.0, 60.0))
    assert span == (0.0, 60.0)
    colour = tuple(int(255 * v) for v in cmap((57.0 - 0.0) / 60.0)[:3])
    assert colour == (212, 0, 0)  # the NWS colour of 55-60 dBZ
    assert field_colours(REFLECTIVITY)[1] == (0.0, 75.0)  # unclipped fields: the whole scale


@pytest.mark.parametrize("source", ["lambert", "latlon"])
def test_fields_are_drawn_as_maps_with_outlines_labels_and_a_bar_to_the_clip(source, radar_grib, latlon_netcdf):
    geometry = file_geometry(sorted(radar_grib.glob("*.grib2"))[0] if source == "lambert" else latlon_netcdf)
    cmap, span = field_colours(REFLECTIVITY, (0.0, 60.0))
    field = np.full(geometry.shape, 30.0, np.float32)
    figure = captioned_rows([[field, field]], [["2019-09-20 05:00 UTC", "decoded"]], cmap=cmap, value_range=span,
                            colorbar="dBZ", geometries=[[geometry, geometry]])
    ax, bar = figure.axes[0], figure.axes[-1]
    lines = _collections(ax)
    assert lines["coastlines"] > 10 and lines["borders"] >= 2 and lines["states"] > 40  # CONUS's 48 states
    assert {"30°N", "40°N"} <= set(_labels(ax.get_yticklabels()))
    assert {"120°W", "105°W", "90°W", "75°W"} <= set(_labels(ax.get_xticklabels()))
    assert "UTC" in ax.get_title()
    assert bar.get_ylim() == (0.0, 60.0) and ax.images[0].get_clim() == (0.0, 60.0)
    x, y = geometry.forward(40.0, -100.0)  # Kansas lies inside the drawn extent
    assert ax.get_xlim()[0] < x < ax.get_xlim()[1] and ax.get_ylim()[0] < y < ax.get_ylim()[1]


def test_outlines_are_kept_to_the_extent():
    conus = _conus()
    west, east, south, north = conus.extent
    points = np.concatenate(outlines(conus, "coastlines"))
    inside = (points[:, 0] > west) & (points[:, 0] < east) & (points[:, 1] > south) & (points[:, 1] < north)
    assert inside.mean() > 0.5 and np.abs(points).max() < 2 * max(east - west, north - south)


def test_a_search_picture_of_a_grib_atlas_is_a_map_with_utc_times(radar_grib, tmp_path, monkeypatch):
    from latentatlas import Atlas
    from latentatlas.ops import search_picture

    drawn = []
    save = search_picture.save_png
    monkeypatch.setattr(search_picture, "save_png", lambda figure, path: (drawn.append(figure), save(figure, path))[1])
    with Atlas.open(tmp_path / "grib.atlas") as atlas:
        atlas.build(radar_grib, reader=ReaderOptions(variables=("refc",), clip=(0, 60), crop=(0, 0, 24, 56)),
                    code_size=8, epochs=1, batch_size=8, base_channels=8, seed=0)
        assert atlas.store.setting("grid")["lambert"]["width"] == GRID[1]  # fit stored the source's grid
        result = atlas.search(time="2019-09-20 05:00", k=3, out=tmp_path / "hits.png")
    assert result.out.stat().st_size > 10_000
    figure = drawn[0]
    maps = [ax for ax in figure.axes if ax.get_title()]
    assert len(maps) == 4 and all("UTC" in ax.get_title() for ax in maps)
    assert maps[0].get_title() == "query\n2019-09-20 05:00 UTC"
    assert all(_collections(ax)["coastlines"] > 0 for ax in maps)
    cropped = file_geometry(sorted(radar_grib.glob("*.grib2"))[0]).window(0, 0, 24, 56)
    assert maps[0].get_xlim() == cropped.extent[:2] and maps[0].get_ylim() == cropped.extent[2:]
    assert figure.axes[-1].get_ylim() == (0.0, 60.0)


@contextmanager
def _drawn_grib_atlas(radar_grib, tmp_path, monkeypatch):
    """A small atlas of the GRIB fields, and the list the figures saved after its fit go to."""
    from latentatlas import Atlas
    from latentatlas.pictures import grids as viz

    drawn = []
    save = viz.save_png
    monkeypatch.setattr(viz, "save_png", lambda figure, path: (drawn.append(figure), save(figure, path))[1])
    with Atlas.open(tmp_path / "grib.atlas") as atlas:
        atlas.build(radar_grib, reader=ReaderOptions(variables=("refc",), clip=(0, 60)),
                    code_size=8, epochs=1, batch_size=8, base_channels=8, seed=0, progress=False)
        drawn.clear()                                   # the loss curve of fit
        yield atlas, drawn


def test_cluster_centroids_of_a_grib_atlas_are_maps_with_the_bar_to_the_clip(radar_grib, tmp_path, monkeypatch):
    with _drawn_grib_atlas(radar_grib, tmp_path, monkeypatch) as (atlas, drawn):
        atlas.cluster(3, out=tmp_path / "clusters", progress=False)
    maps = [ax for ax in drawn[0].axes if ax.get_title()]
    assert len(maps) == 3 and all(_collections(ax)["coastlines"] > 0 for ax in maps)
    assert drawn[0].axes[-1].get_ylim() == (0.0, 60.0)
    assert np.load(tmp_path / "clusters" / "centroids.npy").shape[1:] == GRID  # decoded at the grid's size


def test_row_geometry_of_a_tile_is_its_window():
    from latentatlas.ops.rows import row_geometry

    whole = _conus()
    tile = row_geometry(whole, {"meta": {"top": 16, "left": 28}, "height": 16, "width": 28})
    assert tile == whole.window(16, 28, 16, 28)
    assert tile.extent[1] == whole.extent[1] and tile.extent[2] == whole.extent[2]  # the south-east quarter
    assert row_geometry(whole, {"meta": {}, "height": 32, "width": 56}) == whole and row_geometry(whole, None) is None


def test_a_field_query_from_a_file_of_the_same_grid_is_a_map_and_another_grid_is_not(radar_grib, tmp_path,
                                                                                      monkeypatch):
    from latentatlas import Atlas
    from latentatlas.ops import search_picture

    drawn = []
    save = search_picture.save_png
    monkeypatch.setattr(search_picture, "save_png", lambda figure, path: (drawn.append(figure), save(figure, path))[1])
    files = sorted(radar_grib.glob("*.grib2"))
    with Atlas.open(tmp_path / "grib.atlas") as atlas:
        atlas.build(files[:12], reader=ReaderOptions(variables=("refc",), clip=(0, 60)), code_size=8, epochs=1,
                    batch_size=8, base_channels=8, seed=0)
        atlas.search(files[20], k=2, out=tmp_path / "file.png")
        atlas.search(np.zeros((20, 30), np.float32), k=2, out=tmp_path / "other.png")
    query, *hits = [ax for ax in drawn[0].axes if ax.get_title()]
    assert query.get_title().startswith("query\n") and _collections(query)["coastlines"] > 0
    other = [ax for ax in drawn[1].axes if ax.get_title()][0]
    assert "coastlines" not in _collections(other) and not other.get_xticks().size  # a plain field, no map


def test_files_without_a_readable_grid_have_no_geometry(tmp_path):
    (tmp_path / "broken.grib2").write_bytes(b"GRIB" + bytes(100))
    (tmp_path / "broken.nc").write_bytes(b"not netcdf")
    assert file_geometry(tmp_path / "broken.grib2") is None and file_geometry(tmp_path / "broken.nc") is None
    assert file_geometry(tmp_path / "missing.grib2") is None


def test_the_forecast_picture_of_a_grib_atlas_is_maps_with_the_dbz_bar_and_utc(radar_grib, tmp_path, monkeypatch):
    with _drawn_grib_atlas(radar_grib, tmp_path, monkeypatch) as (atlas, drawn):
        atlas.forecast("2019-09-20 12:00", leads="1h", k=3, thresholds=(20,), references="extrapolation",
                       out=tmp_path / "fc")
    panels = [ax for ax in drawn[0].axes if ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == ["+1h truth", "+1h mean", "+1h extrapolation",
                                                                 "+1h spread", "+1h P(> 20)"]
    assert panels[0].get_title().endswith("2019-09-20 13:00 UTC")
    assert all(_collections(ax)["coastlines"] > 0 for ax in panels)
    assert any(ax.get_ylabel() == "dBZ" for ax in drawn[0].axes)
