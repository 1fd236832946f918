"""pySTEPS' nowcast references: extrapolation of a known motion, and a STEPS ensemble in dBZ."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.analogues.references import nowcast, parse_references
from latentatlas.errors import UsageError

H, W = 32, 48


def _storms(shift: float) -> np.ndarray:
    """Two rain cells (dBZ, 0 outside) moved ``shift`` pixels east and ``shift / 2`` south."""
    y, x = np.mgrid[:H, :W]
    cells = 45 * np.exp(-((y - 12 - shift / 2) ** 2 + (x - 12 - shift) ** 2) / 18.0)
    cells += 30 * np.exp(-((y - 20 - shift / 2) ** 2 + (x - 4 - shift) ** 2) / 10.0)
    return np.where(cells > 1, cells, 0.0)


def test_extrapolation_of_a_constant_motion_reproduces_the_moved_field_away_from_the_borders():
    past = np.stack([_storms(2.0 * s) for s in range(3)])
    forecast = nowcast("extrapolation", past, [1, 3, 6])
    assert forecast.shape == (1, 3, H, W)
    for n, step in enumerate((1, 3, 6)):
        truth = _storms(2.0 * (2 + step))
        inner = (slice(4, H - 4), slice(4, W - 4))
        assert np.abs(forecast[0, n][inner] - truth[inner]).max() < 1.0  # dBZ, on fields up to 45
        assert np.abs(forecast[0, n] - truth).mean() < 0.1 * np.abs(past[-1] - truth).mean()  # far better than persistence


def test_steps_gives_a_seeded_ensemble_in_dbz_that_never_falls_below_the_floor():
    past = np.stack([_storms(2.0 * s) for s in range(3)])
    first = nowcast("steps", past, [1, 2], members=4, seed=1)
    assert first.shape == (4, 2, H, W) and np.isfinite(first).all() and first.min() >= 0.0
    assert first.max() > 20 and np.array_equal(first, nowcast("steps", past, [1, 2], members=4, seed=1))
    assert (nowcast("steps", np.zeros((3, H, W)), [1], members=2) == 0).all()  # no rain: nothing to move


def test_bad_references_are_refused_in_one_line():
    assert parse_references("steps, extrapolation,steps") == ("steps", "extrapolation")
    with pytest.raises(UsageError, match="reference must be some of extrapolation, steps"):
        parse_references("optical")
    with pytest.raises(UsageError, match="needs 3 past fields"):
        nowcast("extrapolation", np.zeros((2, H, W)), [1])
