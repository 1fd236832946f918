"""Training for real on small data: the loss falls, seeds reproduce, early stopping works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentatlas.errors import BadInputError, UsageError
from latentatlas.models import AutoencoderConfig, LatentModel
from latentatlas.preprocess import PreprocessConfig
from latentatlas.sources.samples import load_sample
from latentatlas.train import TrainConfig, split, train


@pytest.fixture(scope="module")
def digit_inputs() -> np.ndarray:
    data = load_sample("digits")
    return (np.stack(data.images[:400])[:, None] / 255.0).astype(np.float32)


def _model(seed: int = 0, code_size: int = 16) -> LatentModel:
    architecture = AutoencoderConfig(1, 1, 8, 8, code_size=code_size, base_channels=16)
    return LatentModel.create(architecture, PreprocessConfig(height=8, width=8, channels=1), seed=seed)


def test_validation_loss_falls_well_below_the_mean_image(digit_inputs):
    model = _model()
    history = train(model, digit_inputs, TrainConfig(epochs=12, batch_size=32, seed=0))
    assert history.n_val == 40 and history.n_train == 360
    assert history.best_loss < 0.25 * history.baseline_val_loss
    assert history.epochs[-1].train_loss < history.epochs[0].train_loss
    val = digit_inputs[split(400, 0.1, 0)[1]]
    mse = float(np.mean((model.reconstruct(val) - val) ** 2))
    assert mse == pytest.approx(history.best_loss, rel=1e-3)  # the best weights are the ones kept


def test_same_seed_same_model_other_seed_other_model(digit_inputs):
    config = TrainConfig(epochs=2, batch_size=64, seed=3)
    a, b, c = _model(seed=3), _model(seed=3), _model(seed=4)
    torch.set_num_threads(torch.get_num_threads())
    train(a, digit_inputs[:128], config)
    train(b, digit_inputs[:128], config)
    train(c, digit_inputs[:128], TrainConfig(epochs=2, batch_size=64, seed=4))
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint


@pytest.mark.parametrize("loss", ["l1", "logcosh"])
def test_other_losses_train(digit_inputs, loss):
    history = train(_model(), digit_inputs[:300], TrainConfig(epochs=8, batch_size=32, loss=loss))
    assert history.loss == loss and history.best_loss < history.baseline_val_loss


def test_early_stopping_and_time_budget(digit_inputs):
    stopped = train(_model(), digit_inputs[:100], TrainConfig(epochs=50, learning_rate=1e-9, patience=2))
    assert stopped.stopped_early and len(stopped.epochs) < 50
    budget = train(_model(), digit_inputs[:100], TrainConfig(epochs=1000, time_budget=0.5))
    assert budget.stopped_early and len(budget.epochs) < 1000


def test_the_time_budget_stops_within_an_epoch(digit_inputs):
    steps = []
    history = train(_model(), digit_inputs, TrainConfig(epochs=5, batch_size=8, time_budget=1e-6),
                    progress=lambda stage, done, total, **info: steps.append(done))
    assert max(steps) == 1 and len(history.epochs) == 1  # one batch of the 45 an epoch takes
    assert history.stopped_early and history.epochs[0].val_loss is not None


def test_no_validation_split_trains_on_all(digit_inputs):
    history = train(_model(), digit_inputs[:50], TrainConfig(epochs=2, val_fraction=0.0))
    assert history.n_val == 0 and history.baseline_val_loss is None and history.epochs[0].val_loss is None


def test_a_last_batch_of_one_does_not_break_batch_norm(digit_inputs):
    history = train(_model(), digit_inputs[:35], TrainConfig(epochs=1, batch_size=32, val_fraction=0.06))
    assert history.n_train == 33


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(val_fraction=1.0), r"val must be in \[0, 1\)"),
    (dict(loss="huber"), "loss must be one of mse, l1, logcosh"),
    (dict(batch_size=0), "batch size must be >= 1"),
    (dict(time_budget=-1.0), "time budget must be > 0"),
])
def test_bad_training_settings_are_named(kwargs, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(**kwargs)


def test_one_image_is_not_enough(digit_inputs):
    with pytest.raises(BadInputError, match="need at least 2 images"):
        train(_model(), digit_inputs[:1], TrainConfig())


def test_corrupted_inputs_are_drawn_from_the_seed(digit_inputs):
    from latentatlas.models import Corruption

    noise = Corruption.parse(["noise:0.2"])
    config = TrainConfig(epochs=2, batch_size=64, seed=1)
    a, b = _model(seed=1), _model(seed=1)
    history = train(a, digit_inputs, config, corrupt=noise)
    train(b, digit_inputs, config, corrupt=noise)
    assert a.fingerprint == b.fingerprint
    plain = _model(seed=1)
    assert train(plain, digit_inputs, config).initial_val_loss < history.initial_val_loss  # noisy inputs start worse
