"""Index: build (or remove) the atlas's approximate-search index under ``atlas/index/ann``."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import LatentAtlasError, UsageError
from ..progress import ProgressCallback, silent
from ..search.ann import AnnIndex, AnnSettings, training_rows
from ..search.engine import ann_dir
from ..store.database import Store
from ..store.schema import FINGERPRINT_SETTING

__all__ = ["AnnSettings", "IndexReport", "build_index", "remove_index"]

_READ_ROWS = 65_536  # codes read from the table at once while the index is built (16 MB at 64 numbers)


@dataclass
class IndexReport:
    """What :func:`build_index` built: kind, metric, rows covered, time and size on disk."""

    kind: str
    metric: str
    rows: int
    max_id: int
    seconds: float
    path: Path
    bytes: int
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**asdict(self), "path": str(self.path)}


def build_index(store: Store, settings: AnnSettings | None = None,
                progress: ProgressCallback = silent) -> IndexReport:
    """Build an approximate index over every stored code and save it, replacing any older one.

    The codes are read from the table in chunks and added as they come,
    so the build holds the index and one chunk, never a second copy of
    every code.

    ``search`` then uses it automatically for the metric family it serves;
    rows embedded later are searched exactly beside it until the next build.

    Raises
    ------
    UsageError
        If the atlas holds no codes, or a setting is bad.
    """
    settings = settings or AnnSettings()
    ids = store.embedding_ids()
    if len(ids) == 0:
        raise UsageError(f"{store.path}: no codes to index (run `latentatlas embed` first)")
    _, sample = store.vectors(ids[training_rows(len(ids), settings.seed)])
    chunks = (store.vectors(ids[start:start + _READ_ROWS]) for start in range(0, len(ids), _READ_ROWS))
    index = AnnIndex.build_from(chunks, len(ids), sample, settings, model=store.setting(FINGERPRINT_SETTING),
                                progress=progress)
    directory = ann_dir(store)
    try:
        index.save(directory)
    except OSError as error:  # a read-only atlas: nothing was replaced
        raise LatentAtlasError(f"{directory}: cannot write the index ({error.strerror or error}); the atlas is "
                               "unchanged and search still scans every code") from None
    record = index.record
    return IndexReport(
        kind=record.kind, metric=record.metric, rows=record.rows, max_id=record.max_id, seconds=record.seconds,
        path=directory, bytes=sum(p.stat().st_size for p in directory.iterdir()), settings=record.settings,
    )


def remove_index(store: Store) -> bool:
    """Delete the approximate index; returns whether there was one."""
    directory = ann_dir(store)
    if not directory.exists():
        return False
    try:
        shutil.rmtree(directory)
    except OSError as error:
        raise LatentAtlasError(f"{directory}: cannot remove the index ({error.strerror or error})") from None
    return True
