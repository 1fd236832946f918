"""End to end: `evaluate space`, its table of representations, and the Python face."""

from __future__ import annotations

import json

import pytest

from latentatlas import Atlas
from latentatlas.store.clusters import load_run

ROW_KEYS = {"representation", "precision", "recall", "f1", "knn_accuracy", "top5_agreement", "map_at_10"}


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_evaluate_space_has_every_row(cli, digits_atlas):
    report = _json(cli("evaluate", "space", "--atlas", digits_atlas, "--json"))
    assert set(report) == {"rows", "per_class"}
    assert [r["representation"] for r in report["rows"]] == ["raw", "pca", "lda2", "lda", "codes", "codes_lda"]
    assert all(set(row) == ROW_KEYS for row in report["rows"])
    assert all(0.0 <= row[k] <= 1.0 for row in report["rows"] for k in ROW_KEYS - {"representation"})
    dims = {name: entry["dims"] for name, entry in report["per_class"].items()}
    assert dims == {"raw": 64, "pca": 16, "lda2": 2, "lda": 9, "codes": 16, "codes_lda": 9}
    codes = report["per_class"]["codes"]
    assert codes["classes"] == [str(d) for d in range(10)] and sum(codes["support"]) == 90  # 30 % of 300 held out
    assert len(codes["confusion"]) == 10 and sum(map(sum, codes["confusion"])) == 90
    rows = {r["representation"]: r for r in report["rows"]}
    assert rows["codes"]["precision"] > 0.5 and rows["raw"]["knn_accuracy"] > 0.5  # ten classes: chance is 0.1
    table = cli("evaluate", "space", "--atlas", digits_atlas)
    assert table.exit_code == 0 and "codes_lda" in table.stdout and "mAP@10" in table.stdout and "top-5" in table.stdout


def test_two_classes_give_one_lda_dimension(cli, digits_atlas):
    report = _json(cli("evaluate", "space", "--atlas", digits_atlas, "--where", "label IN ('0', '1')", "--json"))
    assert report["per_class"]["lda2"]["dims"] == 1 and report["per_class"]["codes"]["classes"] == ["0", "1"]


@pytest.mark.parametrize("args, message", [
    (["--label-column", "nosuch"], "--label-column 'nosuch' is not usable"),
    (["--where", "label = '3'"], "at least 2 classes, found 1"),
    (["--test-fraction", "1.5"], "--test-fraction must be between 0 and 1"),
    (["--knn", "0"], "knn must be >= 1"),
])
def test_usage_errors_are_one_line(cli, digits_atlas, args, message):
    result = cli("evaluate", "space", "--atlas", digits_atlas, *args)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1


def test_python_api(atlas_copy, tmp_path):
    with Atlas.open(atlas_copy) as atlas:
        report = atlas.cluster(k=3, name="api", where="label IN ('4', '7')", out=tmp_path / "c")
        assert report.k == 3 and report.rows == 60 and (tmp_path / "c" / "centroids.png").is_file()
        assert load_run(atlas.store, "api").info["where"] == "label IN ('4', '7')"
        projected = atlas.project("pca", tmp_path / "p.png", dims=3, color_by="cluster:api",
                                  coordinates=tmp_path / "p.parquet")
        assert projected.coords.shape == (300, 3) and projected.coordinates.suffix == ".parquet"
        scores = atlas.evaluate_space(where="label IN ('4', '7', '9')", knn=3)
        assert [r["representation"] for r in scores.to_dict()["rows"]][-1] == "codes_lda"
        with pytest.raises(ValueError, match="unknown option.*clusters"):
            atlas.cluster(k=3, clusters=4)
