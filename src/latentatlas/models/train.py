"""The trainer: split, AdamW, warm-up and cosine schedule, early stopping, the PCA guarantee, history.

A time budget is the user's promise: given one without ``epochs``, training
runs until it ends (early stopping waits for at least a fifth of it and
counts optimisation steps, not the epochs of a small set). Time-stamped
images are validated on their latest block of times, after a gap, so that
early stopping and the PCA guarantee are judged on hours whose neighbours
were not trained on. The objective (:mod:`.objectives`) says what besides
reconstruction the codes are shaped for.

Batches are gathered, augmented and corrupted on a background thread
(:func:`~latentatlas.models.prefetch.prefetch`) while the network trains in
bfloat16 autocast where the hardware runs it natively (the PCA path and the
loss stay in float32). Validation always runs in float32, as inference does.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import timedelta
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import BadInputError, UsageError
from ..progress import ProgressCallback, silent
from .augment import Augmentation
from .autoencoder import ConvAutoencoder
from .device import resolve_device, resolve_precision
from .latent import LatentModel
from .losses import LOSSES, Loss
from .objectives import PREDICT, INVARIANT, Batch, Objective, ObjectiveLoss, future_partners, views
from .prefetch import prefetch
from .training_set import ArrayImages, TrainingImages

__all__ = ["TrainConfig", "EpochStats", "History", "train", "split", "split_in_time", "LOSSES", "Corrupt", "PCA_SAMPLE",
           "DEFAULT_EPOCHS", "MIN_PATIENCE_STEPS", "VALIDATION_GAP", "series_step"]

Corrupt = Callable[[np.ndarray, np.random.Generator], np.ndarray]
PCA_SAMPLE = 8192  # training images PCA is fitted on (all of them when fewer)
KEPT_TRAINED, KEPT_PCA = "trained", "pca"
DEFAULT_EPOCHS = 30  # without a time budget
MIN_PATIENCE_STEPS = 300  # early stopping waits at least this many optimisation steps after the best
BUDGET_FLOOR = 0.2  # and, under a time budget, at least this share of it
VALIDATION_GAP = timedelta(days=1)  # between the training times and the validation block
STOPPED_BUDGET, STOPPED_EPOCHS, STOPPED_PATIENCE = "time budget", "epochs", "no improvement"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of one training run.

    Parameters
    ----------
    epochs : int, optional
        Upper bound on passes over the training split; default 30 without
        a time budget and none with one (the budget ends training).
    batch_size : int, default 64
    learning_rate : float, default 2e-3
        Peak AdamW learning rate, reached after a linear warm-up over the
        first 3 % of the run and decayed on a cosine to 5 % of itself.
    weight_decay : float, default 1e-4
    val_fraction : float, default 0.1
        Share of images held out for validation (0 trains on all and
        stops on the training loss; no PCA guarantee then). Time-stamped
        images hold out their latest times (see :func:`split_in_time`).
    loss : {"mse", "l1", "logcosh", "mse+ssim", "l1+ssim"}
    patience : int, default 8
        Epochs without a better validation loss before stopping, but never
        fewer than ``MIN_PATIENCE_STEPS`` optimisation steps nor, under a
        time budget, before a fifth of it has passed.
    seed : int, default 0
        Fixes the split, the initial weights, the batch order and the
        augmentation draws.
    time_budget : float, optional
        Seconds after which training stops, after the batch running then
        (that last, partial epoch is validated and may be kept); the
        schedule then runs on elapsed time instead of epochs.
    device : {"auto", "cpu", "cuda", "mps"}
    precision : {"auto", "float32", "bfloat16"}
        Autocast dtype of the training steps; ``auto`` takes bfloat16
        where it is native (see :mod:`latentatlas.models.device`).
    augment : tuple of str, default ("auto",)
        Augmentation specs (see :mod:`latentatlas.models.augment`);
        ``fit`` resolves ``auto`` from the data.
    objective : str, default "auto"
        What the codes are trained for (see :mod:`latentatlas.models.objectives`).
        ``fit`` resolves ``auto`` from the data kind; :func:`train` alone
        takes time-stamped images for fields and others for pictures.
    """

    epochs: int | None = None
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1
    loss: str = "mse"
    patience: int = 8
    seed: int = 0
    time_budget: float | None = None
    device: str = "auto"
    precision: str = "auto"
    augment: tuple[str, ...] = ("auto",)
    objective: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
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
        augment = (self.augment,) if isinstance(self.augment, str) else tuple(self.augment or ())
        object.__setattr__(self, "augment", augment)
        object.__setattr__(self, "objective", Objective.parse(self.objective).spec)

    @property
    def epoch_limit(self) -> int:
        """The epochs bound in force: ``epochs``, else 30 without a time budget and none with one."""
        if self.epochs is not None:
            return self.epochs
        return DEFAULT_EPOCHS if self.time_budget is None else sys.maxsize

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**asdict(self), "augment": list(self.augment)}


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
    """What happened during training, as written to ``model/history.json``.

    ``pca_val_loss`` is the validation loss of PCA with the code's size,
    fitted on the training split; ``kept`` says whether the kept weights are
    the trained network's (``"trained"``) or that PCA (``"pca"``, when the
    network did not beat it). ``stop_reason`` is what ended training (the
    time budget, the epochs bound, or no improvement), ``split`` how the
    validation images were chosen, ``objective`` what was trained for.
    """

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
    pca_val_loss: float | None = None
    kept: str = KEPT_TRAINED
    device: str = "cpu"
    precision: str = "float32"
    images_per_second: float | None = None
    stop_reason: str = ""
    split: str = "random"
    objective: str = "reconstruct"
    steps: int = 0

    @property
    def loss_name(self) -> str:
        """The validation loss's name: ``MSE``, or ``MSE + invariant`` for another objective."""
        return self.loss.upper() + ("" if self.objective == "reconstruct" else f" + {self.objective}")

    @property
    def advice(self) -> str:
        """What would help a network that did not beat PCA, by what stopped it."""
        if self.stop_reason == STOPPED_EPOCHS:
            return "training stopped at its --epochs bound: raise it, or give a --time-budget without --epochs"
        if self.stop_reason == STOPPED_BUDGET:
            return "training was still improving when the time budget ended: try a longer --time-budget"
        if not self.stop_reason:  # a history written before the reason was recorded
            return "try a longer --time-budget, more images, --augment, or a smaller --preset"
        return ("the validation loss stopped improving: more images, --augment, or a smaller --preset "
                "may help; a longer budget will not")

    @property
    def comparison(self) -> str | None:
        """One line comparing the kept model with PCA on validation, or None without a PCA score.

        E.g. ``validation MSE 0.0031, PCA 0.0049: 2.0 dB better``; when PCA
        was kept it says so and names what to try.
        """
        if self.pca_val_loss is None or not self.n_val:
            return None
        name = self.loss_name
        if self.kept == KEPT_PCA:
            trained = min((e.val_loss for e in self.epochs if e.val_loss is not None), default=math.inf)
            return (f"validation {name}: the trained network ({trained:.4g}) did not beat PCA ({self.pca_val_loss:.4g}), "
                    f"so the kept model is PCA; {self.advice}")
        if self.best_loss <= 0 or self.pca_val_loss <= 0 or name != "MSE":
            return f"validation {name} {self.best_loss:.4g}, PCA {self.pca_val_loss:.4g}"
        gain = 10.0 * math.log10(self.pca_val_loss / self.best_loss)
        return f"validation {name} {self.best_loss:.4g}, PCA {self.pca_val_loss:.4g}: {gain:.1f} dB better"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with the :attr:`comparison` line)."""
        return {**asdict(self), "comparison": self.comparison}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "History":
        """Inverse of :meth:`to_dict` (histories written before a field existed get its default)."""
        known = {f.name for f in fields(cls)}
        epochs = [EpochStats(**e) for e in data.get("epochs", [])]
        return cls(**{**{k: v for k, v in data.items() if k in known}, "epochs": epochs})


def train(
    model: LatentModel,
    inputs: np.ndarray | TrainingImages,
    config: TrainConfig,
    targets: np.ndarray | None = None,
    progress: ProgressCallback = silent,
    corrupt: Corrupt | None = None,
    augment: Augmentation = Augmentation(),
    times: np.ndarray | None = None,
    places: Sequence[Any] | None = None,
) -> History:
    """Train ``model`` in place to map ``inputs`` (or corrupted ``inputs``) to ``targets`` (default: ``inputs``).

    Parameters
    ----------
    model : LatentModel
        Its network is trained; the best weights (by validation loss) are
        loaded back at the end. With a vector code and a validation split,
        the kept model is never worse than PCA of the code's size on the
        objective's validation loss: when the trained network does not beat
        it, the network is replaced by that PCA (see :attr:`History.kept`).
    inputs : ndarray of shape (N, C, H, W), float32 in [0, 1], or TrainingImages
        The images, in memory or streamed (see
        :mod:`latentatlas.models.training_set`).
    config : TrainConfig
    targets : ndarray of shape (N, C', H, W), optional
        In memory, without ``augment``, for the ``reconstruct`` objective.
    progress : callable
        Receives ``("pca", 0, 1)`` while PCA is fitted, then
        ``("train", batches_done, batches_total, epoch=..., epochs=...,
        train_loss=..., elapsed=..., budget=...)``; the last call has
        ``batches_done == batches_total`` even when the budget stopped early.
    corrupt : callable, optional
        ``corrupt(x, rng)`` maps a batch ``(n, C, H, W)`` to the corrupted
        inputs the network sees, e.g. a
        :class:`~latentatlas.models.corruptions.Corruption`. Each training
        batch gets a fresh draw and the validation images one fixed draw,
        all from ``config.seed``. PCA is fitted to one corrupted draw of the
        training images, mapped to the clean targets by least squares (a
        linear denoiser).
    augment : Augmentation
        Applied to each training batch (to the clean images, before
        ``corrupt``); validation images are never augmented. For the
        ``invariant`` objective these steps draw the two views.
    times : ndarray of datetime64, optional
        One per image: validation takes the latest block of times (see
        :func:`split_in_time`) and ``predict`` pairs each image with the one
        of the same place a lead later.
    places : sequence, optional
        One hashable per image saying which images show the same place (a
        tile's row and column); default: all the same place.

    Returns
    -------
    History
    """
    config = replace(config, time_budget=capped_budget(config.time_budget))
    objective = Objective.parse(config.objective).choose(times is not None, times is not None, series_step(times))
    images = inputs if not isinstance(inputs, np.ndarray) else ArrayImages(inputs)
    n = len(images)
    if n < 2:
        raise BadInputError(f"need at least 2 images to train, got {n}")
    if targets is not None and (augment or not isinstance(inputs, np.ndarray)):
        raise UsageError("separate targets need in-memory inputs and no augmentation")
    if targets is not None and objective.kind != "reconstruct":
        raise UsageError(f"objective {objective.kind} trains on images that are their own targets",
                         parameter="objective")
    objective.check(model.net.config.bottleneck == "linear", times is not None, corrupt is not None)
    device = resolve_device(config.device)
    dtype = resolve_precision(config.precision, device)
    if times is not None:
        train_idx, val_idx, split_text = split_in_time(times, config.val_fraction)
    else:
        (train_idx, val_idx), split_text = split(n, config.val_fraction, config.seed), "random"
    val_rng, batch_rng, pca_rng = np.random.default_rng(config.seed).spawn(3)
    target_of = (lambda positions: images.take(positions)) if targets is None else (lambda p: targets[p])
    view_of = views(augment) if objective.kind == INVARIANT else None
    partners = None
    if objective.kind == PREDICT:
        keys = [0] * n if places is None else list(places)
        partners = future_partners(times, keys, objective.leads, train_idx)
        partners[:, val_idx] = future_partners(times, keys, objective.leads, val_idx)[:, val_idx]
        if not (partners[:, train_idx] >= 0).any():
            raise UsageError(f"objective {objective.spec} found no training image with one of the same place a "
                             "lead later; choose a lead that is a multiple of the images' time step",
                             parameter="objective")

    def make_batch(positions: np.ndarray, rng: np.random.Generator, augmented: bool, futures: bool = True) -> Batch:
        y = target_of(positions)
        if view_of is not None:
            view = view_of(y, rng)
            if augmented:
                y = view_of(y, rng)
            return Batch(y, y, view=view)
        if augmented and augment:
            y = augment(y, rng)
        x = y if targets is None else images.take(positions)
        batch = Batch(corrupt(x, rng) if corrupt is not None else x, y)
        if partners is not None and futures:
            batch.futures, batch.has_future = _futures(images, partners[:, positions], y)
        return batch

    def pair(positions: np.ndarray, rng: np.random.Generator, augmented: bool) -> tuple[np.ndarray, np.ndarray]:
        batch = make_batch(positions, rng, augmented, futures=False)
        return batch.x, batch.y

    validation = make_batch(val_idx, val_rng, False).to(torch.device("cpu")) if len(val_idx) else None
    loss_fn = LOSSES[config.loss]
    history = History(loss=config.loss, n_train=len(train_idx), n_val=len(val_idx), device=str(device),
                      precision=str(dtype).removeprefix("torch."), split=split_text, objective=objective.spec)
    mean = _mean_image(target_of, train_idx)
    if validation is not None:
        history.baseline_val_loss = _score(loss_fn, mean.expand_as(validation.y), validation.y)
    scale = history.baseline_val_loss
    if scale is None:  # no validation split: the images' variance from a training sample
        sample = torch.from_numpy(target_of(train_idx[:256]))
        scale = _score(loss_fn, mean.expand_as(sample), sample)
    task = ObjectiveLoss(objective, model.net.config.code_size, loss_fn, max(scale, 1e-8)).to(device)

    progress("pca", 0, 1)
    net = model.net.to(device, memory_format=torch.channels_last)
    pca_net = _pca_twin(net, pair, train_idx, pca_rng, config.seed)
    if pca_net is not None and validation is not None:
        pca_task = copy.deepcopy(task)
        if partners is not None:
            pca_task.fit_heads(_code_pairs(pca_net, images, partners, train_idx))
        history.pca_val_loss = _evaluate(pca_net.to(device), pca_task, validation, config.batch_size, device)
    progress("pca", 1, 1)

    optimiser = torch.optim.AdamW([*net.parameters(), *task.parameters()], lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    bounds = _batch_bounds(len(train_idx), config.batch_size)
    epochs = config.epoch_limit
    total = len(bounds) * epochs
    patience_steps = max(config.patience * len(bounds), MIN_PATIENCE_STEPS)
    best_state, best_step, step, trained, training_seconds = copy.deepcopy(net.state_dict()), 0, 0, 0, 0.0
    start = time.perf_counter()
    if validation is not None:
        history.initial_val_loss = _evaluate(net, task, validation, config.batch_size, device)
        history.best_loss = history.initial_val_loss

    def report(**info: Any) -> None:
        progress("train", step, total, epochs=None if epochs == sys.maxsize else epochs,
                 elapsed=time.perf_counter() - start, budget=config.time_budget, **info)

    history.stop_reason = STOPPED_EPOCHS
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        net.train()
        permutation = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
        batches = prefetch(make_batch(permutation[lo:hi], batch_rng, True) for lo, hi in bounds)
        running, seen = 0.0, 0
        for batch in batches:
            lr = _learning_rate(config, step / total, time.perf_counter() - start)
            for group in optimiser.param_groups:
                group["lr"] = lr
            loss = task(net, batch.to(device), dtype)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimiser.step()
            running += loss.item() * len(batch.x)
            seen += len(batch.x)
            step += 1
            report(epoch=epoch, train_loss=running / seen)
            if _out_of_time(config, start):
                break  # mid-epoch: the batches so far are scored and kept like a whole epoch
        batches.close()
        trained += seen
        training_seconds += time.perf_counter() - epoch_start
        train_loss = running / seen
        val_loss = _evaluate(net, task, validation, config.batch_size, device) if validation is not None else None
        history.epochs.append(EpochStats(epoch, train_loss, val_loss, time.perf_counter() - epoch_start, lr))
        current = val_loss if val_loss is not None else train_loss
        if current < history.best_loss:
            history.best_loss, history.best_epoch, best_step = current, epoch, step
            best_state = copy.deepcopy(net.state_dict())
        if _out_of_time(config, start):
            history.stop_reason = STOPPED_BUDGET
            break
        if step - best_step >= patience_steps and _past_floor(config, start):
            history.stop_reason = STOPPED_PATIENCE
            break
        report(epoch=epoch, train_loss=train_loss, val_loss=val_loss)
    history.stopped_early = history.stop_reason != STOPPED_EPOCHS
    history.steps = step
    step = total
    report(epoch=len(history.epochs), train_loss=history.epochs[-1].train_loss,
           val_loss=history.epochs[-1].val_loss)

    net.load_state_dict(best_state)
    if history.pca_val_loss is not None and history.best_loss > history.pca_val_loss:
        net, history.kept, history.best_loss, history.best_epoch = pca_net, KEPT_PCA, history.pca_val_loss, 0
    model.net = net.cpu().eval()
    history.seconds = time.perf_counter() - start
    history.images_per_second = trained / training_seconds if training_seconds else None
    return history


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted training and validation positions of ``n`` items, as :func:`train` splits them."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction)) if val_fraction > 0 else 0
    n_val = min(max(n_val, 1 if val_fraction > 0 else 0), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def split_in_time(times: np.ndarray, val_fraction: float,
                  gap: timedelta = VALIDATION_GAP) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and validation positions of time-stamped items: the latest times validate, after a gap.

    The validation block is the latest ``val_fraction`` of the items (whole
    times: the tiles of one time stay together); items less than ``gap``
    before it are used for neither, so no validation time has a trained
    neighbour closer than the gap. A series too short for the gap (it would
    leave fewer than half the other items to train on) gets a tenth of its
    span instead. Returns the positions and a line saying what was done.
    """
    stamps = np.asarray(times, "datetime64[us]")
    train_idx, val_idx = split(len(stamps), val_fraction, 0)
    if not len(val_idx):
        return train_idx, val_idx, "none"
    order = np.argsort(stamps, kind="stable")
    first = stamps[order[len(stamps) - len(val_idx)]]
    span = stamps.max() - stamps.min()
    gap_us = np.timedelta64(int(gap.total_seconds() * 1e6), "us")
    if np.count_nonzero(stamps < first - gap_us) < (len(stamps) - len(val_idx)) / 2:
        gap_us = span // 10
    val = np.flatnonzero(stamps >= first)
    kept = np.flatnonzero(stamps < first - gap_us)
    if len(kept) < 1 or len(val) >= len(stamps):
        raise BadInputError(f"cannot hold out the latest times for validation: the {len(stamps)} images "
                            "span too few distinct times; give --val 0")
    hours = gap_us / np.timedelta64(1, "h")
    text = (f"latest times from {str(first)[:16]} ({len(val)} images), "
            f"{hours:g} h gap ({len(stamps) - len(val) - len(kept)} images unused)")
    return kept, val, text


def series_step(times: np.ndarray | None) -> timedelta | None:
    """The series' most common positive time step, or None."""
    if times is None or len(times) < 2:
        return None
    values, counts = np.unique(np.diff(np.unique(np.asarray(times, "datetime64[us]"))), return_counts=True)
    return values[counts.argmax()].item() if len(values) else None


def _futures(images: TrainingImages, partners: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images at each lead after a batch (``(leads, n, ...)``, zeros where missing) and where they exist."""
    has = partners >= 0
    futures = np.zeros((len(partners), *now.shape), np.float32)
    for row, found in enumerate(partners):
        if has[row].any():
            futures[row, has[row]] = images.take(found[has[row]])
    return futures, has


def _code_pairs(net: ConvAutoencoder, images: TrainingImages, partners: np.ndarray,
                train_idx: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Codes of (a sample of) the training images now and a lead later, per lead."""
    sample = train_idx[:PCA_SAMPLE]
    pairs = []
    for found in partners[:, sample]:
        has = found >= 0
        now, later = (sample[has], found[has]) if has.any() else (sample[:0], sample[:0])
        pairs.append((_encode(net, images, now), _encode(net, images, later)))
    return pairs


@torch.inference_mode()
def _encode(net: ConvAutoencoder, images: TrainingImages, positions: np.ndarray) -> np.ndarray:
    """The codes of the images at ``positions``, in float32."""
    if not len(positions):
        return np.zeros((0, net.config.code_size), np.float32)
    net.eval()
    x = torch.from_numpy(images.take(positions)).to(next(net.parameters()).device)
    return net.encode(x.contiguous(memory_format=torch.channels_last)).float().cpu().numpy()


def _past_floor(config: TrainConfig, start: float) -> bool:
    """Whether early stopping may act: always without a budget, after a fifth of it with one."""
    return config.time_budget is None or time.perf_counter() - start >= BUDGET_FLOOR * config.time_budget


def _pca_twin(net: ConvAutoencoder, pair: Callable, train_idx: np.ndarray, rng: np.random.Generator,
              seed: int) -> ConvAutoencoder | None:
    """The network as PCA of (a sample of) the training images: ``net`` itself when it has the linear path.

    None for a feature-map bottleneck, which has no vector code to compare.
    """
    config = net.config
    if config.bottleneck != "linear":
        return None
    if len(train_idx) > PCA_SAMPLE:
        train_idx = np.sort(rng.choice(train_idx, PCA_SAMPLE, replace=False))
    x, y = pair(train_idx, rng, False)
    twin = net if config.linear_path else ConvAutoencoder(replace(config, linear_path=True, output="identity"))
    twin.initialise_linear_path(torch.from_numpy(np.asarray(x)).cpu(), torch.from_numpy(np.asarray(y)), seed=seed)
    return twin.to(next(net.parameters()).device, memory_format=torch.channels_last)


def _mean_image(target_of: Callable, positions: np.ndarray, chunk: int = 1024) -> torch.Tensor:
    total = None
    for lo in range(0, len(positions), chunk):
        part = target_of(positions[lo:lo + chunk]).astype(np.float64).sum(axis=0, keepdims=True)
        total = part if total is None else total + part
    return torch.from_numpy((total / len(positions)).astype(np.float32))


MAX_SECONDS_ENV = "LATENTATLAS_MAX_SECONDS"


def capped_budget(budget: float | None) -> float | None:
    """``budget`` capped by the environment variable LATENTATLAS_MAX_SECONDS, when set.

    It bounds every training run whatever its ``--time-budget`` or
    ``--epochs`` say (the tests of the docs run their commands with it).
    """
    raw = os.environ.get(MAX_SECONDS_ENV, "").strip()
    if not raw:
        return budget
    try:
        cap = float(raw)
    except ValueError:
        raise UsageError(f"{MAX_SECONDS_ENV} must be a number of seconds, got {raw!r}") from None
    if not cap > 0:
        raise UsageError(f"{MAX_SECONDS_ENV} must be > 0 seconds, got {raw!r}")
    return cap if budget is None else min(budget, cap)


def _out_of_time(config: TrainConfig, start: float) -> bool:
    return config.time_budget is not None and time.perf_counter() - start >= config.time_budget


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch slices; a last batch of one (which batch norm cannot use) joins the one before."""
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [(lo, hi) for lo, hi in zip(starts, starts[1:] + [n])]


WARMUP = 0.03


def _learning_rate(config: TrainConfig, fraction: float, elapsed: float) -> float:
    if config.time_budget is not None:
        fraction = min(1.0, elapsed / config.time_budget)
    if fraction < WARMUP:
        return config.learning_rate * (0.1 + 0.9 * fraction / WARMUP)
    fraction = (fraction - WARMUP) / (1.0 - WARMUP)
    floor = 0.05 * config.learning_rate
    return floor + (config.learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def _score(loss_fn: Loss, prediction: torch.Tensor, target: torch.Tensor) -> float:
    return float(loss_fn(prediction, target))


@torch.inference_mode()
def _evaluate(net: nn.Module, task: ObjectiveLoss, batch: Batch, batch_size: int, device: torch.device) -> float:
    """The objective's loss over the validation ``batch``, in float32, on decoded values clipped to [0, 1]."""
    net.eval()
    clipped = _Clipped(net)
    total = 0.0
    for start in range(0, len(batch.x), batch_size):
        piece = batch.rows(slice(start, start + batch_size)).to(device)
        total += float(task(clipped, piece, torch.float32)) * len(piece.x)
    return total / len(batch.x)


class _Clipped(nn.Module):
    """The network as users get it back: decoded values clipped to [0, 1]."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.net.decode(code).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).clamp(0.0, 1.0)
