"""The trainer: split, AdamW, loss, cosine schedule, early stopping, best checkpoint, history."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .errors import BadInputError, UsageError
from .models.latent import LatentModel
from .progress import ProgressCallback, silent

__all__ = ["TrainConfig", "EpochStats", "History", "train", "split", "LOSSES", "Corrupt"]

Corrupt = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _log_cosh(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = prediction - target
    return torch.mean(x + nn.functional.softplus(-2.0 * x) - math.log(2.0))


LOSSES = {
    "mse": nn.functional.mse_loss,
    "l1": nn.functional.l1_loss,
    "logcosh": _log_cosh,
}


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Parameters
    ----------
    epochs : int, default 30
        Upper bound on passes over the training split.
    batch_size : int, default 64
    learning_rate : float, default 2e-3
        Peak AdamW learning rate, decayed on a cosine to 5 % of itself.
    weight_decay : float, default 1e-4
    val_fraction : float, default 0.1
        Share of images held out for validation (0 trains on all and
        stops on the training loss).
    loss : {"mse", "l1", "logcosh"}
    patience : int, default 8
        Epochs without a better validation loss before stopping.
    seed : int, default 0
        Fixes the split, the initial weights and the batch order.
    time_budget : float, optional
        Seconds after which training stops, after the batch running then
        (that last, partial epoch is validated and may be kept); the
        schedule then runs on elapsed time instead of epochs.
    """

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    loss: str = "mse"
    patience: int = 8
    seed: int = 0
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise UsageError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError(f"val must be in [0, 1), got {self.val_fraction}")
        if self.loss not in LOSSES:
            raise UsageError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.learning_rate <= 0:
            raise UsageError(f"learning rate must be > 0, got {self.learning_rate}")
        if self.patience < 1:
            raise UsageError(f"patience must be >= 1, got {self.patience}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise UsageError(f"time budget must be > 0 seconds, got {self.time_budget}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass
class EpochStats:
    """Losses and timing of one epoch."""

    epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float
    learning_rate: float


@dataclass
class History:
    """What happened during training, as written to ``model/history.json``."""

    loss: str
    n_train: int
    n_val: int
    baseline_val_loss: float | None = None
    initial_val_loss: float | None = None
    best_epoch: int = 0
    best_loss: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0
    epochs: list[EpochStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        """Inverse of :meth:`to_dict`."""
        epochs = [EpochStats(**e) for e in data.get("epochs", [])]
        return cls(**{**data, "epochs": epochs})


def train(
    model: LatentModel,
    inputs: np.ndarray,
    config: TrainConfig,
    targets: np.ndarray | None = None,
    progress: ProgressCallback = silent,
    corrupt: Corrupt | None = None,
) -> History:
    """Train ``model`` in place to map ``inputs`` (or corrupted ``inputs``) to ``targets`` (default: ``inputs``).

    Parameters
    ----------
    model : LatentModel
        Its network is trained; the best weights (by validation loss) are
        loaded back at the end.
    inputs : ndarray of shape (N, C, H, W), float32 in [0, 1]
    config : TrainConfig
    targets : ndarray of shape (N, C', H, W), optional
    progress : callable
        Receives ``("train", batches_done, batches_total, epoch=..., ...)``.
    corrupt : callable, optional
        ``corrupt(x, rng)`` maps a batch ``(n, C, H, W)`` to the corrupted
        inputs the network sees, e.g. a
        :class:`~latentatlas.models.corruptions.Corruption`. Each training
        batch gets a fresh draw and the validation images one fixed draw,
        all from ``config.seed``. The linear path, if any, starts as PCA of
        one corrupted draw of the training images, mapped to the clean
        targets by least squares (a linear denoiser).

    Returns
    -------
    History
    """
    n = len(inputs)
    if n < 2:
        raise BadInputError(f"need at least 2 images to train, got {n}")
    targets = inputs if targets is None else targets
    train_idx, val_idx = split(n, config.val_fraction, config.seed)
    n_val = len(val_idx)
    x_train, y_train = torch.from_numpy(inputs[train_idx]), torch.from_numpy(targets[train_idx])
    x_val, y_val = torch.from_numpy(inputs[val_idx]), torch.from_numpy(targets[val_idx])
    val_rng, batch_rng = np.random.default_rng(config.seed).spawn(2)
    if corrupt is not None:
        x_val = torch.from_numpy(corrupt(x_val.numpy(), val_rng))

    loss_fn = LOSSES[config.loss]
    history = History(loss=config.loss, n_train=len(train_idx), n_val=n_val)
    if n_val:
        baseline = y_train.mean(dim=0, keepdim=True).expand_as(y_val)
        history.baseline_val_loss = float(loss_fn(baseline, y_val))

    net = model.net.to(memory_format=torch.channels_last)
    if net.config.linear_path:
        x_init = x_train if corrupt is None else torch.from_numpy(corrupt(x_train.numpy(), batch_rng))
        net.initialise_linear_path(x_init, y_train, seed=config.seed)
        del x_init
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    bounds = _batch_bounds(len(train_idx), config.batch_size)
    total = len(bounds) * config.epochs
    best_state, stale, start, step = copy.deepcopy(net.state_dict()), 0, time.perf_counter(), 0
    if n_val:
        history.initial_val_loss = _evaluate(net, x_val, y_val, loss_fn, config.batch_size)
        history.best_loss = history.initial_val_loss

    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        net.train()
        permutation = torch.randperm(len(train_idx), generator=generator)
        running, seen = 0.0, 0
        for lo, hi in bounds:
            index = permutation[lo:hi]
            lr = _learning_rate(config, step / total, time.perf_counter() - start)
            for group in optimiser.param_groups:
                group["lr"] = lr
            x = x_train[index]
            if corrupt is not None:
                x = torch.from_numpy(corrupt(x.numpy(), batch_rng))
            x = x.contiguous(memory_format=torch.channels_last)
            loss = loss_fn(net(x), y_train[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            running += loss.item() * len(index)
            seen += len(index)
            step += 1
            progress("train", step, total, epoch=epoch, epochs=config.epochs, train_loss=running / seen)
            if _out_of_time(config, start):
                break  # mid-epoch: the batches so far are scored and kept like a whole epoch
        train_loss = running / seen
        val_loss = _evaluate(net, x_val, y_val, loss_fn, config.batch_size) if n_val else None
        history.epochs.append(EpochStats(epoch, train_loss, val_loss, time.perf_counter() - epoch_start, lr))
        progress("train", step, total, epoch=epoch, epochs=config.epochs, train_loss=train_loss, val_loss=val_loss)
        current = val_loss if val_loss is not None else train_loss
        if current < history.best_loss:
            history.best_loss, history.best_epoch, stale = current, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
        if stale >= config.patience or _out_of_time(config, start):
            history.stopped_early = epoch < config.epochs or seen < len(train_idx)
            break

    net.load_state_dict(best_state)
    model.net = net.eval()
    history.seconds = time.perf_counter() - start
    return history


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted training and validation positions of ``n`` items, as :func:`train` splits them."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    n_val = min(max(n_val, 1 if val_fraction > 0 else 0), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _out_of_time(config: TrainConfig, start: float) -> bool:
    return config.time_budget is not None and time.perf_counter() - start >= config.time_budget


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch slices; a last batch of one (which batch norm cannot use) joins the one before."""
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [(lo, hi) for lo, hi in zip(starts, starts[1:] + [n])]


def _learning_rate(config: TrainConfig, fraction: float, elapsed: float) -> float:
    if config.time_budget is not None:
        fraction = min(1.0, elapsed / config.time_budget)
    floor = 0.05 * config.learning_rate
    return floor + (config.learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * fraction))


@torch.inference_mode()
def _evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, batch_size: int) -> float:
    net.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].contiguous(memory_format=torch.channels_last)
        prediction = net(xb).clamp(0.0, 1.0)  # what users get back: decoded values are clipped
        total += float(loss_fn(prediction, y[start:start + batch_size])) * len(xb)
    return total / len(x)
