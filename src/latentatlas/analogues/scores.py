"""Scores of ensemble forecasts of fields, per pixel: CRPS (scoringrules), Brier score, reliability, rank histogram.

An ensemble is ``(m, ...)`` members of the shape of the truth. The CRPS
comes from scoringrules (its numpy backend, which needs no compiling) with
one of two estimators:

* ``"fair"`` (the default): ``E|X - y| - sum_{i != j} |X_i - X_j| / (2 m (m - 1))``,
  unbiased for the CRPS of the distribution the members are drawn from,
  whatever their number, so ensembles of different sizes compare fairly
  (Ferro 2014); a one-member ensemble scores the absolute error. It is
  computed in its probability-weighted-moment form (scoringrules' ``"pwm"``,
  the same number: Zamo and Naveau 2018), which sorts the members instead of
  summing over all pairs, so a climatology of a hundred members costs about
  what twenty do.
* ``"qd"``: the CRPS of the members' empirical distribution,
  ``E|X - y| - E|X - X'| / 2``, which favours larger ensembles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["crps", "exceedance", "brier", "Reliability", "FieldScores", "rank_counts", "skill", "ESTIMATORS", "ESTIMATOR",
           "SCALES"]

RELIABILITY_BINS = 10
ESTIMATORS = ("fair", "qd")
SCALES = (1, 3, 9)  # grid points of the fractions skill score's neighbourhoods
ESTIMATOR = "fair"  # the estimator every CRPS of the package uses unless told
_FORMS = {"fair": "pwm"}  # scoringrules' name of the form each estimator is computed in (module notes)


def crps(members: np.ndarray, truth: np.ndarray, estimator: str = ESTIMATOR) -> np.ndarray:
    """The CRPS of the ensemble ``members (m, ...)`` at each point of ``truth``, by ``estimator`` ("fair" or "qd")."""
    import scoringrules

    members = np.asarray(members, np.float64)
    truth = np.asarray(truth, np.float64)
    if len(members) == 1:  # both estimators give the absolute error; "fair" would divide by m - 1 = 0
        return np.abs(members[0] - truth)
    form = _FORMS.get(estimator, estimator)
    return np.asarray(scoringrules.crps_ensemble(truth, members, m_axis=0, estimator=form, backend="numpy"))


def exceedance(members: np.ndarray, threshold: float) -> np.ndarray:
    """The fraction of members above ``threshold`` at each point: the forecast probability of exceeding it."""
    return (np.asarray(members) > threshold).mean(axis=0)


def brier(probability: np.ndarray, truth: np.ndarray, threshold: float) -> np.ndarray:
    """The Brier score at each point of a probability of ``truth > threshold``."""
    import scoringrules

    observed = (np.asarray(truth) > threshold).astype(np.float64)
    return np.asarray(scoringrules.brier_score(observed, np.asarray(probability, np.float64), backend="numpy"))


@dataclass
class Reliability:
    """Counts for a reliability table: per bin of forecast probability, forecasts, their sum and the events seen."""

    bins: int = RELIABILITY_BINS
    count: np.ndarray = field(default=None)
    forecast: np.ndarray = field(default=None)
    observed: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        self.count = np.zeros(self.bins, np.int64)
        self.forecast = np.zeros(self.bins)
        self.observed = np.zeros(self.bins)

    def add(self, probability: np.ndarray, truth: np.ndarray, threshold: float) -> None:
        """Count the points of one forecast."""
        p = np.asarray(probability, np.float64).reshape(-1)
        seen = (np.asarray(truth) > threshold).reshape(-1)
        which = np.minimum((p * self.bins).astype(np.int64), self.bins - 1)
        self.count += np.bincount(which, minlength=self.bins)
        self.forecast += np.bincount(which, weights=p, minlength=self.bins)
        self.observed += np.bincount(which, weights=seen, minlength=self.bins)

    def table(self) -> list[dict]:
        """One ``{"from", "to", "count", "forecast", "observed"}`` per bin holding forecasts (mean probability, event frequency)."""
        return [{"from": b / self.bins, "to": (b + 1) / self.bins, "count": int(n),
                 "forecast": float(self.forecast[b] / n), "observed": float(self.observed[b] / n)}
                for b, n in enumerate(self.count) if n]


class FieldScores:
    """Neighbourhood and categorical scores of fields, accumulated forecast by forecast (pySTEPS verification).

    Per threshold: the fractions skill score at each of ``scales``
    (neighbourhoods of that many grid points a side) and the critical
    success index, probability of detection and false alarm ratio of
    ``forecast > threshold``. An ensemble is scored by its mean.
    """

    def __init__(self, thresholds: tuple[float, ...], scales: tuple[int, ...] = SCALES):
        from .references import pysteps_module

        self.verification = pysteps_module().verification
        self.fss = {(t, s): self.verification.spatialscores.fss_init(t, s) for t in thresholds for s in scales}
        self.table = {t: self.verification.detcatscores.det_cat_fct_init(t) for t in thresholds}

    def add(self, forecast: np.ndarray, truth: np.ndarray) -> None:
        """Count one forecast field (or ensemble ``(m, ...)`` when it has one more dimension than ``truth``)."""
        forecast, truth = np.asarray(forecast, np.float64), np.asarray(truth, np.float64)
        field = forecast.mean(axis=0) if forecast.ndim > truth.ndim else forecast
        for score in self.fss.values():
            self.verification.spatialscores.fss_accum(score, field, truth)
        for table in self.table.values():
            self.verification.detcatscores.det_cat_fct_accum(table, field, truth)

    def to_dict(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """``{"fss": {threshold: {scale: FSS}}, "csi"|"pod"|"far": {threshold: value}}`` (None where undefined)."""
        data: dict[str, dict] = {"fss": {}, "csi": {}, "pod": {}, "far": {}}
        for (t, s), score in self.fss.items():
            data["fss"].setdefault(f"{t:g}", {})[str(s)] = _finite(self.verification.spatialscores.fss_compute(score))
        for t, table in self.table.items():
            values = self.verification.detcatscores.det_cat_fct_compute(table, scores=["CSI", "POD", "FAR"])
            for name, value in values.items():
                data[name.lower()][f"{t:g}"] = _finite(value)
        return data


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def rank_counts(members: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How often the truth falls at each of the ``m + 1`` ranks among ``m`` members, ties broken at random."""
    members = np.asarray(members)
    below = (members < truth).sum(axis=0).reshape(-1)
    tied = (members == truth).sum(axis=0).reshape(-1)
    rank = below + np.floor(rng.random(below.shape) * (tied + 1)).astype(np.int64)
    return np.bincount(rank, minlength=len(members) + 1)


def skill(score: float | None, reference: float | None) -> float | None:
    """``1 - score / reference`` (None when either is missing or the reference is 0)."""
    if score is None or reference is None or reference == 0:
        return None
    return float(1.0 - score / reference)
