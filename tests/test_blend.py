"""The blend of extrapolation and analogues: a weighted pool whose CRPS follows from four mean terms."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.analogues.blend import best_weight, blend_terms, mixture_crps
from latentatlas.analogues.scores import crps


def _pooled(analogues: np.ndarray, extrapolation: np.ndarray, truth: np.ndarray, weight: float) -> float:
    """The blend's CRPS by its definition: E|X - y| - E|X - X'| / 2 over the weighted pool, distinct analogue pairs fair."""
    k = len(analogues)
    near = weight * np.abs(extrapolation - truth) + (1 - weight) / k * sum(np.abs(a - truth) for a in analogues)
    across = 2 * weight * (1 - weight) / k * sum(np.abs(a - extrapolation) for a in analogues)
    within = (1 - weight) ** 2 / (k * (k - 1)) * sum(np.abs(a - b) for a in analogues for b in analogues)
    return float((near - 0.5 * (across + within)).mean())


def test_the_blend_is_its_definition_and_all_weight_on_one_method_is_that_method(rng):
    analogues, extrapolation, truth = rng.gamma(2, 5, (6, 4, 5)), rng.gamma(2, 5, (4, 5)), rng.gamma(2, 5, (4, 5))
    terms = blend_terms(analogues, extrapolation, truth)
    for weight in (0.0, 0.3, 0.8, 1.0):
        assert mixture_crps(terms, weight) == pytest.approx(_pooled(analogues, extrapolation, truth, weight), rel=1e-12)
    assert mixture_crps(terms, 0.0) == pytest.approx(crps(analogues, truth, "fair").mean(), rel=1e-12)
    assert mixture_crps(terms, 1.0) == pytest.approx(np.abs(extrapolation - truth).mean(), rel=1e-12)


def test_the_learnt_weight_is_the_best_of_a_fine_grid_and_never_worse_than_either_method(rng):
    for _ in range(20):
        truth = rng.gamma(2, 5, (30,))
        analogues = truth + rng.normal(rng.uniform(-3, 3), rng.uniform(0.5, 6), (8, 30))
        extrapolation = truth + rng.normal(0, rng.uniform(0.5, 8), 30)
        terms = blend_terms(analogues, extrapolation, truth)
        grid = min(mixture_crps(terms, w) for w in np.linspace(0, 1, 2001))
        best = mixture_crps(terms, best_weight(terms))
        assert best <= grid + 1e-12 and best <= min(mixture_crps(terms, 0), mixture_crps(terms, 1))
