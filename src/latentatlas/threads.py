"""How many threads to use when other work may keep the cores busy."""

from __future__ import annotations

import os
import time

__all__ = ["idle_cores"]

_WINDOW_S = 0.1  # how long the cores are watched
_REUSE_S = 5.0  # a measurement this recent stands: callers in one job (a fit, its assignment) share it
_last: tuple[float, int] | None = None  # (monotonic time, idle cores)


def idle_cores() -> int:
    """The cores not kept busy by other processes just now, at least one.

    OpenMP threads that wait at a barrier for a core busy with other work
    cost far more than they save: FAISS and openTSNE ran three to ten times
    slower with two threads than with one on a saturated two-core machine.
    The busy time of all cores (``/proc/stat``) less this process's own
    (``/proc/self/stat``) is watched for a tenth of a second; where there is
    no ``/proc``, the one-minute load average stands in, our own load with it.
    A measurement is reused for five seconds.
    """
    global _last
    if _last is not None and time.monotonic() - _last[0] < _REUSE_S:
        return _last[1]
    cores = os.cpu_count() or 1
    try:
        others = _busy_elsewhere()
    except (OSError, ValueError, IndexError):
        if not hasattr(os, "getloadavg"):
            return cores
        others = os.getloadavg()[0]
    idle = max(1, min(cores, int(round(cores - others))))
    _last = (time.monotonic(), idle)
    return idle


def _busy_elsewhere() -> float:
    """Cores' worth of time other processes ran during the last ``_WINDOW_S`` seconds."""
    busy, own = _all_busy_ticks(), _own_ticks()
    start = time.perf_counter()
    time.sleep(_WINDOW_S)
    elapsed = time.perf_counter() - start
    ticks = (_all_busy_ticks() - busy) - (_own_ticks() - own)
    return max(0.0, ticks / os.sysconf("SC_CLK_TCK") / elapsed)


def _all_busy_ticks() -> int:
    with open("/proc/stat") as lines:
        fields = [int(v) for v in lines.readline().split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait


def _own_ticks() -> int:
    with open("/proc/self/stat") as line:
        fields = line.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime
