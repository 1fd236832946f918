"""Progress: every stage of a build reports, a budgeted run ends at 100 %, the Python API draws a bar by default."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas import Atlas, progress
from latentatlas.datasets.samples import load_sample
from latentatlas.models import AutoencoderConfig, LatentModel
from latentatlas.models.preprocess import PreprocessConfig
from latentatlas.models.train import TrainConfig, train
from latentatlas.progress import ProgressBar, _position


class Recorder:
    """A progress callback that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int | None, dict]] = []

    def __call__(self, stage: str, done: int, total: int | None, **info) -> None:
        self.events.append((stage, done, total, info))

    def stages(self) -> list[str]:
        return list(dict.fromkeys(stage for stage, *_ in self.events))


def test_a_budgeted_run_shows_the_budget_and_ends_at_100_percent() -> None:
    images = (np.stack(load_sample("digits").images[:200])[:, None] / 255.0).astype(np.float32)
    model = LatentModel.create(AutoencoderConfig(1, 1, 8, 8, code_size=8, base_channels=8),
                               PreprocessConfig(height=8, width=8, channels=1), seed=0)
    recorder = Recorder()
    history = train(model, images, TrainConfig(epochs=10_000, batch_size=8, time_budget=0.5), progress=recorder)
    steps = [(done, total, info) for stage, done, total, info in recorder.events if stage == "train"]
    assert history.stopped_early and len(steps) >= 2            # at least one step and the final event
    assert all(info["budget"] == 0.5 and info["elapsed"] >= 0 for _, _, info in steps)
    positions = [_position(done, total, info) for done, total, info in steps]
    assert positions[-1][:2] == (100, 100)                    # the last event: the bar is full
    assert all(completed < 100 for completed, _, _ in positions[:-1])
    assert positions[-1][2].endswith("/0.5 s")
    assert steps[-1][0] == steps[-1][1]                       # done == total once training stops


def test_positions_without_a_budget_and_without_a_total() -> None:
    assert _position(3, 10, {}) == (3, 10, "3/10")
    assert _position(0, None, {}) == (0, None, "")            # a spinner while the total is unknown
    assert _position(5, 1000, {"elapsed": 30.0, "budget": 60.0}) == (50.0, 100, "30/60 s")
    assert _position(5, 1000, {"elapsed": 0.21, "budget": 2.0}) == (10.5, 100, "0.2/2.0 s")
    assert _position(900, 1000, {"elapsed": 1.0, "budget": 60.0})[0] == pytest.approx(90.0)


def test_a_disabled_bar_takes_events_silently() -> None:
    with ProgressBar(enabled=False) as bar:
        bar("read", 1, 2)
        bar("scan", 0, None)
        bar("train", 5, 10, epoch=1, epochs=2, elapsed=1.0, budget=2.0, train_loss=0.5)
    assert set(bar.tasks) == {"read", "scan", "train"}


@pytest.fixture()
def bars(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every ProgressBar the Python API opens, with whether it is enabled, and the events it received."""
    opened: list = []

    class Spy(Recorder):
        def __init__(self, enabled: bool = True) -> None:
            super().__init__()
            self.enabled = enabled
            opened.append(self)

        def __enter__(self) -> "Spy":
            return self

        def __exit__(self, *exc) -> None:
            pass

    monkeypatch.setattr(progress, "ProgressBar", Spy)
    return opened


def test_the_python_api_draws_one_bar_by_default_over_every_stage(tmp_path, digits_dir, bars) -> None:
    with Atlas.open(tmp_path / "a.atlas") as atlas:
        atlas.build(digits_dir, code_size=8, epochs=1, base_channels=8)
    assert len(bars) == 1 and bars[0].enabled                # build's fit and embed share the one bar
    assert bars[0].stages() == ["scan", "read", "prepare", "pca", "train", "embed"]
    for stage in ("scan", "read", "prepare", "pca", "train", "embed"):
        last = [e for e in bars[0].events if e[0] == stage][-1]
        assert last[1] == last[2], f"{stage} ends at {last[1]}/{last[2]}"


def test_progress_false_silences_and_a_callback_is_used_as_given(tmp_path, digits_dir, bars) -> None:
    recorder = Recorder()
    with Atlas.open(tmp_path / "a.atlas") as atlas:
        atlas.fit(digits_dir, code_size=8, epochs=1, base_channels=8, progress=False)
        assert [bar.enabled for bar in bars] == [False]
        atlas.embed(digits_dir, progress=recorder)
    assert len(bars) == 1                                     # a callback opens no bar of its own
    assert recorder.stages() == ["scan", "embed"]


def test_off_a_terminal_a_long_stage_prints_a_plain_line_every_10_seconds(cli, digits_dir, tmp_path, monkeypatch):
    ticks = iter(range(0, 10**6, 3))  # every reading of the clock is 3 s later
    monkeypatch.setattr(progress, "_clock", lambda: float(next(ticks)))
    result = cli("build", digits_dir, "--atlas", tmp_path / "p.atlas", "--code-size", "4", "--epochs", "2")
    assert result.exit_code == 0 and result.stdout.startswith("Trained on 300 images")  # stdout holds the result only
    lines = result.stderr.strip().splitlines()
    seconds = [int(line.rsplit("(", 1)[1].split()[0]) for line in lines]
    assert len(lines) >= 2 and all(later - earlier >= 10 for earlier, later in zip(seconds, seconds[1:]))
    assert all(line.split(" · ")[0].split(":")[0] in ("scan", "read", "pca", "train", "embed") for line in lines), lines


def test_quick_work_off_a_terminal_prints_no_line(capsys) -> None:
    with ProgressBar() as bar:
        for done in range(100):
            bar("read", done, 100)
    assert capsys.readouterr().err == ""
