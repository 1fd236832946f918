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

from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import UsageError
from .references import PAST_FIELDS, nowcast

if TYPE_CHECKING:
    from .forecast import Ensembles

__all__ = ["blend_terms", "mixture_crps", "best_weight", "learn_weights", "BLEND_HOURS"]

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


def learn_weights(ensembles: Ensembles, fields: Callable[[np.ndarray], np.ndarray],
                  excluded: list[tuple[np.datetime64, np.datetime64]], steps: list[int], k: int,
                  seed: int) -> list[float]:
    """The blend's weight per lead, learnt on forecasts of up to :data:`BLEND_HOURS` stored hours away from ``excluded``.

    An hour is used when neither it, its last fields nor its truths lie in
    the excluded interval, and it has analogues (outside it too);
    ``fields(ids)`` gives the stored fields ``(n, H, W)`` of rows.

    Raises
    ------
    UsageError
        If no such hour can be forecast.
    """
    timeline = ensembles.timeline
    low, high = excluded[0]
    times = ensembles.candidate_times
    usable = ensembles.candidates[(times < low) | (times > high + (PAST_FIELDS - 1) * timeline.step)]
    chosen = np.random.default_rng(seed + 1).permutation(usable)
    sums, used = np.zeros((len(steps), 4)), 0
    for hour in chosen:
        if used == BLEND_HOURS:
            break
        past = timeline.position(timeline.last(int(hour), PAST_FIELDS))
        found = ensembles.analogues(int(hour), k, excluded)
        if (past < 0).any() or len(found.ids) == 0:
            continue
        extrapolated = nowcast("extrapolation", fields(timeline.ids[past]), steps)[0]
        members, truths = ensembles.following(found.ids), ensembles.following(np.array([hour]))[0]
        for n in range(len(steps)):
            sums[n] += blend_terms(fields(members[:, n]), extrapolated[n],
                                   fields(truths[n:n + 1])[0])
        used += 1
    if used == 0:
        raise UsageError("blend: no stored hour away from the forecast hours has its last fields, analogues and "
                         "truths to learn the weights from", parameter="blend")
    return [best_weight(terms / used) for terms in sums]
