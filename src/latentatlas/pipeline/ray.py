"""The Ray Data distributor: any command's tasks run by a pool of actors on a Ray cluster.

::

    driver: tasks (small picklable descriptions of work: shards of file paths, never pixels)
       -> one dataset row per task
       -> map_batches(_Actor), a pool of N actors: each builds the command's worker once
          (``worker(**options)``: loads a model, opens what it needs), then calls it on each task
    driver: ``on_result`` with each task's result as it lands

The distributor knows no command: the worker class (a module-level class
of the command, so that Ray pickles it by reference) does the work and
writes its output (Parquet shards, files); its result per task is a dict
of numbers and strings. The driver's work per task is constant: one
pickled description out, one small dict back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import sys
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import LatentAtlasError, UsageError, first_line

__all__ = ["ENGINES", "INSTALL_HINT", "check_engine", "distribute", "import_ray", "peak_rss_mb"]

ENGINES = ("local", "ray")
INSTALL_HINT = "pip install latentatlas[scale]"


def import_ray():
    """The ``ray`` module, or one clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library comes with the [data] extra only)
    except ImportError:
        raise LatentAtlasError(f"the ray engine needs Ray Data, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_engine(engine: str, address: str | None = None, workers: int | None = None) -> None:
    """Check the engine settings of a command (and that Ray is there when ``engine="ray"``).

    Raises
    ------
    UsageError
        For an unknown engine, ``workers`` below 1, or ``address`` or
        ``workers`` given to the local engine.
    LatentAtlasError
        If ``engine="ray"`` and Ray Data is not installed.
    """
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}", parameter="engine")
    if workers is not None and (int(workers) != workers or workers < 1):
        raise UsageError(f"workers must be a whole number >= 1, got {workers}", parameter="workers")
    if engine == "local" and (address is not None or workers is not None):
        raise UsageError("address and workers apply to engine 'ray' only", parameter=("address", "workers", "engine"))
    if engine == "ray":
        import_ray()


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (``VmHWM``: unlike ``ru_maxrss`` it is not inherited across exec)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Actor:
    """A Ray actor holding one command worker: ``worker(**options)`` built once, then called per task.

    Returns per task the worker's result dict, plus this process's id
    (``pid``) and peak resident memory (``peak_rss_mb``).
    """

    def __init__(self, worker: type, options: dict[str, Any]):
        self.worker = worker(**options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = [self.worker(pickle.loads(blob)) for blob in batch["task"]]
        columns = {key: np.asarray([r[key] for r in results]) for key in results[0]}
        columns["pid"] = np.full(len(results), os.getpid())
        columns["peak_rss_mb"] = np.full(len(results), peak_rss_mb())
        return columns


def distribute(tasks: Sequence[Any], worker: type, options: dict[str, Any], on_result: Callable[[dict], None], *,
               address: str | None = None, workers: int | None = None, rerun_hint: str = "") -> None:
    """Run ``worker(**options)(task)`` for every task on a pool of Ray actors; ``on_result(row)`` as each lands.

    Parameters
    ----------
    tasks : sequence
        Picklable descriptions of work, one actor call each.
    worker : type
        A module-level class: built once per actor with ``options``, called
        with one task, returning a dict of numbers and strings (the same keys
        for every task). ``on_result`` gets that dict with ``pid`` and
        ``peak_rss_mb`` of the actor added.
    address : str, optional
        The cluster (``"auto"``, ``"HOST:PORT"``); None joins the one this
        process already uses, or starts a local one for the call.
    workers : int, optional
        Actors at once (default: the cluster's CPUs), each taking one CPU.
    rerun_hint : str
        What the error says to do after a failed job (", run ... again").

    Raises
    ------
    LatentAtlasError
        If the cluster cannot be reached or the job fails.
    """
    if not tasks:
        return
    ray = import_ray()
    with contextlib.redirect_stdout(sys.stderr):  # Ray prints the deaths of workers on stdout, which is for results
        started = _connect(ray, address)
        try:
            pool = min(len(tasks), workers or max(1, int(ray.cluster_resources().get("CPU", 1))))
            items = [{"task": pickle.dumps(task)} for task in tasks]
            dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                _Actor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1,
                fn_constructor_kwargs={"worker": worker, "options": options})
            finished = 0
            try:
                for row in dataset.iter_rows():
                    finished += 1
                    on_result(dict(row))
            except (ray.exceptions.RayError, ray.data.exceptions.UserCodeException) as error:
                raise LatentAtlasError(f"the Ray job stopped after {finished} of {len(tasks)} tasks "
                                       f"({_reason(error)}){rerun_hint}") from None
        finally:
            if started:
                ray.shutdown()


def _connect(ray, address: str | None) -> bool:
    """Join the cluster at ``address`` (or start a local one) unless connected; whether this call started it."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, logging_level=logging.WARNING, configure_logging=True, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise LatentAtlasError(f"cannot reach a Ray cluster at {address or 'a new local instance'}: "
                               f"{first_line(error).rstrip('.')}{_likely_causes(address)}") from None
    ray.data.DataContext.get_current().enable_progress_bars = False  # the faces draw their own
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


def _likely_causes(address: str | None) -> str:
    """What usually stops a driver joining the cluster at ``address``: token authentication or the address itself."""
    if address is None:
        return ""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        token = "the cluster's token is missing or different here (copy its ~/.ray/auth_token to this machine)"
    else:
        token = ("the cluster uses token authentication (run with RAY_AUTH_MODE=token and the cluster's "
                 "~/.ray/auth_token on this machine; see docs/scale.md)")
    return (f". Likely causes: {token}; or nothing listens at {address} (check the host and port, "
            "`ray status` on the head, and the firewall)")


def _reason(error: BaseException) -> str:
    """What stopped a Ray job in one line: a worker's own latentatlas error if the message carries one, else its first line.

    Ray hands the driver a worker's exception as text inside its own
    (``ActorDiedError``, ``RayTaskError``), with terminal colour codes.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    ours = [line for line in text.splitlines() if line.startswith("latentatlas.errors.")]
    return ours[-1].split(": ", 1)[-1] if ours else first_line(text)
