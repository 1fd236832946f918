"""Nowcasting references from pySTEPS: what a radar forecaster runs for the first hours, beside the analogues.

Every method takes the same leading arguments, as pySTEPS' own do: the last
fields ``past (t, H, W)`` in dBZ (oldest first, one step apart), the lead
``steps`` (in those steps) and the number of ``members``; it returns
``(members, len(steps), H, W)`` in dBZ, never below the fields' floor (the
lowest value of ``past``: 0 dBZ after the atlas's ``--clip``).

* ``extrapolation``: the motion by Lucas-Kanade optical flow from the past
  fields, and the last field advected along it (semi-Lagrangian) in dBZ;
  one member, what enters from outside the grid is the floor.
* ``steps``: a STEPS ensemble (a cascade of scales, each evolved by its own
  AR(2) model, with stochastic noise) of ``members`` members, in the units
  pySTEPS expects: dBZ to rain rate by Marshall-Palmer (Z = 200 R^1.6),
  rain rate to decibels above 0.1 mm/h, and back.

pySTEPS comes with the ``weather`` extra; its import and STEPS are silenced
(they print on stdout). Silencing swaps the process's ``sys.stdout``, so it
is done under one lock: threads that silence at once (a server's forecasts)
cannot leave it swapped.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..errors import LatentAtlasError, UsageError
from .options import parse_names

__all__ = ["nowcast", "parse_references", "pysteps_module", "REFERENCES", "PAST_FIELDS"]

PAST_FIELDS = 3  # fields the motion and STEPS' AR(2) model need: t - 2, t - 1, t
ZR_A, ZR_B = 200.0, 1.6  # Marshall-Palmer
RAIN_THRESHOLD = 0.1  # mm/h: below is no rain
_DB_ZERO = -15.0  # dB of rain rate given to no rain
_SILENCING = threading.Lock()
_pysteps: Any = None  # the module, once imported


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """stdout swallowed, one thread at a time (module notes)."""
    with _SILENCING, contextlib.redirect_stdout(io.StringIO()):
        yield


def parse_references(references: str | Sequence[str]) -> tuple[str, ...]:
    """``"extrapolation,steps"`` or names, checked against :data:`REFERENCES` (order kept, repeats dropped).

    Raises
    ------
    UsageError
        If a name is unknown or none is given.
    """
    return parse_names(references, tuple(REFERENCES), "reference")


def nowcast(method: str, past: np.ndarray, steps: Sequence[int], members: int = 20, seed: int = 0) -> np.ndarray:
    """The ``method`` nowcast (``members``, ``len(steps)``, H, W) in dBZ from ``past`` (t, H, W) in dBZ (module notes).

    Raises
    ------
    UsageError
        On an unknown method, fewer than :data:`PAST_FIELDS` past fields or a step below 1.
    LatentAtlasError
        If pySTEPS is not installed.
    """
    if method not in REFERENCES:
        raise UsageError(f"reference must be one of {', '.join(REFERENCES)}, got {method!r}", parameter="reference")
    past = np.asarray(past, np.float64)
    if past.ndim != 3 or len(past) < PAST_FIELDS:
        raise UsageError(f"a {method} nowcast needs {PAST_FIELDS} past fields (t, H, W), got shape {past.shape}",
                         parameter="reference")
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 1:
        raise UsageError(f"lead steps must be >= 1, got {steps}", parameter="lead")
    floor = float(past.min())
    if not (past[-PAST_FIELDS:] > floor).any():  # nothing moves: every method forecasts the empty field
        return np.full((members if method == "steps" else 1, len(steps), *past.shape[1:]), floor)
    out = REFERENCES[method](past[-PAST_FIELDS:], steps, members, seed)
    return np.maximum(np.nan_to_num(out, nan=floor), floor)


def pysteps_module() -> Any:
    """pySTEPS, imported without its greeting on stdout.

    Raises
    ------
    LatentAtlasError
        If it is not installed.
    """
    global _pysteps
    if _pysteps is None:  # imported once, whole: another thread importing it meanwhile holds the lock
        try:
            with _silenced():
                import pysteps
        except ImportError:
            raise LatentAtlasError("the nowcast references need pySTEPS: pip install 'latentatlas[weather]'") from None
        _pysteps = pysteps
    return _pysteps


def _motion(past: np.ndarray) -> np.ndarray:
    """The motion (2, H, W), in pixels per step, by Lucas-Kanade optical flow from the past fields."""
    pysteps = pysteps_module()
    with warnings.catch_warnings():  # a field with one rain cell leaves the outlier test a singular matrix: harmless
        warnings.filterwarnings("ignore", message=".*during outlier detection")
        return pysteps.motion.get_method("LK")(past, verbose=False)


def _extrapolation(past: np.ndarray, steps: list[int], members: int, seed: int) -> np.ndarray:
    """The last field advected along the motion, semi-Lagrangian, in dBZ: one member."""
    pysteps = pysteps_module()
    extrapolate = pysteps.extrapolation.get_method("semilagrangian")
    fields = extrapolate(past[-1], _motion(past), max(steps), outval=float(past.min()))
    return fields[np.asarray(steps) - 1][None]


def _steps(past: np.ndarray, steps: list[int], members: int, seed: int) -> np.ndarray:
    """A STEPS ensemble in decibels of rain rate, converted from dBZ and back."""
    pysteps = pysteps_module()
    decibels = _to_decibels(past)
    velocity = _motion(decibels)
    with _silenced():  # STEPS reports its settings and progress on stdout
        forecast = pysteps.nowcasts.get_method("steps")(
            decibels, velocity, steps, n_ens_members=members, n_cascade_levels=_levels(past.shape[1:]),
            precip_thr=10.0 * np.log10(RAIN_THRESHOLD), kmperpixel=None, timestep=None, noise_method="nonparametric",
            vel_pert_method=None, mask_method="obs", probmatching_method="cdf", seed=seed, num_workers=1)
    return _to_dbz(np.asarray(forecast), float(past.min()))


def _levels(shape: tuple[int, ...]) -> int:
    """Cascade levels a grid of ``shape`` holds: one per halving of its shorter side down to 4 pixels, 6 at most."""
    return int(max(2, min(6, np.log2(min(shape) / 4))))


def _to_decibels(dbz: np.ndarray) -> np.ndarray:
    """dBZ to rain rate by Marshall-Palmer, then to decibels (no rain, below 0.1 mm/h: -15 dB)."""
    rate = (10.0 ** (dbz / 10.0) / ZR_A) ** (1.0 / ZR_B)
    return np.where(rate >= RAIN_THRESHOLD, 10.0 * np.log10(np.maximum(rate, RAIN_THRESHOLD)), _DB_ZERO)


def _to_dbz(decibels: np.ndarray, floor: float) -> np.ndarray:
    """Decibels of rain rate back to dBZ; no rain is the floor."""
    rate = 10.0 ** (decibels / 10.0)
    dbz = 10.0 * np.log10(ZR_A * np.maximum(rate, 1e-12) ** ZR_B)
    return np.where((rate >= RAIN_THRESHOLD) & np.isfinite(decibels), dbz, floor)


REFERENCES: dict[str, Callable[[np.ndarray, list[int], int, int], np.ndarray]] = {
    "extrapolation": _extrapolation,
    "steps": _steps,
}
