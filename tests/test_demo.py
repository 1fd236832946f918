"""The demos end to end on small configurations: photos (one-second training budget) and the weather study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from latentatlas.sources import read_image


def test_photos_demo_writes_a_report_with_pictures(cli, tmp_path):
    atlas = tmp_path / "demo.atlas"
    result = cli("demo", "photos", "--atlas", atlas, "--time-budget", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] > 500 and summary["psnr_val"] > 15.0
    html = (atlas / "report.html").read_text()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', html)) == 3
    for heading in ("Training", "Originals and reconstructions", "Search"):
        assert heading in html
    info = json.loads(cli("info", "--atlas", atlas, "--json").stdout)
    assert info["embedded"] == summary["images"]
    assert read_image(next((atlas / "samples" / "photos").glob("*.png"))).shape == (64, 64, 3)


def test_weather_demo_runs_the_study_end_to_end_and_writes_every_section(cli, tmp_path):
    atlas = tmp_path / "wx.atlas"
    result = cli("demo", "weather", "--atlas", atlas, "--days", "3", "--grid", "16x28", "--time-budget", "1", "--json")
    assert result.exit_code == 0, result.output
    study = json.loads(result.stdout)
    assert study["fields"] == 72 and study["settings"]["start"] == "2019-09-19T00:00:00"
    assert len(list((atlas / "samples" / "radar").glob("refc_*.grib2"))) == 72  # read through the GRIB reader
    nearest, analogues = study["nearest"], study["analogues"]
    assert nearest[0] == {**nearest[0], "time": "2019-09-20T05:00:00", "hours": 0.0, "distance": 0.0}
    assert {hit["hours"] for hit in nearest[1:3]} == {-1.0, 1.0}
    assert len(analogues) == 5 and all(abs(hit["hours"]) > 24 for hit in analogues)
    figures = study["interpolation"]
    assert figures["triples"] == 70 and figures["ratio"] < 0.5 and figures["unreadable"] == 0
    assert figures["psnr_interp"] > 10 and figures["psnr_pixel_blend"] > 20  # one second of training on 9 fields
    assert study["clusters"]["k"] == 5 and sum(study["clusters"]["sizes"]) == 72
    assert all(abs(sum(shares.values()) - 1) < 1e-9 for shares in study["clusters"]["regimes"])
    html = (atlas / "report.html").read_text()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', html)) == 8
    for heading in ("Training", "Original and decoded fields, beside PCA", "Nearest hours of 2019-09-20 05:00",
                    "Analogues, leaving out one day either side", "Interpolation", "k-means++ centroids",
                    "What followed: the analogue forecast from 2019-09-20 05:00 UTC",
                    "Verification of the analogue forecasts of a held-out month"):
        assert heading in html
    assert sorted(Path(p).name for p in study["pictures"].values()) == [
        "analogues.png", "centroids.png", "forecast.png", "interpolation.png", "nearest.png", "reconstructions.png",
        "verification.png"]
    forecast, verification = study["forecast"], study["verification"]
    assert [lead["truth"]["time"] for lead in forecast["leads"]] == ["2019-09-20T06:00:00", "2019-09-20T11:00:00"]
    assert verification["settings"]["test"] == ["2019-09-21T00:00:00", "2019-09-22T00:00:00"]
    assert len(forecast["analogues"]) >= 1 and forecast["settings"]["min_separation"].startswith("2 days")
    assert verification["hours"] > 0 and [lead["lead"] for lead in verification["leads"]] == ["1h", "6h"]
    assert all(lead["crps_extrapolation"] is not None and lead["blend_weight"] is not None for lead in verification["leads"])
    assert "blend" in forecast["leads"][0] and "extrapolation" in forecast["leads"][0]["references"]
    assert json.loads((atlas / "samples" / "radar" / "export.json").read_text()) == {
        "days": 3, "grid": [16, 28], "start": "2019-09-19T00:00:00", "seed": 0}  # a later run with these reuses them
    assert study["training"]["fields"] == 15  # one hour in five
    assert study["training"]["objective"] == "predict:5h"  # auto: 3 h rounded up to the training hours' step
    spaces = verification["spaces"]  # the analogues found in each space, on the same hours and k
    assert set(spaces["crps"]) == {"codes", "pca", "pixels"} and spaces["leads"] == ["1h", "6h"]
    assert all(value > 0 for by_lead in spaces["crps"].values() for value in by_lead.values())
    against = study["against_pca"]                # the other 57 hours, scored beside PCA fitted on the 15
    assert against["hours"] == 57 and against["gain_db"] == pytest.approx(against["ours_psnr"] - against["pca_psnr"],
                                                                           abs=0.02)
    assert 10 < against["pca_psnr"] < 60 and "PSNR of PCA of the same size" in html


def test_weather_demo_refuses_settings_it_cannot_use(cli, tmp_path):
    for args, message in ((["--days", "2"], "days must be >= 3"), (["--time", "2019-09-20 05:30"], "on the hour"),
                          (["--grid", "16by28"], "--grid must be HxW")):
        result = cli("demo", "weather", "--atlas", tmp_path / "x.atlas", *args)
        assert result.exit_code == 2 and result.stderr.startswith("Error: ") and message in result.stderr
