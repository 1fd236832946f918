"""End to end: projections to pictures and Parquet coordinates, and their refusals."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("method, dims", [("pca", 2), ("pca", 3), ("lda", 2), ("tsne", 2)])
def test_project_writes_a_picture_and_coordinates(cli, digits_atlas, tmp_path, method, dims):
    out = tmp_path / f"{method}.png"
    result = _json(cli("project", "--atlas", digits_atlas, "--method", method, "--dims", dims, "--out", out,
                       "--coords", tmp_path / f"{method}.parquet", "--json"))
    assert result["rows"] == 300 and result["dims"] == dims and result["color_by"] == "label"
    assert Image.open(out).format == "PNG"
    table = pq.read_table(tmp_path / f"{method}.parquet")
    assert table.column_names == ["id", "x", "y", "z"][:dims + 1] + ["label", "time"]
    assert table.num_rows == 300 and sorted(set(table.column("label").to_pylist())) == [str(d) for d in range(10)]
    assert np.isfinite(np.column_stack([table.column(c).to_numpy() for c in "xyz"[:dims]])).all()


def test_a_large_atlas_is_projected_from_a_sample_spread_over_its_rows(cli, digits_atlas, tmp_path):
    result = _json(cli("project", "--atlas", digits_atlas, "--max-rows", "50", "--where", "label <> '0'",
                       "--out", tmp_path / "p.png", "--coords", tmp_path / "p.parquet", "--json"))
    assert result["rows"] == 50 and result["matched"] == 270
    ids = pq.read_table(tmp_path / "p.parquet").column("id").to_numpy()
    assert len(ids) == 50 and ids.max() - ids.min() > 250  # spread over the ids, not the first 50


def test_colour_by_a_cluster_run_with_thumbnails(cli, atlas_copy, tmp_path):
    _json(cli("cluster", "--atlas", atlas_copy, "-k", "3", "--name", "three", "--where", "label IN ('1', '2', '3')", "--json"))
    result = _json(cli("project", "--atlas", atlas_copy, "--method", "tsne", "--color-by", "cluster:three", "--thumbnails",
                       "--max-thumbnails", "20", "--out", tmp_path / "t.png", "--coords", tmp_path / "xy.parquet", "--json"))
    assert result["color_by"] == "cluster:three" and result["failures"] == []
    clusters = pq.read_table(tmp_path / "xy.parquet").column("cluster").to_pylist()
    assert sum(c is not None for c in clusters) == 90 and set(clusters) == {0, 1, 2, None}


def test_lda_refuses_rows_without_labels(cli, atlas_copy, tmp_path):
    with duckdb.connect(str(atlas_copy / "atlas.duckdb")) as con:
        con.execute("UPDATE images SET label = NULL")
    result = cli("project", "--atlas", atlas_copy, "--method", "lda", "--out", tmp_path / "p.png")
    assert result.exit_code == 2 and "LDA needs labels" in result.stderr
    unlabelled = _json(cli("project", "--atlas", atlas_copy, "--out", tmp_path / "p.png", "--json"))
    assert unlabelled["color_by"] == "none" and unlabelled["coordinates"] is None
    assert sorted(p.name for p in tmp_path.iterdir() if p != atlas_copy) == ["p.png"]  # nothing written unasked


@pytest.mark.parametrize("args, message", [
    (["--method", "mds"], "method must be one of pca, tsne, umap, lda"),
    (["--dims", "4"], "dims must be 2 or 3, got 4"),
    (["--color-by", "colour"], "--color-by must be one of label, cluster:RUN, time, none"),
    (["--color-by", "cluster:nope"], "no cluster run named 'nope'"),
    (["--color-by", "time"], "--color-by time: the rows of"),
    (["--thumbnails", "--dims", "3"], "thumbnails are drawn on 2-D pictures only"),
    (["--where", "label = 'x'"], "no embedded rows match the --where predicate"),
])
def test_usage_errors_are_one_line(cli, digits_atlas, tmp_path, args, message):
    result = cli("project", "--atlas", digits_atlas, "--out", tmp_path / "p.png", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
