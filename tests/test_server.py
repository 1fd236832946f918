"""The web page's JSON and PNG endpoints through FastAPI's client (the page itself: tests/test_page.py)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from latentatlas import Atlas  # noqa: E402
from latentatlas.server import create_app  # noqa: E402
from latentatlas.sources import ReaderOptions  # noqa: E402


@pytest.fixture
def client(served):
    with TestClient(create_app(served)) as client:
        yield client


def _png(response) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_info_search_and_the_page(client):
    info = client.get("/api/info").json()
    assert info["rows"] == 300 and info["code_size"] == 16 and info["runs"] == ["k3"]
    found = client.get("/api/search", params={"id": 17, "k": 4}).json()
    assert [h["id"] for h in found["results"]][0] == 17 and len(found["results"]) == 4
    label = found["results"][0]["label"]
    others = client.get("/api/search", params={"id": 17, "k": 4, "where": f"label <> '{label}'"}).json()
    assert all(h["label"] != label for h in others["results"])
    page = client.get("/")
    assert page.status_code == 200 and "<h1>latentatlas</h1>" in page.text


def test_search_by_an_uploaded_image(client, digits_dir):
    path = sorted((digits_dir / "3").glob("*.png"))[0]
    found = client.post("/api/search", params={"filename": path.name, "k": 2}, content=path.read_bytes()).json()
    assert found["query"] == {"image": path.name, "conversions": [], "k": 2, "metric": "l2", "where": None}
    assert found["picture"].startswith("data:image/png;base64,")
    assert found["results"][0]["uri"] == str(path.resolve()) and found["results"][0]["distance"] < 1e-4


def test_pictures(client):
    stored = _png(client.get("/api/images/17.png"))
    assert stored.shape == (8, 8, 3) and stored.dtype == np.uint8
    assert _png(client.get("/api/decoded/17.png")).shape == (8, 8, 3)
    assert _png(client.get("/api/clusters/k3/2.png")).shape == (8, 8, 3)
    run = client.get("/api/clusters/k3").json()
    assert run["run"] == "k3" and sum(run["sizes"]) == 300 and len(run["sizes"]) == 3
    strip = _png(client.get("/api/interpolate.png", params={"a": 3, "b": 40, "steps": 5}))
    assert strip.shape[1] > 4 * strip.shape[0]  # five frames side by side


def test_the_map_and_the_frames(client):
    coloured = client.get("/api/map", params={"color_by": "cluster:k3"}).json()
    assert len(coloured["ids"]) == len(coloured["x"]) == len(coloured["y"]) == 300
    assert set(coloured["values"]) == {0, 1, 2} and not coloured["continuous"]
    sampled = client.get("/api/map", params={"color_by": "label", "limit": 7}).json()
    assert sampled["ids"] == sorted(sampled["ids"]) and len(sampled["ids"]) == 7 and len(set(sampled["values"])) > 1
    first = _png(client.get("/api/interpolate/0.png", params={"a": 3, "b": 40, "steps": 5}))
    assert first.shape == (8, 8, 3) and np.array_equal(first, _png(client.get("/api/decoded/3.png")))
    info = client.get("/api/info").json()
    assert info["times"] is None and info["legend"] is None  # digits: no times, not fields


def test_the_maps_kept_are_bounded(digits_atlas, monkeypatch):
    import latentatlas.ops.project as project

    made = []
    monkeypatch.setattr(project, "map_points", lambda store, color_by, limit: made.append(limit) or {"limit": limit})
    with TestClient(create_app(digits_atlas)) as client:
        for limit in [*range(1, 21), 20, 1]:
            assert client.get("/api/map", params={"color_by": "none", "limit": limit}).json() == {"limit": limit}
    assert made == [*range(1, 21), 1]  # the last ones asked for are kept; the first is made again


def test_a_field_atlas_gets_the_dbz_legend(tmp_path):
    fields = np.random.default_rng(0).uniform(0, 60, (40, 16, 16)).astype(np.float32)
    np.save(tmp_path / "fields.npy", fields)
    with Atlas.open(tmp_path / "fields.atlas") as atlas:
        atlas.build(tmp_path / "fields.npy", reader=ReaderOptions(clip=(0, 60)), code_size=4, epochs=1,
                    base_channels=4, seed=0)
    with TestClient(create_app(tmp_path / "fields.atlas")) as client:
        legend = client.get("/api/info").json()["legend"]
    assert [step["from"] for step in legend] == list(range(0, 60, 5))  # 5 dBZ steps, ending at the clip
    assert legend[0]["colour"] == "#ffffff" and legend[1]["colour"] == "#04e9e7"


@pytest.mark.parametrize("method, url, params, status, message", [
    ("get", "/api/search", {"id": 9999}, 400, "unknown id 9999"),
    ("get", "/api/search", {"k": 3}, 400, "give exactly one query"),
    ("get", "/api/search", {"id": 1, "where": "label ="}, 400, "bad where predicate"),
    ("get", "/api/search", {"id": "seven"}, 400, "id: Input should be a valid integer"),
    ("get", "/api/search", {"id": 1, "where": "(SELECT count(*) FROM read_text('/etc/hostname')) > 0"}, 400,
     "disabled"),  # the page's SQL reads the atlas, not the server's files
    ("get", "/api/images/9999.png", {}, 400, "unknown id 9999"),
    ("get", "/api/clusters/nope", {}, 400, "no cluster run named 'nope'; stored runs: k3"),
    ("get", "/api/clusters/k3/7.png", {}, 400, "run 'k3' has clusters 0 to 2, not 7"),
    ("get", "/api/interpolate.png", {"a": 1, "b": 2, "steps": 99}, 400, "steps: Input should be less than or equal to 32"),
    ("get", "/api/interpolate/5.png", {"a": 1, "b": 2, "steps": 5}, 400, "frame must be from 0 to 4, got 5"),
    ("get", "/api/map", {"color_by": "colour"}, 400, "color_by must be none, label, time or cluster:RUN"),
    ("get", "/api/map", {"color_by": "time"}, 400, "have no time"),
    ("post", "/api/search", {"filename": "q.png"}, 422, "q.png: not an image"),
])
def test_errors_are_one_line(client, method, url, params, status, message):
    kwargs = {"content": b"not a picture"} if method == "post" else {}
    response = getattr(client, method)(url, params=params, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error
    if method == "post":
        assert error.startswith("q.png: ")  # the upload's name, not the temporary file's


@pytest.mark.parametrize("flag, value, message", [
    ("--query-timeout", "0", "--query-timeout must be > 0 seconds, got 0"),
    ("--max-upload", "-1", "--max-upload must be > 0 MB, got -1"),
    ("--query-memory", "0", "--query-memory must be > 0 MB, got 0"),
])
def test_serve_refuses_limits_that_are_not_positive(cli, error_line, atlas_copy, flag, value, message):
    assert message in error_line(cli("serve", "--atlas", atlas_copy, flag, value), 2)


def test_a_stored_file_changed_since_is_named(client):
    uri = client.get("/api/search", params={"id": 5, "k": 1}).json()["results"][0]["uri"]
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(uri)
    response = client.get("/api/images/5.png")
    assert response.status_code == 422 and "changed since it was embedded" in response.json()["error"]


FORECAST = {"time": "2019-09-21 06:00", "lead": "1h,3h", "k": 5}


@pytest.fixture
def radar_client(grib_radar_atlas):
    # a patient timeout: the first forecast of a process imports pySTEPS and compiles scoringrules' kernels, which on
    # the shared cores of a test run can take longer than the default 10 s
    with TestClient(create_app(grib_radar_atlas, query_timeout=120)) as client:
        yield client


def test_the_forecast_view_is_json_with_its_maps_made_once_for_the_png_too(radar_client, monkeypatch):
    made = []
    original = Atlas.forecast
    monkeypatch.setattr(Atlas, "forecast", lambda self, *a, **kw: made.append(kw) or original(self, *a, **kw))
    data = radar_client.get("/api/forecast", params=FORECAST).json()
    assert data["time"] == "2019-09-21T06:00:00" and len(data["analogues"]) == 5
    assert [lead["lead"] for lead in data["leads"]] == ["1h", "3h"]
    for lead in data["leads"]:  # the members' mean, spread and exceedance, the reference and the blend, with the truth
        assert {"mean", "spread", "exceedance", "references", "blend", "truth"} <= set(lead)
        assert lead["references"]["extrapolation"]["crps"] >= 0 and 0 <= lead["blend"]["weight"] <= 1
        assert set(lead["exceedance"]) == {"20", "35"}
    assert data["picture"].startswith("data:image/png;base64,")
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["picture"].split(",", 1)[1]))))
    assert picture.shape[1] > 1000 and picture.shape[0] > 300  # per lead: truth, mean, extrapolation, blend, spread, P
    png = _png(radar_client.get("/api/forecast.png", params=FORECAST))
    assert png.shape == picture.shape and len(made) == 1  # the picture of the same request is not forecast again
    by_id = radar_client.get("/api/forecast", params={"id": data["query_id"], "lead": "1h,3h", "k": 5}).json()
    assert by_id["time"] == data["time"] and by_id["leads"][0]["mean"] == data["leads"][0]["mean"]
    none = radar_client.get("/api/forecast", params={**FORECAST, "reference": "", "blend": False}).json()
    assert "references" not in none["leads"][0] and "blend" not in none["leads"][0]


def test_the_analogue_options_reach_the_search(radar_client):
    separated = radar_client.get("/api/search", params={"id": 30, "k": 4, "min_separation": "3h"}).json()
    times = sorted(np.datetime64(hit["time"]) for hit in separated["results"])
    assert len(times) == 4 and min(np.diff(times)) >= np.timedelta64(3, "h")
    assert separated["query"]["min_separation"] == "3:00:00"


def test_each_bad_analogue_option_gets_its_own_error(radar_client):
    for url in ("/api/search", "/api/forecast"):
        response = radar_client.get(url, params={"id": 30, "season_window": "2x", "region": "1,2", "trend": "3h"})
        assert response.status_code == 400
        data = response.json()
        assert data["parameters"] == ["season_window", "region"]
        assert [e["parameters"] for e in data["errors"]] == [["season_window"], ["region"]]
        assert data["errors"][0]["error"].startswith("season_window must be a duration")
        assert data["errors"][1]["error"].startswith("region must be LAT0,LAT1,LON0,LON1")
    every = radar_client.get("/api/forecast", params={"k": 99, "lead": "99h", "threshold": "x", "reference": "y",
                                                      "trend": "0h"}).json()  # each bad parameter named once
    assert [e["parameters"] for e in every["errors"]] == [["time", "id"], ["k"], ["lead"], ["threshold"], ["reference"],
                                                         ["trend"]]


@pytest.mark.parametrize("params, message, names", [
    ({"time": "2019-12-25 06:00"}, "no row at 2019-12-25 06:00", []),
    ({"id": 9999}, "unknown id 9999", ["id"]),
    ({"id": 2 ** 70}, "unknown id 1180591620717411303424: row ids are whole numbers", ["id"]),
    ({}, "give the hour to forecast from: a time or a row id", ["time", "id"]),
    ({"time": "2019-09-21 06:00", "id": 30}, "give the hour to forecast from", ["time", "id"]),
    ({**FORECAST, "k": 31}, "k must be from 1 to 30 members on this server, got 31", ["k"]),
    ({**FORECAST, "lead": "1h,2h,3h,4h,5h,6h,7h"}, "lead: at most 6 leads up to 24h", ["lead"]),
    ({**FORECAST, "lead": "48h"}, "lead: at most 6 leads up to 24h on this server, got '48h'", ["lead"]),
    ({**FORECAST, "lead": "1e400h"}, "lead must be a duration such as 1d", ["lead"]),
    ({**FORECAST, "lead": "9" * 40 + "h"}, "lead must be at most 999999999 days", ["lead"]),
    ({**FORECAST, "threshold": "nan"}, "threshold must be 1 to 4 finite numbers", ["threshold"]),
    ({**FORECAST, "threshold": "1,2,3,4,5"}, "threshold must be 1 to 4 finite numbers", ["threshold"]),
    ({**FORECAST, "reference": "magic"}, "reference must be some of extrapolation, steps, got 'magic'", ["reference"]),
    ({**FORECAST, "season_window": "9" * 400 + "d"}, "season_window must be at most 999999999 days", ["season_window"]),
    ({**FORECAST, "k": "many"}, "k: Input should be a valid integer", ["k"]),
    ({**FORECAST, "blend": "perhaps"}, "blend: Input should be a valid boolean", ["blend"]),
    ({"time": "2019-09-20 00:00", "lead": "1h"}, "reference needs the 3 fields up to 2019-09-20 00:00", ["reference"]),
])
def test_forecast_errors_are_one_line_naming_their_parameter(radar_client, params, message, names):
    response = radar_client.get("/api/forecast", params=params)
    assert response.status_code == 400
    data = response.json()
    assert message in data["error"] and "\n" not in data["error"] and data["parameters"] == names


def test_a_forecast_on_an_atlas_of_images_is_refused_in_one_line(client):
    response = client.get("/api/forecast", params={"id": 3})
    assert response.status_code == 400
    assert response.json()["error"] == ("a forecast needs an atlas of fields with times (radar, GRIB2, NetCDF); "
                                        "this atlas holds images, not fields")


def test_fields_of_a_georeferenced_atlas_are_small_maps_in_dbz_colours(radar_client):
    from latentatlas.pictures.grids import field_colours

    stored, decoded = _png(radar_client.get("/api/images/30.png")), _png(radar_client.get("/api/decoded/30.png"))
    assert stored.shape[1] == 240 and stored.shape == decoded.shape  # not the 32x56 grid: a map
    outline = np.all(stored == [0x22, 0x22, 0x22], axis=-1)  # coastlines and borders
    assert outline.sum() > 100
    cmap, span = field_colours("reflectivity", (0, 60))
    echo = np.round(np.asarray(cmap(0.5)[:3]) * 255)  # 30 dBZ
    assert np.all(np.abs(stored.astype(int) - echo.astype(int)) <= 1, axis=-1).any()


def test_forecasts_run_on_their_own_few_threads_and_hold_up_no_other_request(grib_radar_atlas, monkeypatch):
    import os
    import threading
    import time

    from latentatlas.errors import UsageError

    running, most, release = [0], [0], threading.Event()
    lock = threading.Lock()

    def slow(self, *args, **kwargs):  # stands for a long forecast: waits until told
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(20)
        with lock:
            running[0] -= 1
        raise UsageError("stopped by the test")

    monkeypatch.setattr(Atlas, "forecast", slow)

    with TestClient(create_app(grib_radar_atlas, query_timeout=30)) as client:
        answers = []
        asking = [threading.Thread(target=lambda n=n: answers.append(client.get("/api/forecast", params={
            **FORECAST, "lead": f"{n + 1}h"}))) for n in range(4)]
        for thread in asking:
            thread.start()
        for _ in range(100):
            if running[0]:
                break
            time.sleep(0.05)
        started = time.perf_counter()
        assert client.get("/api/info").status_code == 200 and time.perf_counter() - started < 5  # not held up
        assert client.get("/api/search", params={"id": 30, "k": 2}).status_code == 200
        release.set()
        for thread in asking:
            thread.join(60)
    assert [a.status_code for a in answers] == [400] * 4
    assert most[0] == min(4, max(1, (os.cpu_count() or 1) // 2))  # the others waited their turn
