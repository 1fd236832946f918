"""Embed on a Ray cluster: the workers list, hash, read and encode their own files and write Parquet shards.

::

    driver: list the sources' files (names and stat only: nothing opened, nothing hashed),
            cut them into shards of --batch-size files, export the stored (uri, sha256) pairs once
       -> pipeline.ray.distribute(ShardEncoder): each actor loads the model once, then per shard
          reads its files, hashes every item, drops those the atlas holds, reads, preprocesses,
          encodes and writes ATLAS/ingest/<run>/shard-NNNNN.parquet (temporary name, then renamed)
    driver: ingest every shard of the run in one transaction (store.parquet), then remove the run

The run's name is a digest of the model, the reader options, the batch
size and the files (path, label, size, modification time), so a re-run
after a failed or killed job finds the same run and encodes only the
shards that are not there yet. Workers read the atlas's model directory
and write its ``ingest`` folder: on a cluster of several machines the
atlas must lie on a filesystem they all see.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import astuple
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import BadInputError
from ..pipeline.ray import distribute
from ..pipeline.runner import Batch, encoder, run_batches
from ..progress import ProgressCallback
from ..sources import Failure, ReaderOptions, Record, Unit, list_units, read_unit
from ..sources.loading import as_failure
from ..store import ImageRow, Store
from ..store.parquet import export_keys, ingest_shards, shard_failures, shard_name, shard_rows, stored_keys, write_shard

if TYPE_CHECKING:
    from ..models import LatentModel
    from .embed import EmbedReport

__all__ = ["ShardEncoder", "embed_ray"]

KNOWN = "known.parquet"  # the stored (uri, sha256) pairs, in the run's folder


class ShardEncoder:
    """The worker of a Ray embed: loads the model once, then turns shards of files into Parquet shards.

    Called with ``(shard name, units)``; returns the rows written, the
    items skipped as stored, and the failures, for that shard.
    """

    def __init__(self, model_dir: str, run_dir: str, reader: dict[str, Any], batch_size: int):
        from ..models import load_model

        self.model = load_model(model_dir)
        self.mapper = encoder(self.model, batch_size)
        self.batch_size = batch_size
        self.run_dir = Path(run_dir)
        self.options = ReaderOptions.from_dict(reader)

    def __call__(self, task: tuple[str, Sequence[Unit]]) -> dict[str, Any]:
        name, units = task
        records, failures = self.list(units)
        known = self.run_dir / KNOWN
        stored = stored_keys(known, [r.uri for r in records]) if known.is_file() else set()
        todo, skipped = [], 0
        for record in records:
            try:
                key = (record.uri, record.sha256)
            except OSError as error:
                failures.append(Failure(record.uri, f"cannot read ({error.strerror or error})"))
                continue
            if key in stored:
                skipped += 1
            else:
                todo.append(record)
        rows, codes = [], [np.empty((0, self.model.code_size), np.float32)]

        def collect(mapped: Batch) -> int:
            rows.extend(ImageRow.of(r, image) for r, image in zip(mapped.records, mapped.images))
            codes.append(mapped.outputs)
            return len(mapped.records)

        run = run_batches(todo, self.mapper, collect, stage="shard", batch_size=self.batch_size, failures=failures)
        write_shard(self.run_dir / name, rows, np.concatenate(codes), run.failures)
        return {"shard": name, "rows": len(rows), "skipped": skipped, "failed": len(run.failures)}

    def list(self, units: Sequence[Unit]) -> tuple[list[Record], list[Failure]]:
        """The records of ``units``, and the units that could not be listed."""
        records, failures = [], []
        for unit in units:
            try:
                scan = read_unit(unit, self.options)
            except BadInputError as error:
                failures.append(as_failure(unit.path, error))
                continue
            records.extend(scan.records)
            failures.extend(scan.failures)
        return records, failures


def run_name(model: LatentModel, options: ReaderOptions, batch_size: int, units: Sequence[Unit]) -> str:
    """The folder name of the run that encodes ``units`` in shards of ``batch_size`` files."""
    digest = hashlib.sha256(json.dumps([model.fingerprint, options.to_dict(), batch_size]).encode())
    for unit in units:
        digest.update(json.dumps(astuple(unit)).encode())
    return digest.hexdigest()[:16]


def embed_ray(store: Store, model: LatentModel, sources: Sequence[str | Path], report: EmbedReport, batch_size: int,
              progress: ProgressCallback, options: ReaderOptions, address: str | None = None,
              workers: int | None = None) -> EmbedReport:
    """Encode the files of ``sources`` on a Ray cluster and ingest the new rows into ``store``; fills ``report``.

    ``address`` and ``workers``: see :func:`latentatlas.pipeline.ray.distribute`.
    Shards a failed run left are not encoded again. Progress: stage
    ``"embed"`` counts files, with ``written`` and ``failed`` items.

    Raises
    ------
    LatentAtlasError
        If the Ray job fails; the finished shards stay for the next run.
    """
    units, unlisted = list_units(sources)
    report.failures.extend(unlisted)
    run_dir = store.ingest_dir / run_name(model, options, batch_size, units)
    shards = [units[start:start + batch_size] for start in range(0, len(units), batch_size)]
    paths = [run_dir / shard_name(index) for index in range(len(shards))]
    missing = [index for index, path in enumerate(paths) if not path.is_file()]
    done = len(units) - sum(len(shards[i]) for i in missing)
    progress("embed", done, len(units), reused_shards=len(shards) - len(missing))
    if missing and store.count("images"):
        export_keys(store, run_dir / KNOWN)
    sizes = {paths[i].name: len(shards[i]) for i in missing}
    tally = {"rows": 0, "skipped": 0, "failed": 0}

    def landed(result: dict) -> None:
        nonlocal done
        done += sizes[result["shard"]]
        for key in tally:
            tally[key] += int(result[key])
        progress("embed", done, len(units), written=tally["rows"], failed=tally["failed"], shard=result["shard"],
                 worker=int(result["pid"]), worker_peak_rss_mb=float(result["peak_rss_mb"]))

    distribute([(paths[i].name, shards[i]) for i in missing], ShardEncoder,
               {"model_dir": str(store.model_dir.resolve()), "run_dir": str(run_dir.resolve()),
                "reader": options.to_dict(), "batch_size": batch_size},
               landed, address=address, workers=workers,
               rerun_hint=f"; run the same embed again to reuse the finished shards in {run_dir}")
    written = shard_rows(store, paths)
    report.added = ingest_shards(store, paths)
    report.skipped += tally["skipped"] + written - report.added  # and those stored, or in two shards, at ingest
    report.failures.extend(shard_failures(store, paths))
    shutil.rmtree(run_dir, ignore_errors=True)
    report.total_rows = store.count("images")
    return report
