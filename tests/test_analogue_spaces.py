"""The fair CRPS and the verification of analogues found in several spaces, against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.analogues.scores import crps
from latentatlas.analogues.spaces import crps_by_space
from latentatlas.errors import UsageError

HOUR = np.timedelta64(1, "h")


def _fair(members: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The fair CRPS by its definition: E|X - y| - sum over pairs |X_i - X_j| / (2 m (m - 1))."""
    m = len(members)
    spread = sum(np.abs(a - b) for a in members for b in members) / (2 * m * (m - 1)) if m > 1 else 0
    return np.abs(members - truth).mean(axis=0) - spread


def test_the_fair_crps_is_its_definition_and_one_member_scores_the_absolute_error(rng):
    members, truth = rng.normal(size=(7, 4, 3)), rng.normal(size=(4, 3))
    assert np.allclose(crps(members, truth, "fair"), _fair(members, truth))
    assert np.allclose(crps(members[:1], truth, "fair"), np.abs(members[0] - truth))
    floored = np.maximum(rng.normal(size=(90, 4, 3)), 0.0)  # many members, many tied at the floor (no echo)
    assert np.allclose(crps(floored, np.maximum(truth, 0.0), "fair"), _fair(floored, np.maximum(truth, 0.0)))


def test_the_fair_crps_is_unbiased_for_ensembles_of_different_sizes_and_the_plain_one_is_not(rng):
    truth = rng.normal(size=100_000)
    expected = 1 / np.sqrt(np.pi)  # CRPS of N(0, 1) against draws from N(0, 1)
    for size in (3, 30):
        members = rng.normal(size=(size, len(truth)))
        assert crps(members, truth, "fair").mean() == pytest.approx(expected, abs=0.01)
    assert crps(rng.normal(size=(3, len(truth))), truth, "qd").mean() > expected + 0.1


def _brute(vectors, fields, times, test, leads, k, separation):
    """Every forecast by loops over all rows: candidates, distances, separation, members, fair CRPS."""
    at = {t: i for i, t in enumerate(times)}
    longest = max(leads) * HOUR
    tested = times[test]
    follows = lambda i, lead: at.get(times[i] + lead * HOUR, -1)  # noqa: E731
    result = {}
    for name, space in vectors.items():
        totals = {lead: [] for lead in leads}
        for q in np.flatnonzero(test):
            pool = [c for c in range(len(times)) if not test[c] and all(follows(c, lead) >= 0 for lead in leads)
                    and not any(times[c] <= t <= times[c] + longest for t in tested)
                    and abs(times[c] - times[q]) > longest]
            ranked = sorted(pool, key=lambda c: (float(np.sum((space[c] - space[q]) ** 2)), c))
            kept = []
            for c in ranked:
                if len(kept) < k and all(abs(times[c] - times[o]) >= separation * HOUR for o in kept):
                    kept.append(c)
            for lead in leads:
                if follows(q, lead) >= 0:
                    members = np.stack([fields[follows(c, lead)] for c in kept])
                    totals[lead].append(_fair(members, fields[follows(q, lead)]).mean())
        result[name] = {f"{lead}h": float(np.mean(totals[lead])) for lead in leads}
    return result


def test_analogues_of_every_space_score_as_a_brute_force_forecast_does(rng):
    times = np.datetime64("2021-03-01T00:00") + np.array([h for h in range(160) if h not in (40, 41, 130)]) * HOUR
    fields = rng.gamma(2.0, 5.0, size=(len(times), 4, 5))
    fields += np.linspace(0, 20, len(times))[:, None, None] * np.sin(np.arange(len(times)) / 9)[:, None, None]
    vectors = {"pixels": fields.reshape(len(times), -1), "codes": rng.normal(size=(len(times), 3))}
    test = (times >= np.datetime64("2021-03-05T00:00")) & (times < np.datetime64("2021-03-05T12:00"))
    found = crps_by_space(vectors, fields, times, test, leads="1h,3h", k=4, min_separation="5h")
    assert found["estimator"] == "fair" and found["forecasts"] == {"1h": 12, "3h": 12}
    expected = _brute(vectors, fields, times, test, (1, 3), 4, 5)
    for name in vectors:
        assert found["crps"][name] == pytest.approx(expected[name], rel=1e-9)
    period = crps_by_space(vectors, fields, times, "2021-03-05/2021-03-05 12:00", leads="1h,3h", k=4,
                           min_separation="5h")
    assert period["crps"] == found["crps"]


@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "k": 0}, "k must be an integer >= 1"),
    (lambda a: {**a, "times": a["times"][::-1].copy().clip(max=a["times"][0])}, "times must be known and distinct"),
    (lambda a: {**a, "fields": a["fields"][:-1]}, "fields must be"),
    (lambda a: {**a, "vectors": {"codes": a["vectors"]["codes"][:-1]}}, r"vectors\['codes'\] must hold"),
    (lambda a: {**a, "test": "2030-01-01/2030-02-01"}, "test holds no row"),
    (lambda a: {**a, "estimator": "nope"}, "estimator must be one of"),
])
def test_bad_arrays_are_refused_in_one_line(rng, change, message):
    times = np.datetime64("2021-03-01T00:00") + np.arange(30) * HOUR
    given = {"vectors": {"codes": rng.normal(size=(30, 2))}, "fields": rng.normal(size=(30, 2, 2)), "times": times,
             "test": "2021-03-01 20:00/2021-03-02", "k": 2, "estimator": "fair"}
    with pytest.raises(UsageError, match=message):
        crps_by_space(leads="1h", **change(given))
