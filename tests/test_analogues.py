"""Analogue queries: season window, minimum separation and trend window against brute-force filters over all rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError, UsageErrors
from latentatlas.store import ImageRow, Store

START = datetime(2023, 1, 1)
STEP_HOURS = 5
ROWS = 3000  # every 5 h over about 1.7 years
GAPS = set(range(400, 412)) | {1500, 2222}


def _hour(i: int) -> datetime:
    return START + timedelta(hours=STEP_HOURS * i)


@pytest.fixture(scope="module")
def timed_atlas(tmp_path_factory):
    """Random-walk codes every 5 h, with gaps (so some rows lack a trend window); no model."""
    rng = np.random.default_rng(3)
    kept = [i for i in range(ROWS) if i not in GAPS]
    walk = np.cumsum(rng.normal(size=(ROWS, 6)), axis=0) * 0.3 + rng.normal(size=(ROWS, 6))
    path = tmp_path_factory.mktemp("analogues") / "timed.atlas"
    store = Store(path)
    store.ensure_embeddings(6)
    store.set_setting("model_fingerprint", "synthetic")
    rows = [ImageRow(uri=f"/data/{i:05d}.npy", sha256=f"{i:064x}", width=4, height=4, time=_hour(i)) for i in kept]
    store.add(rows, walk[kept].astype(np.float32))
    store.close()
    ids = np.arange(len(kept))
    return path, ids, np.array([_hour(i) for i in kept], "datetime64[us]"), walk[kept].astype(np.float32)


def _season_days(a: np.ndarray, b: np.datetime64) -> np.ndarray:
    def doy(t):
        t = np.asarray(t, "datetime64[us]")
        return (t - t.astype("datetime64[Y]").astype("datetime64[us]")).astype(np.int64) / 86400e6

    gap = np.abs(doy(a) - doy(np.array([b]))[0]) % 365.2425
    return np.minimum(gap, 365.2425 - gap)


def _greedy(order: np.ndarray, times: np.ndarray, k: int, gap: np.timedelta64 | None) -> list[int]:
    kept: list[int] = []
    for i in order:
        if gap is None or all(abs(times[i] - times[j]) >= gap for j in kept):
            kept.append(int(i))
        if len(kept) == k:
            break
    return kept


def _brute(data, query: int, k: int, season: float | None = None, separation_hours: float | None = None,
           trend_steps: int | None = None) -> tuple[list[int], int]:
    _, ids, times, codes = data
    distances = np.sqrt(((codes.astype(np.float64) - codes[query]) ** 2).sum(1))
    keep = np.ones(len(ids), bool)
    skipped = 0
    if season is not None:
        keep &= _season_days(times, times[query]) <= season
    if trend_steps is not None:
        at = {t: i for i, t in enumerate(times.tolist())}
        total = np.zeros(len(ids))
        full = np.ones(len(ids), bool)
        for i in range(len(ids)):
            window = [at.get(times[i].tolist() - timedelta(hours=STEP_HOURS * lag)) for lag in range(trend_steps + 1)]
            q_window = [at[times[query].tolist() - timedelta(hours=STEP_HOURS * lag)] for lag in range(trend_steps + 1)]
            if None in window:
                full[i] = False
                continue
            total[i] = sum(np.sqrt(((codes[w].astype(np.float64) - codes[q]) ** 2).sum()) for w, q in zip(window, q_window))
        skipped = int((keep & ~full).sum())
        keep &= full
        distances = total
    order = np.lexsort((ids, distances))
    order = order[keep[order]]
    gap = None if separation_hours is None else np.timedelta64(int(separation_hours * 3600e6), "us")
    return _greedy(order, times, k, gap), skipped


@pytest.mark.parametrize("query", [5, 1100, 2500])
def test_season_window_gives_the_rows_a_brute_force_filter_gives(timed_atlas, query):
    with Atlas.open(timed_atlas[0], read_only=True) as atlas:
        found = atlas.search(id=query, k=30, season_window="20d")
    assert [h.id for h in found.hits] == _brute(timed_atlas, query, 30, season=20)[0]
    assert found.query["season_window"].startswith("20 days")


@pytest.mark.parametrize("query", [7, 1600])
def test_min_separation_keeps_k_separate_events_as_the_greedy_brute_force_does(timed_atlas, query):
    with Atlas.open(timed_atlas[0], read_only=True) as atlas:
        found = atlas.search(id=query, k=25, min_separation="3d")
        both = atlas.search(id=query, k=10, min_separation="2d", season_window="30d")
    assert [h.id for h in found.hits] == _brute(timed_atlas, query, 25, separation_hours=72)[0]
    assert len(found.hits) == 25
    times = np.array([h.time for h in found.hits], "datetime64[us]")
    gaps = np.abs(times[:, None] - times[None, :])[~np.eye(25, dtype=bool)]
    assert gaps.min() >= np.timedelta64(3, "D")
    assert [h.id for h in both.hits] == _brute(timed_atlas, query, 10, season=30, separation_hours=48)[0]


def test_min_separation_returns_fewer_only_when_fewer_qualify(timed_atlas):
    with Atlas.open(timed_atlas[0], read_only=True) as atlas:
        found = atlas.search(id=100, k=500, min_separation="10d")
    expected = _brute(timed_atlas, 100, 500, separation_hours=240)[0]
    assert [h.id for h in found.hits] == expected and 30 < len(expected) < 500


@pytest.mark.parametrize("query", [20, 2300])
def test_trend_window_sums_the_distances_of_the_last_hours_and_counts_rows_lacking_one(timed_atlas, query):
    with Atlas.open(timed_atlas[0], read_only=True) as atlas:
        found = atlas.search(id=query, k=15, trend="10h", min_separation="1d")
    expected, skipped = _brute(timed_atlas, query, 15, separation_hours=24, trend_steps=2)
    assert [h.id for h in found.hits] == expected
    assert found.query["skipped_without_trend_window"] == skipped == 8  # two rows after the start and after each gap
    assert found.hits[0].id == query and found.hits[0].distance == 0.0


def test_a_query_lacking_its_trend_window_is_refused(timed_atlas):
    with Atlas.open(timed_atlas[0], read_only=True) as atlas, pytest.raises(UsageError, match="lacks 2 of the 3"):
        atlas.search(id=0, k=5, trend="10h")


def test_the_cli_takes_the_analogue_options_and_names_its_flags(cli, error_line, timed_atlas):
    path = timed_atlas[0]
    result = cli("search", "--atlas", path, "--id", 1100, "-k", 8, "--season-window", "20d", "--min-separation", "2d",
                 "--trend", "5h", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected, _ = _brute(timed_atlas, 1100, 8, season=20, separation_hours=48, trend_steps=1)
    assert [r["id"] for r in data["results"]] == expected
    line = error_line(cli("search", "--atlas", path, "--id", 3, "--season-window", "soon"), 2)
    assert "--season-window must be a duration" in line
    line = error_line(cli("search", "--atlas", path, "--id", 3, "--season-window", "soon", "--min-separation", "0h",
                          "--trend", "9" * 30 + "d"), 2)  # every bad option named, each by its flag
    assert ("--season-window must be a duration" in line and "; --min-separation must be positive" in line
            and "; --trend must be at most 999999999 days" in line)
    line = error_line(cli("search", "--atlas", path, "--vector", ",".join(["0"] * 6), "--trend", "3h"), 2)
    assert "--trend needs a stored row" in line


@pytest.fixture(scope="module")
def grib_tiles_atlas(tmp_path_factory):
    """One day of generated radar as GRIB2 on a 32x56 grid, built as 16x16 tiles (2 x 4 per field)."""
    from latentatlas.datasets.samples import export_sample
    from latentatlas.sources import ReaderOptions

    folder = tmp_path_factory.mktemp("grib")
    data, _ = export_sample("radar", folder / "radar", fmt="grib2", days=1, grid=(32, 56))
    path = folder / "tiles.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(data, reader=ReaderOptions(variables=("refc",), clip=(0, 60), tile=16), code_size=8, epochs=1,
                    base_channels=8, seed=0, progress=False)
    return path


def test_region_keeps_the_tiles_overlapping_the_box(cli, error_line, grib_tiles_atlas, timed_atlas):
    from latentatlas.ops.rows import atlas_geometry

    with Atlas.open(grib_tiles_atlas, read_only=True) as atlas:
        geometry = atlas_geometry(atlas.store)
        west, east, south, north = geometry.extent
        cell_x, cell_y = (east - west) / geometry.shape[1], (north - south) / geometry.shape[0]
        lat, lon = geometry.inverse(west + 2.5 * cell_x, north - 2.5 * cell_y)  # a pixel of the north-west tile
        box = f"{float(lat) - 0.3},{float(lat) + 0.3},{float(lon) - 0.3},{float(lon) + 0.3}"
        found = atlas.search(time="2019-01-01 12:00", tile=(1, 2), k=10, region=box)
        rows = atlas.store.images([h.id for h in found.hits])
    assert len(found.hits) == 10 and {(r["tile_row"], r["tile_col"]) for r in rows.values()} == {(0, 0)}
    result = cli("forecast", "--atlas", grib_tiles_atlas, "--time", "2019-01-01 12:00", "--tile-row", 0, "--tile-col", 0,
                 "--lead", "1h", "-k", 3, "--region", box, "--json")
    assert result.exit_code == 0, result.output
    members = [m["id"] for m in json.loads(result.stdout)["leads"][0]["members"]]
    with Atlas.open(grib_tiles_atlas, read_only=True) as atlas:
        assert {(r["tile_row"], r["tile_col"]) for r in atlas.store.images(members).values()} == {(0, 0)}
    line = error_line(cli("search", "--atlas", grib_tiles_atlas, "--time", "2019-01-01 12:00", "--tile-row", 0,
                          "--tile-col", 0, "--region", "50,40,0,10"), 2)
    assert "--region must have -90 <= LAT0 < LAT1 <= 90" in line
    line = error_line(cli("search", "--atlas", timed_atlas[0], "--id", 5, "--region", "40,50,-120,-110"), 2)
    assert "--region needs an atlas of gridded fields" in line


def test_the_options_travel_as_one_dataclass_with_one_flag_per_field_on_every_analogue_command(cli):
    from dataclasses import fields

    from latentatlas.analogues import AnalogueOptions

    options = AnalogueOptions.of(season_window="45d", region="40,50,-125,-115")
    assert options.to_dict() == {"season_window": "45 days, 0:00:00", "region": [40.0, 50.0, -125.0, -115.0]}
    assert AnalogueOptions.given(options) is options and AnalogueOptions.given(trend="3h").trend == timedelta(hours=3)
    with pytest.raises(UsageError, match="unknown analogue option.*season"):
        AnalogueOptions.of(season="45d")
    with pytest.raises(UsageErrors) as several:
        AnalogueOptions.of(season_window="2x", trend="3h", region="1,2")
    assert [problem.parameter for problem in several.value.problems] == ["season_window", "region"]
    assert several.value.parameter == ("season_window", "region")
    with pytest.raises(UsageError, match="not both"):
        AnalogueOptions.given(options, trend="3h")
    for command in (["search"], ["forecast"], ["evaluate", "analogues"]):
        shown = cli(*command, "--help").output
        assert all("--" + f.name.replace("_", "-") in shown for f in fields(AnalogueOptions)), command
