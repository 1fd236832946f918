"""How many threads to use when other work may keep the cores busy."""

from __future__ import annotations

import os

__all__ = ["idle_cores"]


def idle_cores() -> int:
    """The cores less the one-minute load average, at least one.

    OpenMP threads that wait at a barrier for a core busy with other work
    cost far more than they save: FAISS and openTSNE ran three to ten times
    slower with two threads than with one on a saturated two-core machine.
    """
    cores = os.cpu_count() or 1
    if not hasattr(os, "getloadavg"):
        return cores
    return max(1, min(cores, int(round(cores - os.getloadavg()[0]))))
