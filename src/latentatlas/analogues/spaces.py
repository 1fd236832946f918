"""Which space finds the better analogues: the CRPS of analogue ensembles found with each of several representations.

:func:`crps_by_space` takes plain arrays: one vector per row in each space
(the stored codes, PCA of the same size, the raw pixels at the model's
input size, ...), the rows' fields in physical units and their times. Every
row of the test period with a truth is forecast at each lead by its ``k``
nearest rows (squared Euclidean distance, ties to the earlier row) among the
candidates: rows outside the test period whose own time and every lead after
it lie outside it, followed by a row at every lead, and further than the
longest lead from the query, kept ``min_separation`` apart (nearest first)
when one is asked. The members are the fields a lead after each analogue;
the score is the CRPS per pixel, averaged over pixels and then over the
forecasts of the lead. The same test period, ``k`` and candidates serve
every space, so the spaces differ only in which rows they pick.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping, Sequence

import numpy as np

from ..checks import hours_text
from ..errors import UsageError
from ..search.neighbours import parse_window
from .find import separated
from .forecast import parse_leads, parse_period
from .options import parse_names
from .scores import ESTIMATORS, crps

__all__ = ["crps_by_space", "space_vectors", "parse_spaces", "SPACES"]

SPACES = ("codes", "pca", "pixels")

_CHUNK = 256  # queries whose distances to every candidate are held at once


def crps_by_space(vectors: Mapping[str, np.ndarray], fields: np.ndarray, times: np.ndarray,
                  test: np.ndarray | str | tuple, leads: str | Sequence[str | timedelta] = ("1h", "3h", "6h", "12h"),
                  k: int = 20, min_separation: str | timedelta | None = None,
                  estimator: str = "fair") -> dict[str, Any]:
    """The mean CRPS of ``k``-analogue ensembles at each lead, with the analogues found in each space (module notes).

    Parameters
    ----------
    vectors : mapping of str to array (n, d)
        Each space's vector of every row (``{"codes": ..., "pca": ..., "pixels": ...}``).
    fields : array (n, H, W) or (n, C, H, W)
        Every row's field in physical units (dBZ).
    times : array (n,) of datetime64
        Every row's time, all distinct.
    test : bool array (n,), ``"START/END"`` or (start, end)
        The rows forecast: a mask, or the period (start included, end excluded).
    leads : str or sequence
        ``"1h,3h,6h,12h"`` or durations.
    k : int
        Analogues, hence members, per forecast.
    min_separation : str or timedelta, optional
        No two analogues of one forecast closer in time than this.
    estimator : {"fair", "pwm", "qd", ...}
        scoringrules' CRPS estimator; ``"fair"`` is unbiased for the ensemble size.

    Returns
    -------
    dict
        ``{"estimator", "k", "leads": ["1h", ...], "forecasts": {lead: n}, "crps": {space: {lead: mean}}}``.

    Raises
    ------
    UsageError
        If the arrays do not agree in length, times repeat or are missing,
        a vector is not finite, ``k < 1``, or the test period holds no row
        to forecast or leaves no candidate.
    """
    times, fields, spaces = _checked(vectors, fields, times, k, estimator)
    lead_list = parse_leads(leads)
    separation = parse_window(min_separation, "min_separation")
    labels = [hours_text(lead) for lead in lead_list]
    inside = _test_mask(test, times)
    micros = times.astype(np.int64)
    offsets = [int(lead.total_seconds() * 1e6) for lead in lead_list]
    followers = np.stack([_position(micros, micros + offset) for offset in offsets], axis=1)
    longest = max(offsets)
    candidates = np.flatnonzero((followers >= 0).all(axis=1) & ~_touches(micros, micros[inside], longest))
    queries = np.flatnonzero(inside & (followers >= 0).any(axis=1))
    if len(queries) == 0:
        raise UsageError("test holds no row followed by a stored row at any lead", parameter="test")
    if len(candidates) == 0:
        raise UsageError("no row outside the test period is followed by a row at every lead", parameter="test")
    scores = {name: np.zeros(len(offsets)) for name in spaces}
    counts = (followers[queries] >= 0).sum(axis=0)
    for name, space in spaces.items():
        chosen = _analogues(space, times, queries, candidates, k, longest, separation)
        for at, query in enumerate(queries):
            members = followers[chosen[at]]
            for n in np.flatnonzero(followers[query] >= 0):
                scores[name][n] += float(crps(fields[members[:, n]], fields[followers[query, n]], estimator).mean())
    return {"estimator": estimator, "k": k, "leads": labels, "forecasts": dict(zip(labels, counts.tolist())),
            "crps": {name: {label: (float(total / count) if count else None)
                            for label, total, count in zip(labels, scores[name], counts)} for name in spaces}}


def parse_spaces(spaces: str | Sequence[str]) -> tuple[str, ...]:
    """``"codes,pca,pixels"`` or names, checked against :data:`SPACES` (order kept, repeats dropped).

    Raises
    ------
    UsageError
        If a name is unknown or none is given.
    """
    return parse_names(spaces, tuple(SPACES), "space")


def space_vectors(names: Sequence[str], codes: np.ndarray, inputs: np.ndarray | None,
                  fit: np.ndarray) -> dict[str, np.ndarray]:
    """The vectors of each named space: the stored ``codes``, PCA of their size, the model ``inputs``' pixels.

    ``inputs`` are the fields as the model sees them (``(n, C, H, W)``, its
    input size and scale; needed by ``pca`` and ``pixels``); PCA learns from
    the rows of the boolean mask ``fit`` only (those outside the test period).
    """
    from sklearn.decomposition import PCA

    found: dict[str, np.ndarray] = {}
    for name in names:
        if name == "codes":
            found[name] = np.asarray(codes, np.float64)
            continue
        pixels = np.asarray(inputs, np.float64).reshape(len(inputs), -1)
        if name == "pixels":
            found[name] = pixels
        else:
            size = min(codes.shape[1], int(fit.sum()), pixels.shape[1])
            found[name] = PCA(n_components=size, svd_solver="randomized", random_state=0).fit(pixels[fit]).transform(pixels)
    return found


def _checked(vectors: Mapping[str, np.ndarray], fields: np.ndarray, times: np.ndarray, k: int,
             estimator: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The times as microseconds' datetime64, the fields as float64 and each space as float64 (n, d), checked."""
    times = np.asarray(times).astype("datetime64[us]")
    n = len(times)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UsageError(f"k must be an integer >= 1, got {k!r}", parameter="k")
    if estimator not in ESTIMATORS:
        raise UsageError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}", parameter="estimator")
    if np.isnat(times).any() or len(np.unique(times)) != n:
        raise UsageError("times must be known and distinct (one field per time)", parameter="times")
    fields = np.asarray(fields, np.float64)
    if fields.ndim not in (3, 4) or len(fields) != n:
        raise UsageError(f"fields must be (n, H, W) or (n, C, H, W) with n = {n} times, got shape {fields.shape}",
                         parameter="fields")
    if not vectors:
        raise UsageError("vectors needs at least one space", parameter="vectors")
    spaces = {}
    for name, vector in vectors.items():
        array = np.asarray(vector, np.float64).reshape(len(vector), -1) if len(vector) else np.empty((0, 0))
        if len(array) != n or not np.isfinite(array).all():
            raise UsageError(f"vectors[{name!r}] must hold {n} finite vectors, one per time, got shape "
                             f"{np.shape(vector)}", parameter="vectors")
        spaces[str(name)] = array
    return times, fields, spaces


def _test_mask(test: np.ndarray | str | tuple, times: np.ndarray) -> np.ndarray:
    """The rows of the test period (a mask as given, or the rows of a period)."""
    if isinstance(test, np.ndarray) and test.dtype == bool:
        if test.shape != times.shape:
            raise UsageError(f"test mask must have one entry per time ({len(times)}), got {test.shape}", parameter="test")
        return test
    start, end = parse_period(test)
    return (times >= np.datetime64(start, "us")) & (times < np.datetime64(end, "us"))


def _position(micros: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of the row at each wanted time (-1: none)."""
    order = np.argsort(micros)
    at = np.minimum(np.searchsorted(micros[order], wanted), len(micros) - 1)
    return np.where(micros[order][at] == wanted, order[at], -1)


def _touches(micros: np.ndarray, test: np.ndarray, longest: int) -> np.ndarray:
    """Whether a test time lies in ``[t, t + longest]`` of each row's time ``t`` (the row or one of its members)."""
    if len(test) == 0:
        return np.zeros(len(micros), bool)
    test = np.sort(test)
    after = np.searchsorted(test, micros)
    return (after < len(test)) & (test[np.minimum(after, len(test) - 1)] <= micros + longest)


def _analogues(space: np.ndarray, times: np.ndarray, queries: np.ndarray, candidates: np.ndarray, k: int,
               longest: int, separation: timedelta | None) -> list[np.ndarray]:
    """The row indices of each query's analogues in ``space`` (nearest first)."""
    pool = space[candidates]
    norms = (pool ** 2).sum(axis=1)
    micros = times.astype(np.int64)
    found = []
    for start in range(0, len(queries), _CHUNK):
        chunk = queries[start:start + _CHUNK]
        distances = norms[None] - 2.0 * space[chunk] @ pool.T + (space[chunk] ** 2).sum(axis=1)[:, None]
        distances[np.abs(micros[candidates][None] - micros[chunk][:, None]) <= longest] = np.inf
        for row in distances:
            order = np.argsort(row, kind="stable")
            order = order[np.isfinite(row[order])]
            found.append(candidates[order[separated(times[candidates[order]], k, separation)]])
    return found

