"""The Ray Data distributor of embed: encode on a cluster's workers, write Parquet shards, ingest once.

::

    driver: list sources, hash, skip stored (uri, sha256)
       -> one dataset row per batch: its items as ItemRefs (file + key, never pixels)
       -> map_batches(ShardEncoder), a pool of N actors: each actor loads the model once, then per batch
          lists the item's file (GRIB, NetCDF, image, stack), reads, preprocesses, encodes and
          writes ATLAS/ingest/<run>/shard-NNNNN.parquet (temporary name, then renamed)
    driver: ingest every shard of the run in one transaction (store.parquet), then remove the run

The run's name is a digest of the model, the reader options, the batch
size and the items to encode, so a re-run after a failed or killed job
finds the same run and encodes only the shards that are not there yet.
Workers read the atlas's model directory and write its ``ingest`` folder:
on a cluster of several machines the atlas must lie on a filesystem they
all see.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import shutil
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import BadInputError, LatentAtlasError, UsageError, first_line
from ..progress import ProgressCallback
from ..sources import Failure, ReaderOptions, Record, read_source
from ..sources.loading import as_failure
from ..store import ImageRow, Store
from .runner import Batch, encoder, run_batches
from ..store.parquet import ingest_shards, shard_failures, shard_name, write_shard

if TYPE_CHECKING:
    from ..models import LatentModel
    from ..ops.embed import EmbedReport

__all__ = ["ENGINES", "INSTALL_HINT", "ItemRef", "ShardEncoder", "check_engine", "embed_ray", "import_ray"]

ENGINES = ("local", "ray")
INSTALL_HINT = "pip install latentatlas[scale]"
_KEEP_UNITS = 16  # files whose listing a worker keeps, so the items of one file are listed once


def import_ray():
    """The ``ray`` module, or one clear error naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library comes with the [data] extra only)
    except ImportError:
        raise LatentAtlasError(f"the ray engine needs Ray Data, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_engine(engine: str, address: str | None = None, workers: int | None = None) -> None:
    """Check the engine settings of an embed (and that Ray is there when ``engine="ray"``).

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


@dataclass(frozen=True)
class ItemRef:
    """A picklable description of one record: the file a worker lists to find it, and its row's fields.

    ``unit`` is the file that holds the item (a GRIB, NetCDF or array file
    for ``path#item`` uris, the image file otherwise); the worker reads it
    with the run's reader options and picks the record with the same
    ``(uri, tile_row, tile_col)``. Label, time and meta come from the
    driver's listing (a folder's label, a manifest's columns).
    """

    unit: str
    uri: str
    sha256: str
    time: datetime | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    tile_row: int | None = None
    tile_col: int | None = None

    @classmethod
    def of(cls, record: Record) -> "ItemRef":
        """The description of ``record`` (its sha256 is computed here if it was not yet)."""
        return cls(_unit(record.uri), record.uri, record.sha256, record.time, record.label, record.meta,
                   record.tile_row, record.tile_col)

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        """What tells the item apart among the records of its file."""
        return self.uri, self.tile_row, self.tile_col

    def row(self, image: np.ndarray) -> ImageRow:
        """The ``images`` row of this item read as ``image``."""
        return ImageRow(uri=self.uri, sha256=self.sha256, width=int(image.shape[1]), height=int(image.shape[0]),
                        time=self.time, label=self.label, tile_row=self.tile_row, tile_col=self.tile_col,
                        meta=self.meta)


def _unit(uri: str) -> str:
    """The file holding the item ``uri``: ``path`` of ``path#item``, unless the whole uri names a file."""
    path, hash_sign, _ = uri.rpartition("#")
    return path if hash_sign and not os.path.exists(uri) else uri


class _Units:
    """The records of the files a worker listed lately, by ``(uri, tile_row, tile_col)``."""

    def __init__(self, options: ReaderOptions):
        self.options = options
        self.listings: OrderedDict[str, dict | Failure] = OrderedDict()

    def find(self, ref: ItemRef) -> Record | Failure:
        listing = self.listings.get(ref.unit)
        if listing is None:
            listing = self._list(ref.unit)
            self.listings[ref.unit] = listing
            while len(self.listings) > _KEEP_UNITS:
                self.listings.popitem(last=False)
        else:
            self.listings.move_to_end(ref.unit)
        if isinstance(listing, Failure):
            return Failure(ref.uri, listing.reason)
        record = listing.get(ref.key)
        return record if record is not None else Failure(ref.uri, f"no longer found in {ref.unit}")

    def _list(self, unit: str) -> dict | Failure:
        try:
            scan = read_source(unit, self.options)
        except BadInputError as error:
            return as_failure(unit, error)
        return {(r.uri, r.tile_row, r.tile_col): r for r in scan.records}


class ShardEncoder:
    """A Ray actor: loads the model once, then turns batches of :class:`ItemRef` into shards.

    Called by ``map_batches`` with columns ``shard`` (file name) and
    ``items`` (pickled list of refs); returns per shard the rows written,
    the failures and this worker's process id and peak memory. A batch is
    read and encoded by the in-process runner with embed's mapper.
    """

    def __init__(self, model_dir: str, run_dir: str, reader: dict[str, Any], batch_size: int):
        from ..models import load_model

        self.model = load_model(model_dir)
        self.mapper = encoder(self.model, batch_size)
        self.run_dir = Path(run_dir)
        self.units = _Units(ReaderOptions.from_dict(reader))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        counts = [self.encode(str(name), pickle.loads(blob)) for name, blob in zip(batch["shard"], batch["items"])]
        return {
            "shard": np.asarray(batch["shard"], dtype=object),
            "rows": np.array([c[0] for c in counts]),
            "failed": np.array([c[1] for c in counts]),
            "pid": np.full(len(counts), os.getpid()),
            "peak_rss_mb": np.full(len(counts), peak_rss_mb()),
        }

    def encode(self, name: str, refs: Sequence[ItemRef]) -> tuple[int, int]:
        """Read, preprocess and encode ``refs``; write shard ``name``; return (rows, failures)."""
        records, failures, ref_of = [], [], {}
        for ref in refs:
            found = self.units.find(ref)
            if isinstance(found, Failure):
                failures.append(found)
            else:
                records.append(found)
                ref_of[id(found)] = ref
        rows, codes = [], [np.empty((0, self.model.code_size), np.float32)]

        def collect(mapped: Batch) -> int:
            rows.extend(ref_of[id(r)].row(image) for r, image in zip(mapped.records, mapped.images))
            codes.append(mapped.outputs)
            return len(mapped.records)

        run = run_batches(records, self.mapper, collect, stage="shard", batch_size=max(1, len(records)),
                          failures=failures)
        write_shard(self.run_dir / name, rows, np.concatenate(codes), run.failures)
        return len(rows), len(run.failures)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (``VmHWM``: unlike ``ru_maxrss`` it is not inherited across exec)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_name(model: LatentModel, options: ReaderOptions, batch_size: int, refs: Sequence[ItemRef]) -> str:
    """The folder name of the run that encodes ``refs`` in batches of ``batch_size``."""
    digest = hashlib.sha256(json.dumps([model.fingerprint, options.to_dict(), batch_size]).encode())
    for ref in refs:
        digest.update(json.dumps([ref.uri, ref.sha256, ref.tile_row, ref.tile_col]).encode())
    return digest.hexdigest()[:16]


def embed_ray(store: Store, model: LatentModel, todo: Sequence[Record], report: EmbedReport, batch_size: int,
              progress: ProgressCallback, options: ReaderOptions, address: str | None = None,
              workers: int | None = None) -> EmbedReport:
    """Encode ``todo`` on a Ray cluster and ingest the rows into ``store``; fills and returns ``report``.

    ``address``: the cluster (``"auto"``, ``"HOST:PORT"``); None joins the
    one this process already uses, or starts a local one (Ray is not
    started when nothing is left to encode). ``workers``:
    actors encoding at once (default: the cluster's CPUs), each taking one
    CPU. Batches whose shard a failed run left are not encoded again.

    Raises
    ------
    LatentAtlasError
        If the Ray job fails; the finished shards stay for the next run.
    """
    ray = import_ray()
    refs = [ItemRef.of(record) for record in todo]
    run_dir = store.ingest_dir / run_name(model, options, batch_size, refs)
    batches = [refs[start:start + batch_size] for start in range(0, len(refs), batch_size)]
    paths = [run_dir / shard_name(index) for index in range(len(batches))]
    missing = [index for index, path in enumerate(paths) if not path.is_file()]
    done = len(refs) - sum(len(batches[i]) for i in missing)
    progress("embed", done, len(refs), reused_shards=len(batches) - len(missing))
    if missing:
        with contextlib.redirect_stdout(sys.stderr):  # Ray prints the deaths of workers on stdout, which is for results
            started = _connect(ray, address)
            try:
                _run(ray, store, run_dir, options, batch_size, [(paths[i].name, batches[i]) for i in missing],
                     workers, progress, done, len(refs))
            finally:
                if started:
                    ray.shutdown()
    report.added = ingest_shards(store, paths)
    report.failures.extend(shard_failures(store, paths))
    shutil.rmtree(run_dir, ignore_errors=True)
    report.total_rows = store.count("images")
    return report


def _connect(ray, address: str | None) -> bool:
    """Join the cluster at ``address`` (or start a local one) unless connected; whether this call started it."""
    if ray.is_initialized():
        return False
    import logging

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


def _run(ray, store: Store, run_dir: Path, options: ReaderOptions, batch_size: int,
         shards: list[tuple[str, list[ItemRef]]], workers: int | None, progress: ProgressCallback,
         done: int, total: int) -> None:
    """Encode ``shards`` (name, refs) with an actor pool, reporting stage ``"embed"`` as each shard lands.

    Each event carries the failures so far, the shard's name, and the
    process id and peak resident memory (MiB) of the worker that wrote it.
    """
    sizes = {name: len(refs) for name, refs in shards}
    items = [{"shard": name, "items": pickle.dumps(refs)} for name, refs in shards]
    pool = min(len(shards), workers or max(1, int(ray.cluster_resources().get("CPU", 1))))
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ShardEncoder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1,
        fn_constructor_kwargs={"model_dir": str(store.model_dir.resolve()), "run_dir": str(run_dir.resolve()),
                               "reader": options.to_dict(), "batch_size": batch_size},
    )
    finished = failed = 0
    try:
        for row in dataset.iter_rows():
            done += sizes[row["shard"]]
            finished += 1
            failed += int(row["failed"])
            progress("embed", done, total, failed=failed, shard=row["shard"], worker=int(row["pid"]),
                     worker_peak_rss_mb=float(row["peak_rss_mb"]))
    except (ray.exceptions.RayError, ray.data.exceptions.UserCodeException) as error:
        raise LatentAtlasError(
            f"the Ray job stopped after {finished} of {len(shards)} batches ({_reason(error)}); "
            f"run the same embed again to reuse the finished shards in {run_dir}") from None


def _reason(error: BaseException) -> str:
    """What stopped a Ray job in one line: a worker's own latentatlas error if the message carries one, else its first line.

    Ray hands the driver a worker's exception as text inside its own
    (``ActorDiedError``, ``RayTaskError``), with terminal colour codes.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    ours = [line for line in text.splitlines() if line.startswith("latentatlas.errors.")]
    return ours[-1].split(": ", 1)[-1] if ours else first_line(text)
