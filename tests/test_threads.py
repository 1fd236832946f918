"""idle_cores: whole cores, less what other processes (not we) kept busy."""

from __future__ import annotations

import os

import pytest

from latentatlas import threads


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(threads, "_last", None)  # no measurement from an earlier test


def test_idle_cores_is_between_one_and_all():
    assert 1 <= threads.idle_cores() <= (os.cpu_count() or 1)


class FakeClock:
    """A tenth of a second passes while idle_cores waits."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    monotonic = perf_counter

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("all_busy, own, cores, idle", [
    ((1000, 1020), (50, 60), 2, 1),  # 20 ticks busy in 0.1 s, 10 of them ours: one core busy elsewhere
    ((1000, 1020), (50, 70), 2, 2),  # all of it ours
    ((1000, 1040), (50, 50), 2, 1),  # both cores busy elsewhere: still one
    ((1000, 1040), (50, 50), 8, 4),  # 40 ticks in 0.1 s: four cores busy elsewhere
])
def test_only_other_processes_count(monkeypatch, all_busy, own, cores, idle):
    monkeypatch.setattr(threads, "time", FakeClock())
    monkeypatch.setattr(threads, "_all_busy_ticks", iter(all_busy).__next__)
    monkeypatch.setattr(threads, "_own_ticks", iter(own).__next__)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "sysconf", lambda name: 100)
    assert threads.idle_cores() == idle


def test_without_proc_the_load_average_stands_in(monkeypatch):
    def missing() -> int:
        raise OSError("no /proc/stat")

    monkeypatch.setattr(threads, "_all_busy_ticks", missing)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert threads.idle_cores() == 3


def test_a_measurement_stands_for_five_seconds(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(threads, "time", clock)
    monkeypatch.setattr(threads, "_busy_elsewhere", lambda: calls.append(clock.now) or 0.0)
    threads.idle_cores()
    clock.sleep(4.0)
    threads.idle_cores()  # e.g. the assignment inside a fit
    assert len(calls) == 1
    clock.sleep(1.5)
    threads.idle_cores()
    assert len(calls) == 2
