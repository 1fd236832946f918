"""What the network is trained for: reconstruction, codes that ignore nuisance, or codes whose futures are near.

::

    reconstruct      the decoded code is the input (the autoencoder of the articles)
    invariant        and the codes of two augmented views of one image agree: their squared
                     distance, as a share of the codes' spread in the batch, is added to the
                     loss (weighted by INVARIANCE_WEIGHT times the variance of the images), so
                     that search ignores shifts and lighting (and the training's own
                     augmentation, such as mirrors)
    predict:LEADS    and a linear map of the code, decoded, is the field LEAD later (one map per
                     lead, trained on the pairs the source's times give), so that near codes have
                     near futures: what analogue forecasts need
    auto             chosen by data kind (:meth:`Objective.choose`)

The linear maps of ``predict`` start as the identity (persistence) and are
used in training only: the saved model is the autoencoder, and codes,
search and decoding work as for ``reconstruct``. The objective is stored
with the model's training settings; models saved before it existed were
trained to reconstruct.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..checks import parse_duration
from ..errors import UsageError
from .augment import Augmentation

__all__ = ["Objective", "Batch", "ObjectiveLoss", "future_partners", "views", "OBJECTIVES", "VIEWS", "AUTO"]

RECONSTRUCT, INVARIANT, PREDICT, AUTO = "reconstruct", "invariant", "predict", "auto"
OBJECTIVES = f"{RECONSTRUCT}, {INVARIANT}, {PREDICT}:LEAD[,LEAD] (e.g. predict:3h) or {AUTO}"
VIEWS = ("shift:0.125", "brightness:0.1", "contrast:0.2")  # what the two views of ``invariant`` differ by
INVARIANCE_WEIGHT = 1.0
AUTO_LEADS = (timedelta(hours=3),)


@dataclass(frozen=True)
class Objective:
    """One training objective (see the module's table)."""

    kind: str = RECONSTRUCT
    leads: tuple[timedelta, ...] = ()

    @classmethod
    def parse(cls, spec: "str | Objective | None") -> "Objective":
        """``"reconstruct"``, ``"invariant"``, ``"predict:3h,12h"`` or ``"auto"`` (None: reconstruct).

        Raises
        ------
        UsageError
            On an unknown kind, or leads that are missing, not durations, or given to another kind.
        """
        if isinstance(spec, Objective):
            return spec
        kind, _, leads = (spec or RECONSTRUCT).strip().lower().partition(":")
        if kind not in (RECONSTRUCT, INVARIANT, PREDICT, AUTO):
            raise UsageError(f"objective must be one of {OBJECTIVES}, got {spec!r}", parameter="objective")
        if kind != PREDICT:
            if leads:
                raise UsageError(f"objective {kind!r} takes no lead, got {spec!r}", parameter="objective")
            return cls(kind)
        parsed = sorted({parse_duration(part.strip(), "objective") for part in leads.split(",") if part.strip()})
        if not parsed:
            raise UsageError(f"objective predict needs one or more leads such as predict:3h, got {spec!r}",
                             parameter="objective")
        return cls(PREDICT, tuple(parsed))

    @property
    def spec(self) -> str:
        """The objective as :meth:`parse` reads it, e.g. ``predict:3h,12h``."""
        if self.kind != PREDICT:
            return self.kind
        return f"{PREDICT}:{','.join(_hours(lead) for lead in self.leads)}"

    def choose(self, time_stamped: bool, georeferenced: bool, step: timedelta | None = None) -> "Objective":
        """``auto`` resolved by data kind; any other objective unchanged.

        Time-stamped fields train to predict 3 h ahead (analogue skill is
        their task), or the first multiple of their time ``step`` past it;
        everything else trains to reconstruct. See ``docs/model.md`` for the
        measurements behind this choice.
        """
        if self.kind != AUTO:
            return self
        if time_stamped and georeferenced:
            if step is None or step <= timedelta(0):
                return Objective(PREDICT, AUTO_LEADS)
            return Objective(PREDICT, tuple(step * -(-lead // step) for lead in AUTO_LEADS))
        return Objective(RECONSTRUCT)

    def check(self, has_vector_code: bool, time_stamped: bool, corrupted: bool = False) -> None:
        """Raise :class:`UsageError` when the model or the data cannot train this objective."""
        if self.kind in (INVARIANT, PREDICT) and corrupted:
            raise UsageError(f"objective {self.kind} trains a plain autoencoder; a restoration model "
                             "(--corrupt) trains to reconstruct", parameter="objective")
        if self.kind in (INVARIANT, PREDICT) and not has_vector_code:
            raise UsageError(f"objective {self.kind} shapes a vector code, which the conv bottleneck has not",
                             parameter="objective")
        if self.kind == PREDICT and not time_stamped:
            raise UsageError("objective predict needs images with times (fields of a time series), "
                             "so that each has a field a lead later", parameter="objective")


def _hours(lead: timedelta) -> str:
    seconds = int(lead.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}min"


def future_partners(times: np.ndarray, keys: np.ndarray, leads: tuple[timedelta, ...],
                    allowed: np.ndarray) -> np.ndarray:
    """``(len(leads), n)`` positions of the item with the same key at each time plus lead, or -1.

    ``times`` are ``datetime64`` (one per item), ``keys`` say which items
    are the same place (a tile's row and column; one value for whole
    fields); only positions in ``allowed`` are partners.
    """
    micros = np.asarray(times, "datetime64[us]").astype(np.int64).tolist()
    keys = list(keys)
    lookup = {(micros[i], keys[i]): i for i in np.asarray(allowed).tolist()}
    partners = np.full((len(leads), len(micros)), -1, np.int64)
    for row, lead in enumerate(leads):
        step = int(lead.total_seconds() * 1e6)
        partners[row] = [lookup.get((t + step, k), -1) for t, k in zip(micros, keys)]
    return partners


@dataclass
class Batch:
    """One batch of an objective: inputs and targets, and a second view or the futures where it has them."""

    x: np.ndarray
    y: np.ndarray
    view: np.ndarray | None = None
    futures: np.ndarray | None = None  # (leads, n, C, H, W); zeros where there is none
    has_future: np.ndarray | None = None  # (leads, n) bool

    def to(self, device: torch.device) -> "Batch":
        """The arrays (or tensors) as tensors on ``device``."""
        def move(a: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
            if a is None:
                return None
            tensor = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
            return tensor.to(device, non_blocking=True)
        return Batch(*(move(a) for a in (self.x, self.y, self.view, self.futures, self.has_future)))

    def rows(self, part: slice) -> "Batch":
        """The items ``part`` of the batch (the futures are cut on their second axis)."""
        def cut(a, axis: int):
            return None if a is None else (a[part] if axis == 0 else a[:, part])
        return Batch(cut(self.x, 0), cut(self.y, 0), cut(self.view, 0), cut(self.futures, 1),
                     cut(self.has_future, 1))


class ObjectiveLoss(nn.Module):
    """The loss of one objective over a batch; holds the trained linear maps of ``predict``.

    Parameters
    ----------
    objective : Objective
    code_size : int
    reconstruction : callable
        ``loss(prediction, target)``, e.g. MSE.
    scale : float
        The variance of the images (the mean image's loss): the
        invariance term is counted in these units.
    """

    def __init__(self, objective: Objective, code_size: int, reconstruction: Callable, scale: float):
        super().__init__()
        self.objective = objective
        self.reconstruction = reconstruction
        self.scale = scale
        self.heads = nn.ModuleList(_identity(code_size) for _ in objective.leads)

    def forward(self, net: nn.Module, batch: Batch, dtype: torch.dtype) -> torch.Tensor:
        """The objective's loss of ``net`` on ``batch`` (tensors), the network run under ``dtype`` autocast."""
        x = batch.x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
            if self.objective.kind == RECONSTRUCT:
                return self.reconstruction(net(x).float(), batch.y)
            code = net.encode(x)
            total = self.reconstruction(net.decode(code).float(), batch.y)
            if self.objective.kind == INVARIANT:
                other = net.encode(batch.view.contiguous(memory_format=torch.channels_last))
                total = total + INVARIANCE_WEIGHT * self.scale * _disagreement(code.float(), other.float())
            for head, future, has in zip(self.heads, batch.futures if batch.futures is not None else (),
                                         batch.has_future if batch.has_future is not None else ()):
                if bool(has.any()):
                    predicted = net.decode(head(code.float()[has])).float()
                    total = total + self.reconstruction(predicted, future[has]) / len(self.heads)
        return total

    @torch.no_grad()
    def fit_heads(self, code_pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Set each lead's map by least squares from codes now to the codes a lead later (for PCA's twin)."""
        for head, (now, later) in zip(self.heads, code_pairs):
            if len(now) <= now.shape[1]:
                continue  # too few pairs: keep persistence
            ones = np.hstack([now, np.ones((len(now), 1), now.dtype)])
            solution, *_ = np.linalg.lstsq(ones, later, rcond=None)
            head.weight.copy_(torch.from_numpy(solution[:-1].T.astype(np.float32)))
            head.bias.copy_(torch.from_numpy(solution[-1].astype(np.float32)))


def _identity(size: int) -> nn.Linear:
    layer = nn.Linear(size, size)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(size))
        layer.bias.zero_()
    return layer


def _disagreement(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between paired codes, as a share of the codes' total variance (scale-free)."""
    spread = torch.cat([a, b]).var(dim=0).sum().clamp_min(1e-8)
    return ((a - b) ** 2).sum(dim=1).mean() / spread


def views(augment: Augmentation) -> Augmentation:
    """The augmentation drawing ``invariant``'s views: :data:`VIEWS` and the training's own steps (which win)."""
    steps = {spec.partition(":")[0]: spec for spec in VIEWS}
    steps.update({spec.partition(":")[0]: spec for spec in augment.specs})
    return Augmentation.parse(list(steps.values()))
