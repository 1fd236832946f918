"""Training for real on small data: the loss falls, seeds reproduce, early stopping works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentatlas.datasets.samples import load_sample
from latentatlas.errors import BadInputError, UsageError
from latentatlas.models import AutoencoderConfig, LatentModel
from latentatlas.models.preprocess import PreprocessConfig
from latentatlas.models.train import DEFAULT_EPOCHS, MIN_PATIENCE_STEPS, TrainConfig, split, split_in_time, train


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


def test_early_stopping_counts_steps_not_the_epochs_of_a_small_set(digit_inputs):
    stopped = train(_model(), digit_inputs[:100], TrainConfig(epochs=1000, learning_rate=1e-9, patience=2))
    assert stopped.stopped_early and stopped.stop_reason == "no improvement"
    assert MIN_PATIENCE_STEPS <= stopped.steps < 2 * MIN_PATIENCE_STEPS  # two steps an epoch: 150 epochs, not 2
    assert "a longer budget will not" in stopped.advice
    budget = train(_model(), digit_inputs[:100], TrainConfig(epochs=1000, time_budget=0.5))
    assert budget.stopped_early and len(budget.epochs) < 1000 and budget.stop_reason == "time budget"


class _Clock:
    """A clock that moves 10 ms each time it is read: training counts steps, not this machine's speed."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


def test_a_time_budget_without_epochs_trains_past_the_default_epochs(digit_inputs, monkeypatch):
    monkeypatch.setattr("latentatlas.models.train.time.perf_counter", _Clock())
    history = train(_model(), digit_inputs[:40], TrainConfig(time_budget=4.0, learning_rate=1e-9, patience=1))
    assert len(history.epochs) > DEFAULT_EPOCHS  # one step an epoch: the budget, not 30 epochs, ends it
    assert history.stop_reason == "time budget" and history.steps < MIN_PATIENCE_STEPS  # patience waits longer
    bounded = train(_model(), digit_inputs[:40], TrainConfig(epochs=3, time_budget=30.0))
    assert len(bounded.epochs) == 3 and bounded.stop_reason == "epochs" and "--epochs bound" in bounded.advice


def test_time_stamped_images_validate_on_their_latest_block_after_a_gap():
    times = np.datetime64("2021-01-01T00:00") + np.arange(24 * 20)[::-1] * np.timedelta64(1, "h")  # newest first
    train_idx, val_idx, text = split_in_time(times, 0.1)
    assert len(val_idx) == 48 and times[val_idx].min() == times.max() - np.timedelta64(47, "h")
    assert times[train_idx].max() <= times[val_idx].min() - np.timedelta64(24, "h")
    assert len(set(train_idx) | set(val_idx)) == len(times) - 24 and "24 h gap" in text
    short = times[:30]  # 30 hours: a day's gap would leave almost nothing, so a tenth of the span
    train_idx, val_idx, text = split_in_time(short, 0.1)
    assert short[train_idx].max() < short[val_idx].min() - np.timedelta64(2, "h") and "2.9 h gap" in text


def test_the_time_budget_stops_within_an_epoch(digit_inputs):
    steps = []
    history = train(_model(), digit_inputs, TrainConfig(epochs=5, batch_size=8, time_budget=1e-6),
                    progress=lambda stage, done, total, **info: steps.append((stage, done, total)))
    trained = [(done, total) for stage, done, total in steps if stage == "train"]
    assert [done for done, _ in trained[:-1]] == [1] and len(history.epochs) == 1  # one batch of the 45 an epoch takes
    assert trained[-1][0] == trained[-1][1]  # the last event completes the bar: a budget stop is not a freeze
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
    (dict(loss="huber"), "loss must be one of mse, l1, logcosh, mse\\+ssim, l1\\+ssim"),
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


def _plain(seed: int = 0, code_size: int = 8, size: int = 8, **kwargs) -> LatentModel:
    architecture = AutoencoderConfig(1, 1, size, size, code_size=code_size, base_channels=16, norm="none",
                                     linear_path=False, family="residual", **kwargs)
    return LatentModel.create(architecture, PreprocessConfig(height=size, width=size, channels=1), seed=seed)


def test_the_kept_model_is_never_worse_than_pca(digit_inputs):
    from latentatlas.baselines.codec import LinearCodec

    model = _plain()
    history = train(model, digit_inputs, TrainConfig(epochs=1, learning_rate=1e-9))
    assert history.kept == "pca" and history.best_loss == history.pca_val_loss
    assert "the kept model is PCA" in history.comparison
    train_idx, val_idx = split(len(digit_inputs), 0.1, 0)
    pca = LinearCodec.fit(digit_inputs[train_idx], 8)
    val = digit_inputs[val_idx]
    expected = pca.decode(pca.encode(val))
    np.testing.assert_allclose(model.reconstruct(val), expected, atol=1e-4)


def test_a_disc_at_a_random_place_beats_pca_by_a_clear_margin():
    """One bright disc of random size anywhere: a linear code of 6 numbers cannot place it, a conv code can."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:16, :16]
    centres, radii = rng.uniform(3, 13, (1500, 2)), rng.uniform(1.5, 4, 1500)
    discs = ((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2 <= radii[:, None, None] ** 2)
    images = discs[:, None].astype(np.float32)
    history = train(_plain(code_size=6, size=16), images, TrainConfig(epochs=25, batch_size=32, learning_rate=2e-3))
    assert history.kept == "trained"
    assert history.best_loss < 0.7 * history.pca_val_loss, history.comparison


def test_bfloat16_and_float32_losses_agree_within_two_percent(digit_inputs):
    model = _plain()
    x = torch.from_numpy(digit_inputs[:256])
    with torch.inference_mode():
        full = float(torch.nn.functional.mse_loss(model.net(x), x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = float(torch.nn.functional.mse_loss(model.net(x).float(), x))
    assert half == pytest.approx(full, rel=0.02)
    runs = [train(_plain(), digit_inputs, TrainConfig(epochs=4, precision=p)) for p in ("float32", "bfloat16")]
    assert [r.precision for r in runs] == ["float32", "bfloat16"]
    assert runs[1].epochs[-1].val_loss == pytest.approx(runs[0].epochs[-1].val_loss, rel=0.1)


def test_streamed_training_keeps_the_cache_bound(digit_inputs):
    from latentatlas.models.training_set import StreamingImages

    streamed = StreamingImages(len(digit_inputs), lambda i: digit_inputs[i], cache_size=32)
    history = train(_plain(), streamed, TrainConfig(epochs=2, batch_size=16))
    assert streamed.peak <= 32 and streamed.loads > len(digit_inputs)  # re-read, never all held
    assert history.n_train == 360 and history.pca_val_loss is not None


def test_a_missing_device_is_one_clear_error(digit_inputs):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UsageError, match="device 'cuda' is not available on this machine"):
        train(_plain(), digit_inputs[:50], TrainConfig(epochs=1, device="cuda"))
    with pytest.raises(UsageError, match="device must be one of auto, cpu, cuda, mps"):
        train(_plain(), digit_inputs[:50], TrainConfig(epochs=1, device="tpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda_gives_a_cpu_model(digit_inputs):
    model = _plain()
    history = train(model, digit_inputs, TrainConfig(epochs=2, device="cuda"))
    assert history.device.startswith("cuda") and next(model.net.parameters()).device.type == "cpu"


@pytest.mark.parametrize("loss", ["mse+ssim", "l1+ssim"])
def test_ssim_losses_train(digit_inputs, loss):
    history = train(_plain(), digit_inputs[:300], TrainConfig(epochs=3, batch_size=32, loss=loss))
    assert history.loss == loss and history.best_loss < history.baseline_val_loss


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    from latentatlas.models.losses import ssim

    rng = np.random.default_rng(0)
    a = rng.random((1, 1, 32, 32)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    ours = float(ssim(torch.from_numpy(a), torch.from_numpy(b)))
    theirs = structural_similarity(a[0, 0], b[0, 0], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False)
    assert ours == pytest.approx(theirs, abs=0.02)
