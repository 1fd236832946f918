"""End to end on the generated radar: export, build with --clip, nearest hours, decode in dBZ, tiles, GRIB embed."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.datasets.radar import RadarYear
from latentatlas.sources import ReaderOptions, read_source

GRID = (32, 56)
START = datetime(2019, 1, 1)


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["grib2", "netcdf", "npy"])
def test_the_exported_radar_reads_back_as_the_generated_fields(cli, tmp_path, fmt):
    exported = _json(cli("datasets", "export", "radar", "--out", tmp_path / fmt, "--format", fmt,
                         "--days", "1", "--grid", "16x28", "--start", "2019-09-20", "--json"))
    assert exported["images"] == 24
    source = {"grib2": tmp_path / fmt, "netcdf": tmp_path / fmt / "radar.nc", "npy": tmp_path / fmt / "radar.npy"}[fmt]
    records = read_source(source).records
    year = RadarYear(days=1, grid=(16, 28), start=datetime(2019, 9, 20))
    assert [r.time for r in records] == year.times
    np.testing.assert_allclose(np.stack([r.load() for r in records]), np.stack(list(year.fields())), atol=0.02)


def test_the_nearest_neighbours_of_an_hour_are_the_hours_before_and_after(cli, radar_atlas):
    adjacent = []
    for hour in range(1, 47):
        found = _json(cli("search", "--atlas", radar_atlas, "--id", hour, "-k", "3", "--json"))["results"]
        assert found[0]["id"] == hour and found[0]["time"] == (START + timedelta(hours=hour)).isoformat()
        adjacent.append({r["id"] for r in found[1:]} == {hour - 1, hour + 1})
    assert np.mean(adjacent) >= 0.9 and adjacent[28]  # 2019-01-02 05:00 among them


def test_clipping_and_scaling_invert_on_decode(cli, radar_atlas, radar_npy, tmp_path):
    info = _json(cli("info", "--atlas", radar_atlas, "--json"))
    assert info["model"]["preprocess"]["value_range"] == [0.0, 60.0] and info["reader"]["clip"] == [0.0, 60.0]
    decoded = _json(cli("decode", "--atlas", radar_atlas, "--id", 29, "--out", tmp_path / "d.npy", "--json"))
    assert decoded["shape"] == list(GRID) and decoded["dtype"] == "float32"
    field = np.load(tmp_path / "d.npy")
    original = np.clip(np.load(radar_npy)[29], 0, 60)
    assert 0.0 <= field.min() and field.max() <= 60.0 and field.max() > 30.0
    assert np.abs(field - original).mean() < 3.0  # dBZ


def test_tiles_are_rows_with_positions_and_search_can_keep_to_one(cli, tmp_path, radar_npy):
    atlas = tmp_path / "tiles.atlas"
    built = _json(cli("build", radar_npy, "--atlas", atlas, "--clip", "0,60", "--crop", "0,8,32,32", "--tile", "16",
                      "--stride", "8", "--code-size", "8", "--epochs", "1", "--base-channels", "8", "--json", "--quiet"))
    assert built["embed"]["added"] == 48 * 3 * 3 and built["input_shape"] == [1, 16, 16]
    counts = _json(cli("sql", "--atlas", atlas, "SELECT tile_row, tile_col, count(*) AS n, min(width) AS w "
                       "FROM images GROUP BY ALL ORDER BY ALL", "--json"))["rows"]
    assert len(counts) == 9 and {(c["n"], c["w"]) for c in counts} == {(48, 16)}
    where = "tile_row = 2 AND tile_col = 1"
    first = _json(cli("sql", "--atlas", atlas, f"SELECT min(id) AS id FROM images WHERE {where}", "--json"))["rows"][0]["id"]
    found = _json(cli("search", "--atlas", atlas, "--id", first, "-k", "5", "--where", where, "--json"))["results"]
    ids = ", ".join(str(r["id"]) for r in found)
    positions = _json(cli("sql", "--atlas", atlas, "SELECT DISTINCT tile_row, tile_col, meta->>'top' AS top, "
                          f"meta->>'left' AS left FROM images WHERE id IN ({ids})", "--json"))["rows"]
    assert len(found) == 5 and positions == [{"tile_row": 2, "tile_col": 1, "top": "16", "left": "8"}]


def test_embed_reads_new_grib_files_as_fit_read_its_sources(cli, tmp_path, radar_atlas):
    atlas = shutil.copytree(radar_atlas, tmp_path / "copy.atlas")
    _json(cli("datasets", "export", "radar", "--out", tmp_path / "day3", "--days", "1", "--grid", "32x56",
              "--start", "2019-01-03", "--json"))
    added = _json(cli("embed", tmp_path / "day3", "--atlas", atlas, "--variable", "refc", "--json"))
    assert added["added"] == 24 and added["rows"] == 72 and added["failed"] == []
    again = _json(cli("embed", tmp_path / "day3", "--atlas", atlas, "--variable", "refc", "--json"))
    assert again["added"] == 0 and again["skipped"] == 24
    rows = _json(cli("sql", "--atlas", atlas, "SELECT min(time) AS first, max(time) AS last, count(*) AS n "
                     "FROM images WHERE uri LIKE '%.grib2#%'", "--json"))["rows"]
    assert rows == [{"first": "2019-01-03T00:00:00", "last": "2019-01-03T23:00:00", "n": 24}]
    nearest = _json(cli("search", "--atlas", atlas, "--id", 60, "-k", "3", "--json"))["results"]
    assert {r["id"] for r in nearest[1:]} == {59, 61}  # clipped like the training fields, or it would not be


def test_bad_reader_options_are_one_line_usage_errors(cli, tmp_path, radar_npy):
    for args, message in ((["--clip", "60"], "--clip must be LOW,HIGH"), (["--crop", "0,0,4"], "--crop must be"),
                          (["--filter", "shortName"], "--filter must be KEY=VALUE"), (["--scale", "2"], "--scale must be")):
        result = cli("fit", radar_npy, "--atlas", tmp_path / "x.atlas", *args)
        assert result.exit_code == 2 and result.stderr.startswith("Error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_interpolation_on_the_radar_reads_the_fields_as_embedded_and_the_ratio_is_well_below_one(cli, radar_atlas):
    result = cli("evaluate", "interpolation", "--atlas", radar_atlas, "--step", "1h", "--json")
    report = _json(result)
    assert result.stderr == ""  # every field read again, clipped as at embed: no SHA-256 mismatch
    assert report["triples"] == 46 and report["ratio"] < 0.3
    assert report["psnr_interp"] > 20 and report["psnr_pixel_blend"] > 20 and report["psnr_reconstruction"] > 20


@pytest.fixture(scope="module")
def tile_atlas(tmp_path_factory, radar_npy):
    """The two radar days cut into 16 x 16 tiles (2 x 4 per field), 4 numbers per tile."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("tiles") / "tiles.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(radar_npy, reader=ReaderOptions(clip=(0, 60), tile=16), code_size=4, epochs=1, base_channels=8)
    return path


def test_stored_tiles_are_read_again_as_their_own_windows(tile_atlas, radar_npy):
    from latentatlas import Atlas
    from latentatlas.ops.rows import read_pixels

    with Atlas.open(tile_atlas, read_only=True) as atlas:
        rows = atlas.sql("SELECT id, meta->>'top' AS top, meta->>'left' AS left, uri FROM images "
                         "WHERE uri LIKE '%#30' ORDER BY id").records()
        pixels = read_pixels(atlas.store, [r["id"] for r in rows])
    field = np.clip(np.load(radar_npy)[30], 0, 60)
    assert len(rows) == 2 * 4 and pixels.failures == [] and pixels.ids.tolist() == [r["id"] for r in rows]
    for row, image in zip(rows, pixels.images):
        top, left = int(row["top"]), int(row["left"])
        np.testing.assert_array_equal(image, field[top:top + 16, left:left + 16])


def test_search_by_time_finds_the_row_and_its_neighbouring_hours(cli, radar_atlas):
    found = _json(cli("search", "--atlas", radar_atlas, "--time", "2019-01-02 05:00", "-k", "3", "--json"))
    assert found["query"]["time"] == "2019-01-02T05:00:00" and found["query"]["id"] == 29
    assert found["results"][0] == {**found["results"][0], "id": 29, "time": "2019-01-02T05:00:00", "distance": 0.0}
    assert {r["time"] for r in found["results"][1:]} == {"2019-01-02T04:00:00", "2019-01-02T06:00:00"}
    same = _json(cli("search", "--atlas", radar_atlas, "--time", "2019-01-02T05:00:00Z", "-k", "3", "--json"))
    assert same["results"] == found["results"]


def test_search_by_time_leaves_out_the_window_around_it(cli, radar_atlas):
    found = _json(cli("search", "--atlas", radar_atlas, "--time", "2019-01-02 05:00", "-k", "5",
                      "--exclude-within", "6h", "--json"))
    hours = [(datetime.fromisoformat(r["time"]) - datetime(2019, 1, 2, 5)) / timedelta(hours=1) for r in found["results"]]
    assert len(hours) == 5 and all(abs(h) > 6 for h in hours) and found["query"]["exclude_within"] == "6h"
    with Atlas.open(radar_atlas, read_only=True) as atlas:
        python = atlas.search(time=datetime(2019, 1, 2, 5), k=5, exclude_within=timedelta(hours=6))
    assert [h.id for h in python.hits] == [r["id"] for r in found["results"]]


@pytest.mark.parametrize("time, message", [
    ("2019-01-02 05:30", "no row at 2019-01-02 05:30 in {atlas}; the nearest times are 2019-01-02 05:00 and 2019-01-02 06:00"),
    ("2019-03-01", "no row at 2019-03-01 00:00 in {atlas}; the nearest time is 2019-01-02 23:00"),
    ("tomorrow", "--time must be a date and time such as '2019-09-20 05:00', got 'tomorrow'"),
])
def test_an_unknown_time_is_one_line_naming_the_nearest_times(cli, radar_atlas, time, message):
    result = cli("search", "--atlas", radar_atlas, "--time", time)
    assert result.exit_code == 2 and result.stderr == f"Error: {message.format(atlas=radar_atlas)}\n"


def test_out_draws_the_query_and_its_analogues_as_radar_maps(cli, radar_atlas, tmp_path):
    from PIL import Image

    found = _json(cli("search", "--atlas", radar_atlas, "--time", "2019-01-02 05:00", "-k", "5",
                      "--exclude-within", "1d", "--out", tmp_path / "grid.png", "--json"))
    assert found["out"] == str(tmp_path / "grid.png") and len(found["results"]) == 5
    picture = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB")).reshape(-1, 3).astype(int)
    colours = {tuple(c) for c in picture[np.ptp(picture, axis=1) > 100]}  # far from grey
    assert {(4, 233, 231), (2, 253, 2)} <= colours  # NWS cyan (5-10 dBZ) and green (20-25 dBZ)
    viridis = cli("search", "--atlas", radar_atlas, "--id", "3", "-k", "2", "--out", tmp_path / "v.png",
                  "--colormap", "viridis")
    assert viridis.exit_code == 0 and (tmp_path / "v.png").stat().st_size > 1000
    bad = cli("search", "--atlas", radar_atlas, "--id", "3", "--out", tmp_path / "v.png", "--colormap", "rainbowish")
    assert bad.exit_code == 2 and "unknown colour map 'rainbowish'" in bad.stderr


def test_out_draws_ordinary_images_for_an_image_atlas(cli, digits_atlas, tmp_path):
    from latentatlas.sources import read_image

    found = _json(cli("search", "--atlas", digits_atlas, "--id", "3", "-k", "4", "--out", tmp_path / "d.png", "--json"))
    assert found["out"] == str(tmp_path / "d.png") and read_image(tmp_path / "d.png").ndim == 3
    wrong = cli("search", "--atlas", digits_atlas, "--id", "3", "--out", tmp_path / "d.jpg")
    assert wrong.exit_code == 2 and "--out must end in .png" in wrong.stderr


def test_a_time_in_an_atlas_of_tiles_needs_the_tile(cli, tile_atlas):
    vague = cli("search", "--atlas", tile_atlas, "--time", "2019-01-01 12:00")
    assert vague.exit_code == 2 and vague.stderr == (
        "Error: 2019-01-01 12:00 has 8 rows, one per tile (rows 0-1, cols 0-3); choose one with --tile-row and --tile-col\n")
    found = _json(cli("search", "--atlas", tile_atlas, "--time", "2019-01-01 12:00", "--tile-row", "1", "--tile-col", "2",
                      "-k", "3", "--where", "tile_row = 1 AND tile_col = 2", "--json"))
    assert found["query"]["tile"] == [1, 2] and found["results"][0]["distance"] == 0.0
    rows = _json(cli("sql", "--atlas", tile_atlas, f"SELECT tile_row, tile_col, time FROM images WHERE id = "
                     f"{found['query']['id']}", "--json"))["rows"]
    assert rows == [{"tile_row": 1, "tile_col": 2, "time": "2019-01-01T12:00:00"}]
    outside = cli("search", "--atlas", tile_atlas, "--time", "2019-01-01 12:00", "--tile-row", "5", "--tile-col", "0")
    assert outside.exit_code == 2 and "no tile (5, 0) at 2019-01-01 12:00" in outside.stderr
    half = cli("search", "--atlas", tile_atlas, "--time", "2019-01-01 12:00", "--tile-row", "1")
    assert half.exit_code == 2 and "give both --tile-row and --tile-col" in half.stderr
