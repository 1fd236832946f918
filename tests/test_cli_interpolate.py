"""End to end through the CLI: interpolate and evaluate interpolation."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from latentatlas.ops.evaluate.interpolation import JSON_KEYS
from latentatlas.sources import read_image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_interpolate_ids_and_images(cli, digits_atlas, digits_dir, tmp_path):
    by_ids = _json(cli("interpolate", "--atlas", digits_atlas, "--ids", "3", "40", "--steps", "4",
                       "--out", tmp_path / "strip.png", "--json"))
    assert by_ids["a"] == {"id": 3} and by_ids["b"] == {"id": 40} and by_ids["steps"] == 4
    assert by_ids["distance"] > 0 and abs(by_ids["squared_distance"] - by_ids["distance"] ** 2) < 1e-9
    assert read_image(tmp_path / "strip.png").ndim == 3
    a, b = sorted((digits_dir / "1").glob("*.png"))[:2]
    text = cli("interpolate", "--atlas", digits_atlas, a, b, "--spherical", "--out", tmp_path / "s.png")
    assert text.exit_code == 0 and "spherical path" in text.stdout
    for args, message in [([a], "give two image files or --ids A B (got 1 image(s))"),
                          ([a, b, "--ids", "1", "2"], "give either --ids A B or two image files, not both"),
                          (["--ids", "1", "2", "--steps", "1"], "--steps must be >= 2")]:
        result = cli("interpolate", "--atlas", digits_atlas, "--out", tmp_path / "x.png", *args)
        assert result.exit_code == 2 and result.stderr.startswith(f"Error: {message}") and result.stderr.count("\n") == 1


def test_evaluate_interpolation(cli, moving_atlas, digits_atlas, tmp_path):
    result = _json(cli("evaluate", "interpolation", "--atlas", moving_atlas, "--step", "1h",
                       "--out", tmp_path / "t.parquet", "--json"))
    assert list(result) == list(JSON_KEYS) and result["triples"] == 31
    assert result["ratio"] == result["code_sqdist_interp"] / result["code_sqdist_step"] and result["ratio"] < 0.1
    assert pq.read_table(tmp_path / "t.parquet").num_rows == 31
    text = cli("evaluate", "interpolation", "--atlas", moving_atlas, "--where", "time < '2024-06-01 10:00'")
    assert text.exit_code == 0 and text.stdout.startswith("5 triples")  # hours 1-5: 6-8 touch the gap at 7
    no_times = cli("evaluate", "interpolation", "--atlas", digits_atlas)
    assert no_times.exit_code == 2 and "no rows with a time" in no_times.stderr
    bad = cli("evaluate", "interpolation", "--atlas", moving_atlas, "--step", "soon")
    assert bad.exit_code == 2 and "--step must be a duration" in bad.stderr
