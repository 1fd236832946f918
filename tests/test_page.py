"""The web page in a real headless Chromium: searches, runs, interpolation, the map, errors beside their fields, a click."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.responses import HTMLResponse  # noqa: E402

from latentatlas.server import create_app  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# In CI (.ci/run installs Debian's chromium) the browser tests must run: they fail rather than skip there.
pytestmark = pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI", "").lower() not in ("1", "true"),
                                reason="no chromium on this machine")

# A page beside the app's (same origin) that opens it in a frame, clicks a point of its map once it is drawn,
# and writes what followed: where the window scrolled, the address, the marks.
CLICK_PROBE = """<!doctype html><html><body>
<iframe id="page" src="/?k=3" style="width: 900px; height: 500px"></iframe><pre id="out"></pre>
<script>
const frame = document.getElementById("page");
const wait = (ready, then) => ready() ? then() : setTimeout(() => wait(ready, then), 50);
frame.addEventListener("load", () => {
  const doc = frame.contentDocument, win = frame.contentWindow;
  wait(() => doc.querySelectorAll("#map .point").length > 0, () => {
    win.scrollTo(0, doc.body.scrollHeight);
    const before = win.scrollY, point = doc.querySelector('#map .point[data-id="42"]');
    point.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    wait(() => doc.querySelectorAll(".card.hit").length > 0, () => {
      document.getElementById("out").textContent = JSON.stringify({
        before, after: win.scrollY, heading: doc.querySelector("#search-heading").getBoundingClientRect().top,
        address: win.location.search, highlighted: doc.querySelector("#results").classList.contains("highlight"),
        chosen: point.classList.contains("chosen"), query: doc.querySelector(".card.query div").textContent});
    });
  });
});
</script></body></html>"""


@contextmanager
def browser(atlas, tmp_path, **limits):
    """``dom(path)``: the page at ``path`` of a server on ``atlas`` (``limits`` of :func:`create_app`), as headless
    Chromium leaves it."""
    assert CHROMIUM is not None, "CI=true but no chromium on PATH (.ci/run installs Debian's chromium as root)"
    import uvicorn

    app = create_app(atlas, **limits)
    app.add_api_route("/probe", lambda: HTMLResponse(CLICK_PROBE), include_in_schema=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def dom(path: str) -> str:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000", "--dump-dom",
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=120, check=True).stdout

    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        yield dom
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _beside(dom: str, field: str) -> str:
    """The error shown in the label of the form field named ``field``."""
    found = re.search(rf'name="{field}"(?:(?!</label>).)*?<span class="field-error">([^<]*)</span>', dom, re.S)
    assert found, f"no error beside {field}"
    return found[1]


def test_the_page_searches_in_a_real_browser(served, tmp_path):
    with browser(served, tmp_path) as dom:
        page = dom("/?id=17&k=4&run=k3&a=3&b=40&steps=5")
    assert "300 of 300 rows embedded, 16 numbers per code, 10 labels" in page
    assert page.count('class="card hit"') == 4 and page.index('data-id="17"') < page.index('class="card hit"', page.index('data-id="17"'))
    assert 'class="card query"' in page and "query: #17" in page  # the query beside its results
    assert '<option value="k3">k3</option>' in page
    assert page.count('src="/api/clusters/k3/') == 3 and "cluster 2 · " in page
    assert page.count('class="card frame"') == 5 and 'src="/api/interpolate/4.png?a=3&amp;b=40&amp;steps=5"' in page
    assert page.count('class="point"') == 300 and page.count("<i style=") == 10  # the map: a point per row, a key per label
    assert "All 300 codes, on their first two principal components." in page
    assert 'placeholder="no times in this atlas"' in page and "placeholder=\"label " in page  # examples the atlas has
    assert '<div id="legend" hidden=""></div>' in page  # no dBZ legend for digits
    assert '<p id="error" role="alert"></p>' in page and 'class="field-error"' not in page  # nothing went wrong


def test_each_bad_parameter_is_shown_beside_its_field_and_the_rest_works(served, tmp_path):
    with browser(served, tmp_path) as dom:
        bad = dom("/?run=bogus&id=5&a=3&b=40&steps=50&color_by=month")
        unknown_id = dom("/?id=99999")
        bad_where = dom("/?id=5&where=lable%3D1")
        nothing = dom("/?id=5&where=label%3D'x'")
    assert "no cluster run named 'bogus'" in _beside(bad, "run") and '<option value="k3">k3</option>' in bad
    assert bad.count('class="card hit"') == 10  # the search still runs
    assert "steps" in _beside(bad, "steps") and 'class="card frame"' not in bad  # no broken cards
    assert _beside(bad, "color_by") == "color_by must be none, label, time or cluster:RUN, got 'month'"
    assert bad.count('class="point"') == 300  # the map still drawn, coloured by default
    assert "unknown id 99999" in _beside(unknown_id, "id") and unknown_id.count('class="point"') == 300
    assert "(the columns of images: id, uri, sha256, time, label," in _beside(bad_where, "where")
    assert "No stored row matches where label='x'." in nothing and 'class="card hit"' not in nothing


def test_a_click_on_the_map_scrolls_to_the_marked_results_and_updates_the_address(served, tmp_path):
    with browser(served, tmp_path) as dom:
        page = dom("/probe")
    found = json.loads(re.search(r'<pre id="out">([^<]*)</pre>', page)[1].replace("&amp;", "&"))
    assert found["after"] < found["before"] and abs(found["heading"]) <= 1  # the results' heading at the top
    assert found["address"] == "?k=3&id=42" and found["query"] == "query: #42"
    assert found["highlighted"] and found["chosen"]


def test_the_forecast_view_draws_its_maps_and_the_search_takes_the_analogue_options(grib_radar_atlas, tmp_path):
    with browser(grib_radar_atlas, tmp_path, query_timeout=120) as dom:  # a machine shared by the tests: be patient
        page = dom("/?id=30&k=4&min_separation=3h&forecast=2019-09-21%2006:00&lead=1h,3h&members=5")
        bad = dom("/?id=30&season_window=2x&region=1,2&forecast=2019-09-21%2006:00&lead=48h&color_by=time")
    # the search with its analogue options: four hits at least 3 h apart, their times in UTC
    hits = re.findall(r'class="card hit" data-id="\d+"><img src="/api/images/\d+\.png"[^>]*><div>[^<]*</div>'
                      r'<div class="faint">(\d{4}-\d\d-\d\d \d\d:\d\d) UTC</div>', page)
    times = sorted(np.datetime64(time.replace(" ", "T")) for time in hits)
    assert len(times) == 4 and min(np.diff(times)) >= np.timedelta64(3, "h")
    # the forecast view: its table per lead, the maps drawn (the picture decoded), the analogues as cards
    maps = re.search(r'<img id="forecast-maps"[^>]*>', page)[0]
    assert 'class="field-error"' not in page and 'class="form-error"' not in page, page
    assert 'src="data:image/png;base64,' in maps and "hidden" not in maps
    assert int(re.search(r'data-width="(\d+)"', maps)[1]) > 1000
    assert "CRPS extrapolation" in page and "blend weight" in page and page.count("<td>+") == 2
    assert "From 2019-09-21 06:00 UTC (row #30): 5 analogues as members, beside extrapolation, and their blend." in page
    assert page.count('<div>analogue ') == 5 and '<div>analogue 1: #' in page
    assert '<p id="error" role="alert"></p>' in page and 'class="field-error"' not in page
    # each bad parameter beside its own field, once though the search and the forecast both use the options;
    # the map still drawn
    assert _beside(bad, "season_window").startswith("season_window must be a duration")
    assert _beside(bad, "region").startswith("region must be LAT0,LAT1,LON0,LON1")
    assert _beside(bad, "lead") == "lead: at most 6 leads up to 24h on this server, got '48h'"
    assert bad.count("season_window must be") == 1 and bad.count('class="field-error"') == 3
    assert 'class="card hit"' not in bad and 'id="forecast-maps" alt="forecast maps" hidden' in bad
    assert bad.count('class="point"') == 48 and "UTC" in bad.split('id="map-key"')[1]


def test_an_atlas_of_images_has_no_forecast_view(served, tmp_path):
    with browser(served, tmp_path) as dom:
        page = dom("/")
    assert '<section id="forecast" hidden="">' in page and '<form id="analogue-form" class="options" hidden="">' in page
