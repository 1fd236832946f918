"""Verification of analogue forecasts: the scores against brute-force references, and skill where a pattern recurs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.analogues.scores import Reliability, brier, crps, exceedance, rank_counts, skill
from latentatlas.sources import read_source
from latentatlas.store import ImageRow, Store

START = datetime(2021, 3, 1)
DAYS = 60
SIDE = 16


def test_the_empirical_crps_equals_the_float64_brute_force_reference(rng):
    members = rng.gamma(2.0, 5.0, size=(13, 7, 9))
    truth = rng.gamma(2.0, 5.0, size=(7, 9))
    reference = np.abs(members - truth).mean(0) - 0.5 * np.abs(members[:, None] - members[None]).mean((0, 1))
    np.testing.assert_allclose(crps(members, truth, "qd"), reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(crps(members[:1], truth), np.abs(members[0] - truth), atol=1e-12)


def test_a_perfect_ensemble_scores_zero_and_a_reference_has_no_skill_against_itself(rng):
    truth = rng.normal(size=(5, 6))
    assert np.abs(crps(np.repeat(truth[None], 4, 0), truth)).max() < 1e-12  # the sorted form rounds
    score = float(crps(rng.normal(size=(8, 5, 6)), truth).mean())
    assert skill(score, score) == 0.0 and skill(score, None) is None


def test_brier_reliability_and_ranks_match_their_definitions(rng):
    members = rng.normal(size=(4, 30, 30))
    truth = rng.normal(size=(30, 30))
    probability = exceedance(members, 0.5)
    np.testing.assert_allclose(brier(probability, truth, 0.5), (probability - (truth > 0.5)) ** 2)
    table = Reliability()
    table.add(probability, truth, 0.5)
    assert sum(b["count"] for b in table.table()) == truth.size
    quarter = [b for b in table.table() if b["from"] == 0.2][0]  # p = 1/4 falls in the bin 0.2-0.3
    chosen = probability == 0.25
    assert quarter["count"] == chosen.sum() and quarter["observed"] == pytest.approx((truth[chosen] > 0.5).mean())
    counts = rank_counts(members, truth, rng)
    assert len(counts) == 5 and counts.sum() == truth.size
    assert counts[0] == (members > truth).all(0).sum()


def _recurring_frames(seed: int = 0) -> tuple[np.ndarray, list[datetime]]:
    """Quiet hours, and every 2-4 days one of three kinds of storm crossing the grid for 30 h, starting at any hour."""
    rng = np.random.default_rng(seed)
    hours = 24 * DAYS
    frames = np.zeros((hours, SIDE, SIDE), np.float32)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    kinds = [((2.0, 1.0), (0.0, 0.45)), ((13.0, 1.0), (-0.3, 0.4)), ((8.0, 14.0), (0.1, -0.45))]
    start = 5
    while start < hours:
        (y0, x0), (vy, vx) = kinds[rng.integers(3)]
        for age in range(min(30, hours - start)):
            y, x = y0 + vy * age, x0 + vx * age
            strength = 50.0 * np.sin(np.pi * (age + 0.5) / 30)
            frames[start + age] += strength * np.exp(-((rows - y) ** 2 + (cols - x) ** 2) / 6.0)
        start += int(rng.integers(48, 96))
    frames += rng.uniform(0, 2, frames.shape).astype(np.float32)
    return frames, [START + timedelta(hours=h) for h in range(hours)]


@pytest.fixture(scope="module")
def recurring_atlas(tmp_path_factory):
    """An atlas of the recurring storms whose codes are 4x4 block means of the fields (no model needed)."""
    folder = tmp_path_factory.mktemp("recurring")
    frames, times = _recurring_frames()
    np.savez(folder / "storms.npz", images=frames, times=np.array(times, "datetime64[s]"))
    records = read_source(folder / "storms.npz").records
    codes = np.stack([r.load().reshape(4, 4, 4, 4).mean(axis=(1, 3)).reshape(-1) for r in records]).astype(np.float32)
    store = Store(folder / "storms.atlas")
    store.ensure_embeddings(16)
    store.set_setting("model_fingerprint", "synthetic")
    store.add([ImageRow(uri=r.uri, sha256=r.sha256, width=SIDE, height=SIDE, time=r.time) for r in records], codes)
    store.close()
    return folder / "storms.atlas"


def test_analogues_beat_climatology_and_random_hours_where_a_pattern_recurs(recurring_atlas):
    with Atlas.open(recurring_atlas, read_only=True) as atlas:
        result = atlas.evaluate_analogues("2021-04-15/2021-04-30", leads="1h,3h,6h", k=8, min_separation="12h",
                                          thresholds=(20,), spaces="codes", progress=False)
    data = result.to_dict()
    assert data["settings"]["crps_estimator"] == data["spaces"]["estimator"] == "fair"
    for lead in data["leads"]:  # the codes' space finds the same analogues on the same period: the same CRPS
        assert data["spaces"]["forecasts"][lead["lead"]] == lead["forecasts"]
        assert data["spaces"]["crps"]["codes"][lead["lead"]] == pytest.approx(lead["crps_analogue"], rel=1e-9)
    assert data["hours"] == 15 * 24 - data["skipped"]["no_truth"] - data["skipped"]["no_analogue"]
    for lead in data["leads"]:
        assert lead["forecasts"] > 300 and 0 < lead["members"] <= 8
        assert lead["crpss_vs_climatology"] > 0.3 and lead["crpss_vs_random"] > 0.3
        assert lead["brier"]["20"]["bss_vs_climatology"] > 0.3
        assert skill(lead["crps_climatology"], lead["crps_climatology"]) == 0.0
        assert lead["rank_histogram_members"] == 8 and len(lead["rank_histogram"]) == 9
        assert sum(lead["rank_histogram"]) == lead["rank_histogram_forecasts"] * SIDE * SIDE
    test_start, test_end = np.datetime64("2021-04-15T00:00", "us") - np.timedelta64(6, "h"), np.datetime64("2021-04-30", "us")
    store = Store(recurring_atlas, read_only=True)
    ids, times = store.times()
    store.close()
    used = times[np.searchsorted(ids, np.concatenate(list(result.analogues.values())))]
    assert not ((used >= test_start) & (used < test_end)).any()  # neither analogues nor their members' hours


def test_evaluate_analogues_on_the_command_line(cli, error_line, radar_atlas, tmp_path):
    result = cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 12:00/2019-01-03",
                 "--lead", "1h,2h", "-k", 4, "--season-window", "30d", "--space", "codes,pca,pixels",
                 "--out", tmp_path / "ev", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["spaces"]["crps"]) == ["codes", "pca", "pixels"] and data["spaces"]["leads"] == ["1h", "2h"]
    assert all(value > 0 for by_lead in data["spaces"]["crps"].values() for value in by_lead.values())
    assert [lead["lead"] for lead in data["leads"]] == ["1h", "2h"] and data["hours"] == 11
    assert data["skipped"]["no_truth"] == 1 and set(data["leads"][0]["brier"]) == {"20", "35"}
    assert json.loads((tmp_path / "ev" / "analogues.json").read_text())["leads"][0]["crps_analogue"] > 0
    assert (tmp_path / "ev" / "verification.png").stat().st_size > 1000
    text = cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 18:00/2019-01-03", "--lead", "1h",
               "-k", 3, "--quiet")
    assert text.exit_code == 0 and "CRPSS vs clim." in text.stdout
    line = error_line(cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-03"), 2)
    assert "--test must be START/END" in line
    line = error_line(cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2020-01-01/2020-02-01"), 2)
    assert "--test 2020-01-01 00:00/2020-02-01 00:00 holds no stored hour" in line
    line = error_line(cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 18:00/2019-01-03",
                          "--space", "codes,umap"), 2)
    assert "--space must be some of codes, pca, pixels" in line


def test_the_nowcast_references_are_scored_beside_the_analogues(cli, radar_atlas):
    result = cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 12:00/2019-01-03", "--lead",
                 "1h,2h", "-k", 3, "--reference", "extrapolation,steps", "--every", "6h", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hours"] == 2 and data["settings"]["references"] == ["extrapolation", "steps"]
    for lead in data["leads"]:
        assert lead["forecasts"] == 2 and lead["crps_extrapolation"] > 0 and lead["crps_steps"] > 0
        assert set(lead["brier"]["20"]) >= {"extrapolation", "steps"}
    assert data["crossover_lead"] in (None, "1h", "2h")


def test_the_crossover_is_the_first_lead_from_which_the_analogues_stay_ahead_of_extrapolation():
    from latentatlas.analogues.verify import crossover

    leads = [{"lead": f"{h}h", "crps_analogue": a, "crps_extrapolation": e}
             for h, a, e in ((1, 2.0, 1.0), (3, 1.0, 1.5), (6, 2.0, 1.9), (12, 2.0, 3.0))]
    assert crossover(leads) == "12h" and crossover(leads[:2]) == "3h" and crossover(leads[:1]) is None
    assert crossover([{"lead": "1h", "crps_analogue": 1.0}]) is None


def test_the_blend_is_scored_with_its_learnt_weight_and_is_no_worse_than_its_mixture_of_scores(radar_atlas):
    with Atlas.open(radar_atlas, read_only=True) as atlas:
        data = atlas.evaluate_analogues("2019-01-02 12:00/2019-01-03", leads="1h,2h", k=3, references="extrapolation",
                                        blend=True, progress=False).to_dict()
    assert data["settings"]["blend_hours"] > 0
    for lead in data["leads"]:
        weight = lead["blend_weight"]
        assert 0 <= weight <= 1
        mixed = weight * lead["crps_extrapolation"] + (1 - weight) * lead["crps_analogue"]
        assert lead["crps_blend"] <= mixed + 1e-9


def test_fields_are_scored_by_fss_and_categorical_scores_and_a_perfect_field_scores_one(cli, radar_atlas, rng):
    from latentatlas.analogues.scores import FieldScores

    truth = rng.gamma(2.0, 10.0, (16, 16))
    perfect = FieldScores((20.0,), (1, 3))
    perfect.add(np.repeat(truth[None], 3, 0), truth)
    assert perfect.to_dict() == {"fss": {"20": {"1": 1.0, "3": 1.0}}, "csi": {"20": 1.0}, "pod": {"20": 1.0},
                                 "far": {"20": 0.0}}
    result = cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 18:00/2019-01-03", "--lead",
                 "1h", "-k", 3, "--scales", "1,3,9", "--quiet")
    assert result.exit_code == 0, result.output
    assert "FSS" in result.stdout and "persistence" in result.stdout


def test_fss_scales_are_given_in_km_on_a_georeferenced_grid(cli, grib_radar_atlas, radar_atlas):
    from latentatlas.ops.rows import atlas_geometry
    from latentatlas.store import Store

    args = ("--test", "2019-09-21 18:00/2019-09-22", "--lead", "1h", "-k", 3, "--scales", "1,3")
    from latentatlas.analogues.verify import summary_tables

    result = cli("evaluate", "analogues", "--atlas", grib_radar_atlas, *args, "--json", "--quiet")
    data = json.loads(result.stdout)
    settings = data["settings"]
    store = Store(grib_radar_atlas, read_only=True)
    spacing = atlas_geometry(store).spacing_km()  # HRRR's grid at 32x56 points: about 98 km
    store.close()
    assert 90 < settings["grid_km"] < 105 and settings["grid_km"] == pytest.approx(spacing, abs=0.01)
    assert settings["scales_km"] == {"1": round(spacing, 1), "3": round(3 * spacing, 1)}
    columns = summary_tables(data)[2][0]  # the table of field scores, as the command prints it
    assert f"FSS > 20 @3 ({round(3 * spacing, 1):g} km)" in columns and f"FSS > 35 @1 ({round(spacing, 1):g} km)" in columns
    plain = json.loads(cli("evaluate", "analogues", "--atlas", radar_atlas, "--test", "2019-01-02 18:00/2019-01-03",
                           "--lead", "1h", "-k", 3, "--scales", "1,3", "--json", "--quiet").stdout)["settings"]
    assert "scales_km" not in plain  # a grid from a .npy stack is not georeferenced
