"""Embed: encode a collection with the atlas's model and store rows and codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..checks import at_least
from ..pipeline.ray import check_engine
from ..pipeline.runner import Writer, encoder, run_batches
from ..progress import ProgressCallback, silent
from ..sources import Failure, ReaderOptions, Record, read_sources
from ..store.database import ImageRow, Store
from ..store.schema import FINGERPRINT_SETTING, READER_SETTING
from ..store.switch import check_codes_made_by
from .embed_ray import embed_ray

if TYPE_CHECKING:  # the model brings PyTorch, which searching does not need
    from ..models import LatentModel

__all__ = ["EmbedOptions", "EmbedReport", "embed", "encoder", "atlas_writer", "check_model_matches", "reader_options"]



@dataclass(frozen=True, kw_only=True)
class EmbedOptions:
    """How an embed runs: batches, and where they are encoded.

    Parameters
    ----------
    batch_size : int
        Images per batch and transaction.
    engine : {"local", "ray"}
        This process, or a Ray cluster (``pip install latentatlas[scale]``).
    address : str, optional
        The Ray cluster (``"auto"``, ``"HOST:PORT"``); None: the one this
        process joined, or a new local one.
    workers : int, optional
        Ray actors encoding at once (default: the cluster's CPUs).

    Raises
    ------
    UsageError
        Naming the parameter, on ``batch_size < 1``, an unknown engine,
        ``workers < 1``, or ``address``/``workers`` given to the local engine.
    """

    batch_size: int = 256
    engine: str = "local"
    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        at_least(1)("batch_size", self.batch_size)
        check_engine(self.engine, self.address, self.workers)


@dataclass
class EmbedReport:
    """What :func:`embed` did: rows added, already present, and failures."""

    added: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    total_rows: int = 0


def check_model_matches(store: Store, model: LatentModel) -> None:
    """Refuse a model whose codes would not be comparable with the stored ones.

    Raises
    ------
    ModelMismatchError
        If the model makes no vector code (a conv bottleneck), the code
        sizes differ, or the rows were made by another model.
    """
    model.require_code()
    check_codes_made_by(store, model.fingerprint, model.code_size)


def reader_options(store: Store, reader: ReaderOptions | dict[str, Any] | None = None) -> ReaderOptions:
    """How to read sources for this atlas: ``reader``, or the options ``fit`` stored updated by a dict."""
    if isinstance(reader, ReaderOptions):
        return reader
    return ReaderOptions.from_dict(store.setting(READER_SETTING)).updated(**(reader or {}))


def whole_image_options(store: Store) -> ReaderOptions:
    """How to read a new image for this atlas as one input (a query, an image to compress): its options, untiled."""
    return reader_options(store).updated(tile=None, stride=None)


def embed(
    store: Store,
    model: LatentModel,
    sources: Sequence[str | Path],
    options: EmbedOptions = EmbedOptions(),
    reader: ReaderOptions | dict[str, Any] | None = None,
    progress: ProgressCallback = silent,
) -> EmbedReport:
    """Encode every image of ``sources`` not yet in the atlas and add it.

    An image counts as present when a row has the same uri and sha256, so
    re-running adds nothing and an interrupted run continues where it
    stopped. Each batch lands in one transaction: the atlas holds whole rows
    only. Unreadable images are skipped and reported. Sources are read with
    ``reader`` (see :func:`reader_options`): by default as ``fit`` read them.
    ``options`` (:class:`EmbedOptions`) say how: the batch size, and
    ``engine="ray"`` to encode on a Ray cluster, whose workers list, hash and
    encode the files (see :func:`latentatlas.ops.embed_ray.embed_ray`).
    """
    batch_size = options.batch_size
    check_model_matches(store, model)
    store.ensure_embeddings(model.code_size)
    store.set_setting(FINGERPRINT_SETTING, model.fingerprint)
    read_options = reader_options(store, reader)
    report = EmbedReport()
    if options.engine == "ray":
        return embed_ray(store, model, sources, report, batch_size, progress, read_options, options.address,
                         options.workers)
    progress("scan", 0, None)
    scan = read_sources(sources, read_options)
    todo = _new_records(store, scan.records, report)
    progress("scan", len(scan.records), len(scan.records))
    run = run_batches(todo, encoder(model, batch_size), atlas_writer(store), stage="embed", batch_size=batch_size,
                      progress=progress, failures=[*scan.failures, *report.failures])
    report.added, report.failures = run.written, run.failures
    report.total_rows = store.count("images")
    return report


def atlas_writer(store: Store) -> Writer:
    """The writer of ``embed``: each mapped batch added to the atlas in one transaction."""
    return lambda batch: len(store.add([ImageRow.of(r, im) for r, im in zip(batch.records, batch.images)],
                                       batch.outputs))


def _new_records(store: Store, records: list[Record], report: EmbedReport) -> list[Record]:
    known = store.known_keys()
    todo = []
    for record in records:
        try:
            key = (record.uri, record.sha256)
        except OSError as error:
            report.failures.append(Failure(record.uri, f"cannot read ({error.strerror or error})"))
            continue
        if key in known:
            report.skipped += 1
        else:
            known.add(key)
            todo.append(record)
    return todo

