"""Analogue forecasts on a tiny radar atlas: members are the stored fields that followed the analogues, in dBZ."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pyarrow.parquet as pq

from latentatlas import Atlas

START = datetime(2019, 1, 1)


def test_the_members_are_the_fields_that_followed_the_analogues(radar_atlas, radar_npy):
    fields = np.clip(np.load(radar_npy), 0, 60)
    with Atlas.open(radar_atlas, read_only=True) as atlas:
        result = atlas.forecast("2019-01-02 05:00", leads="1h,3h", k=6, min_separation="3h", thresholds=(20,))
    query_hour = 29
    hours = [int((t.astype("datetime64[h]") - np.datetime64(START, "h")).astype(int)) for t in result.analogues.times]
    assert len(hours) == 6 and all(abs(h - query_hour) > 3 for h in hours)  # never within the longest lead
    assert all(h + 3 < 48 for h in hours)  # followed by a stored field at every lead
    assert min(abs(a - b) for a in hours for b in hours if a != b) >= 3
    for lead, step in zip(result.leads, (1, 3)):
        expected = fields[[h + step for h in hours]]
        np.testing.assert_allclose(lead.members, expected, atol=0.02)
        np.testing.assert_allclose(lead.truth, fields[query_hour + step], atol=0.02)
        np.testing.assert_allclose(lead.mean, expected.mean(0), atol=0.02)
        np.testing.assert_allclose(lead.probabilities[20.0], (expected > 20).mean(0), atol=1e-6)
    data = result.to_dict()
    assert data["leads"][1]["truth"]["time"] == "2019-01-02T08:00:00"
    assert [m["time"] for m in data["leads"][0]["members"]] == [
        (START + timedelta(hours=h + 1)).isoformat() for h in hours]


def test_forecast_on_the_command_line_writes_members_and_pictures(cli, radar_atlas, tmp_path):
    result = cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-01 20:00", "--lead", "1h,6h", "-k", 4,
                 "--season-window", "30d", "--threshold", "15,30", "--out", tmp_path / "fc", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [lead["lead"] for lead in data["leads"]] == ["1h", "6h"] and len(data["analogues"]) == 4
    assert set(data["leads"][0]["exceedance"]) == {"15", "30"} and data["leads"][1]["truth"]["crps"] >= 0
    members = pq.read_table(tmp_path / "fc" / "members.parquet").to_pydict()
    assert len(members["id"]) == 8 and set(members["lead_hours"]) == {1.0, 6.0}
    assert len(members["values"][0]) == members["height"][0] * members["width"][0] == 32 * 56
    assert (tmp_path / "fc" / "forecast.png").stat().st_size > 1000
    text = cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-01 20:00", "--lead", "2h", "-k", 3)
    assert text.exit_code == 0 and "CRPS" in text.stdout


def test_forecast_refuses_bad_leads_and_hours_without_analogues(cli, error_line, radar_atlas):
    line = error_line(cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-01 20:00", "--lead", "soon"), 2)
    assert "--lead must be a duration" in line
    line = error_line(cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-01 20:00", "--lead", "30h"), 2)
    assert "no stored row qualifies as an analogue" in line


def test_the_nowcast_references_stand_beside_the_analogues(cli, error_line, radar_atlas, radar_npy, tmp_path):
    from latentatlas.analogues.references import nowcast

    fields = np.clip(np.load(radar_npy), 0, 60)
    with Atlas.open(radar_atlas, read_only=True) as atlas:
        result = atlas.forecast("2019-01-02 05:00", leads="1h,3h", k=4, references="extrapolation,steps", blend=True)
    expected = nowcast("extrapolation", fields[27:30], [1, 3])
    for n, lead in enumerate(result.leads):
        assert lead.references["steps"].shape == (4, 32, 56)
        np.testing.assert_allclose(lead.references["extrapolation"], expected[:, n], atol=0.05)
    data = result.to_dict()
    assert data["settings"]["references"] == ["extrapolation", "steps"]
    for lead, summary in zip(result.leads, data["leads"]):
        weight, blended = summary["blend"]["weight"], summary["blend"]["crps"]
        assert 0 <= weight <= 1
        np.testing.assert_allclose(lead.blend_mean(), weight * lead.references["extrapolation"][0]
                                   + (1 - weight) * lead.mean, atol=1e-9)
        assert blended <= weight * summary["references"]["extrapolation"]["crps"] + (1 - weight) * summary["truth"]["crps"] + 1e-9
    assert data["leads"][0]["references"]["extrapolation"]["crps"] == data["leads"][0]["references"]["extrapolation"]["mae_of_mean"]
    text = cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-02 05:00", "--lead", "1h", "-k", 3,
               "--reference", "extrapolation", "--out", tmp_path / "fc")
    assert text.exit_code == 0 and "extrap" in text.stdout, text.stdout
    assert (tmp_path / "fc" / "forecast.png").stat().st_size > 1000
    line = error_line(cli("forecast", "--atlas", radar_atlas, "--time", "2019-01-01 01:00", "--lead", "1h",
                          "--reference", "steps"), 2)
    assert "--reference needs the 3 fields up to 2019-01-01 01:00" in line
