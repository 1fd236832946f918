"""End to end: cluster runs stored under names, pictures, -k auto, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentatlas import Atlas
from latentatlas.store.clusters import load_run


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cluster_stores_a_run_with_pictures(cli, atlas_copy, tmp_path):
    report = _json(cli("cluster", "--atlas", atlas_copy, "-k", "10", "--out", tmp_path / "pics", "--json"))
    assert {"run", "k", "sizes", "inertia", "silhouette", "ari", "nmi"} <= set(report)
    assert report["run"] == "k10" and report["k"] == 10 and sum(report["sizes"]) == 300 == report["rows"]
    assert report["inertia"] > 0 and -1 <= report["silhouette"] <= 1
    assert 0.3 < report["ari"] <= 1 and 0.5 < report["nmi"] <= 1  # digits' codes cluster by digit, far above chance
    decoded = np.load(tmp_path / "pics" / "centroids.npy")
    assert decoded.shape == (10, 8, 8) and decoded.dtype == np.uint8  # the input's shape and units
    assert Image.open(tmp_path / "pics" / "centroids.png").size[0] > 100
    grids = sorted((tmp_path / "pics").glob("cluster_*.png"))
    assert [p.name for p in grids] == [f"cluster_{c}.png" for c in range(10)]
    stored = _json(cli("sql", "--atlas", atlas_copy, "--json",
                       "SELECT count(*) AS n, count(DISTINCT cluster) AS k, min(distance) >= 0 AS ok FROM clusters WHERE run = 'k10'"))
    assert stored["rows"] == [{"n": 300, "k": 10, "ok": True}]


def test_runs_under_new_names_leave_old_runs_alone(cli, atlas_copy):
    first = _json(cli("cluster", "--atlas", atlas_copy, "-k", "4", "--name", "coarse", "--json"))
    with Atlas.open(atlas_copy) as atlas:
        before = load_run(atlas.store, "coarse")
    assert first["run"] == "coarse" and (atlas_copy / "clusters" / "coarse" / "centroids.png").is_file()
    _json(cli("cluster", "--atlas", atlas_copy, "-k", "6", "--name", "fine", "--seed", "3", "--json"))
    again = _json(cli("cluster", "--atlas", atlas_copy, "-k", "4", "--json"))
    assert again["run"] == "k4"
    taken = cli("cluster", "--atlas", atlas_copy, "-k", "5", "--name", "coarse")
    assert taken.exit_code == 2 and "a cluster run named 'coarse' exists" in taken.stderr
    with Atlas.open(atlas_copy) as atlas:
        after = load_run(atlas.store, "coarse")
        assert np.array_equal(before.clusters, after.clusters) and np.array_equal(before.centroids, after.centroids)
        assert len(load_run(atlas.store, "fine").centroids) == 6
    replaced = _json(cli("cluster", "--atlas", atlas_copy, "-k", "5", "--name", "coarse", "--replace", "--json"))
    assert replaced["k"] == 5
    assert len(list((atlas_copy / "clusters" / "coarse").glob("cluster_*.png"))) == 5
    runs = _json(cli("sql", "--atlas", atlas_copy, "--json", "SELECT run, count(*) AS k FROM centroids GROUP BY run ORDER BY run"))
    assert runs["rows"] == [{"run": "coarse", "k": 5}, {"run": "fine", "k": 6}, {"run": "k4", "k": 4}]


def test_the_same_seed_gives_the_same_run_with_either_engine(cli, atlas_copy):
    a = _json(cli("cluster", "--atlas", atlas_copy, "-k", "8", "--name", "a", "--seed", "7", "--json"))
    b = _json(cli("cluster", "--atlas", atlas_copy, "-k", "8", "--name", "b", "--seed", "7", "--json"))
    c = _json(cli("cluster", "--atlas", atlas_copy, "-k", "8", "--name", "c", "--engine", "sklearn", "--json"))
    assert a["sizes"] == b["sizes"] and a["inertia"] == b["inertia"]
    assert c["inertia"] == pytest.approx(a["inertia"], rel=0.1)
    same = _json(cli("sql", "--atlas", atlas_copy, "--json",
                     "SELECT count(*) AS n FROM clusters x JOIN clusters y USING (id) WHERE x.run = 'a' AND y.run = 'b' AND x.cluster = y.cluster"))
    assert same["rows"] == [{"n": 300}]


def test_seeding_on_a_sample_still_finds_the_digits(cli, atlas_copy):
    report = _json(cli("cluster", "--atlas", atlas_copy, "-k", "10", "--init-size", "100", "--json"))
    assert sum(report["sizes"]) == 300 and report["ari"] > 0.3
    stored = _json(cli("sql", "--atlas", atlas_copy, "--json", "SELECT value FROM settings WHERE key = 'cluster_run:k10'"))
    assert json.loads(stored["rows"][0]["value"])["init_size"] == 100
    every = _json(cli("cluster", "--atlas", atlas_copy, "-k", "10", "--init-size", "all", "--name", "every", "--json"))
    assert sum(every["sizes"]) == 300
    stored = _json(cli("sql", "--atlas", atlas_copy, "--json", "SELECT value FROM settings WHERE key = 'cluster_run:every'"))
    assert json.loads(stored["rows"][0]["value"])["init_size"] == "all"


def test_k_auto_picks_by_silhouette_and_shows_the_curve(cli, atlas_copy):
    report = _json(cli("cluster", "--atlas", atlas_copy, "-k", "auto", "--k-range", "2:5", "--restarts", "1", "--json"))
    assert [p["k"] for p in report["curve"]] == [2, 3, 4, 5]
    best = max(report["curve"], key=lambda p: p["silhouette"])
    assert report["k"] == best["k"] and report["silhouette"] == pytest.approx(best["silhouette"])
    assert (atlas_copy / "clusters" / report["run"] / "silhouette.png").is_file()
    shown = cli("cluster", "--atlas", atlas_copy, "-k", "auto", "--k-range", "2:3", "--restarts", "1")
    assert shown.exit_code == 0 and "mean silhouette per k" in shown.stdout and "Run 'k" in shown.stdout


def test_where_clusters_a_subset(cli, atlas_copy):
    report = _json(cli("cluster", "--atlas", atlas_copy, "-k", "2", "--where", "label IN ('0', '1')", "--json"))
    assert report["rows"] == 60 and report["ari"] > 0.8
    ids = _json(cli("sql", "--atlas", atlas_copy, "--json",
                    "SELECT DISTINCT i.label FROM clusters c JOIN images i USING (id) ORDER BY 1"))
    assert ids["rows"] == [{"label": "0"}, {"label": "1"}]


@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "k must be >= 1 or 'auto', got 0"),
    (["-k", "many"], "-k must be a number or 'auto', got 'many'"),
    (["-k", "400"], "300 embedded rows; k-means into 400 clusters needs at least that many"),
    (["-k", "3", "--where", "label = 'x'"], "0 embedded rows match the --where predicate"),
    (["-k", "auto", "--k-range", "5"], "--k-range must be LOW:HIGH"),
    (["-k", "auto", "--k-range", "1:4"], "2 <= LOW <= HIGH, got 1:4"),
    (["-k", "3", "--engine", "gpu"], "engine must be one of faiss, sklearn"),
    (["-k", "3", "--restarts", "0"], "restarts must be >= 1"),
    (["-k", "3", "--init-size", "0"], "init-size must be 'auto', 'all' or an integer >= 1, got 0"),
    (["-k", "3", "--init-size", "most"], "--init-size must be auto, all or a number, got 'most'"),
])
def test_usage_errors_are_one_line(cli, atlas_copy, args, message):
    result = cli("cluster", "--atlas", atlas_copy, *args)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
