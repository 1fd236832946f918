"""A blend of extrapolation and analogues: a weighted pool of their members, its weight per lead learnt on the archive.

The blend at one lead is the mixture ``w * extrapolation + (1 - w) * analogues``:
the extrapolation nowcast (one field) with weight ``w`` and the ``k``
analogue members sharing ``1 - w``. Its CRPS per point, with
``a = mean |A_i - y|``, ``b = |E - y|``, ``c = mean |A_i - E|`` and ``d``
the fair estimate of ``E|A - A'|`` (pairs of distinct members), is

    CRPS(w) = (1 - w) a + w b - w (1 - w) c - (1 - w)^2 d / 2,

which is the analogues' fair CRPS at ``w = 0`` and the extrapolation's
absolute error at ``w = 1``. Averaged over points and forecasts it stays a
quadratic in ``w`` of the four mean terms, so the weight that minimises it
on a set of forecasts is found exactly (:func:`best_weight`), and a mixture
is never worse than the same mixture of the two scores (the CRPS is convex
in the forecast distribution). ``evaluate analogues --blend`` and
``forecast --blend`` learn the weight of each lead from forecasts of the
archive's own hours outside the test period (or away from the forecast
hour) and apply it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["blend_terms", "mixture_crps", "best_weight", "BLEND_HOURS"]

BLEND_HOURS = 150  # hours of the archive forecast to learn the weights


def blend_terms(analogues: np.ndarray, extrapolation: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The four mean terms ``(a, b, c, d)`` of one forecast (module notes): analogues ``(k, ...)``, extrapolation and truth ``(...)``."""
    members = np.asarray(analogues, np.float64)
    extrapolation, truth = np.asarray(extrapolation, np.float64), np.asarray(truth, np.float64)
    k = len(members)
    a = np.abs(members - truth).mean(axis=0)
    b = np.abs(extrapolation - truth)
    c = np.abs(members - extrapolation).mean(axis=0)
    if k > 1:
        ordered = np.sort(members, axis=0)  # sum over pairs |x_i - x_j| = 2 sum_i (2 i - k + 1) x_(i)
        rank = (2 * np.arange(k) - k + 1).reshape((k,) + (1,) * (members.ndim - 1))
        d = 2 * (rank * ordered).sum(axis=0) / (k * (k - 1))
    else:
        d = np.zeros_like(a)
    return np.array([a.mean(), b.mean(), c.mean(), d.mean()])


def mixture_crps(terms: np.ndarray, weight: float) -> float:
    """The mean CRPS of the blend with ``weight`` on extrapolation, from the mean ``terms`` ``(a, b, c, d)``."""
    a, b, c, d = terms
    w = float(weight)
    return float((1 - w) * a + w * b - w * (1 - w) * c - 0.5 * (1 - w) ** 2 * d)


def best_weight(terms: np.ndarray) -> float:
    """The weight in [0, 1] on extrapolation that minimises :func:`mixture_crps` for these mean terms."""
    a, b, c, d = terms
    curvature = 2 * c - d
    candidates = [0.0, 1.0]
    if curvature > 0:
        candidates.append(float(np.clip((a - b + c - d) / curvature, 0.0, 1.0)))
    return min(candidates, key=lambda w: (mixture_crps(terms, w), w))
