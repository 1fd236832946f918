"""Parquet shards of encoded rows, and their ingest into an atlas in one transaction.

A distributed embed writes one shard per batch under ``ATLAS/ingest/<run>/``::

    shard-00000.parquet   pos, uri, sha256, time, label, tile_row, tile_col,
    shard-00001.parquet   width, height, meta (JSON text), vector (float32[d]),
    ...                   failure (why the item could not be used, else null)

A shard is written under a temporary name and renamed when complete, so a
file with the final name is always whole and a re-run can reuse it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..sources import Failure
from .database import ImageRow, Store

__all__ = ["shard_name", "write_shard", "shard_failures", "ingest_shards", "shard_rows", "export_keys", "stored_keys"]


def shard_name(index: int) -> str:
    """The file name of the ``index``-th shard of a run (sorts in batch order)."""
    return f"shard-{index:05d}.parquet"


def write_shard(path: Path, rows: Sequence[ImageRow], vectors: np.ndarray, failures: Sequence[Failure]) -> Path:
    """Write the rows with their ``(len(rows), d)`` codes, and the failures, as one Parquet file.

    The file is written under a temporary name in the same folder and
    renamed when complete.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, np.float32)
    if vectors.ndim != 2 or len(vectors) != len(rows):
        raise ValueError(f"{len(rows)} rows but vectors of shape {vectors.shape}")
    n = len(rows) + len(failures)
    nulls = [None] * len(failures)
    codes = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])
    table = pa.table({
        "pos": pa.array(range(n), pa.int32()),
        "uri": [r.uri for r in rows] + [f.uri for f in failures],
        "sha256": pa.array([r.sha256 for r in rows] + nulls, pa.string()),
        "time": pa.array([r.time for r in rows] + nulls, pa.timestamp("us")),
        "label": pa.array([r.label for r in rows] + nulls, pa.string()),
        "tile_row": pa.array([r.tile_row for r in rows] + nulls, pa.int32()),
        "tile_col": pa.array([r.tile_col for r in rows] + nulls, pa.int32()),
        "width": pa.array([r.width for r in rows] + nulls, pa.int32()),
        "height": pa.array([r.height for r in rows] + nulls, pa.int32()),
        "meta": pa.array([json.dumps(r.meta) if r.meta else None for r in rows] + nulls, pa.string()),
        "vector": pa.concat_arrays([codes, pa.nulls(len(failures), codes.type)]),
        "failure": pa.array([None] * len(rows) + [f.reason for f in failures], pa.string()),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
    return path


def shard_failures(store: Store, paths: Sequence[Path]) -> list[Failure]:
    """The failures recorded in shards, in shard and row order (read with the atlas's DuckDB)."""
    if not paths:
        return []
    rows = store.con.execute("SELECT uri, failure FROM read_parquet(?, filename = true) "
                             "WHERE failure IS NOT NULL ORDER BY filename, pos", [[str(p) for p in paths]]).fetchall()
    return [Failure(uri, reason) for uri, reason in rows]


def shard_rows(store: Store, paths: Sequence[Path]) -> int:
    """How many rows (failures not counted) the shards hold."""
    if not paths:
        return 0
    return int(store.scalar("SELECT count(*) FROM read_parquet(?) WHERE failure IS NULL", [[str(p) for p in paths]]))


_FRESH = """
CREATE TEMP TABLE _ingest AS
WITH shard AS (
    SELECT *, row_number() OVER (PARTITION BY uri, sha256 ORDER BY filename, pos) AS copy
    FROM read_parquet(?, filename = true) WHERE failure IS NULL
)
SELECT (SELECT coalesce(max(id) + 1, 0) FROM images) + row_number() OVER (ORDER BY filename, pos) - 1 AS id,
       uri, sha256, time, label, tile_row, tile_col, width, height, meta, vector
FROM shard s
WHERE copy = 1 AND NOT EXISTS (SELECT 1 FROM images i WHERE i.uri = s.uri AND i.sha256 = s.sha256)
"""


def ingest_shards(store: Store, paths: Sequence[Path]) -> int:
    """Add the rows of finished shards to the atlas in one transaction; returns how many were new.

    Rows whose (uri, sha256) the atlas already holds, or that an earlier
    shard of ``paths`` holds, are skipped, so ingesting the same shards
    twice adds nothing. Ids continue from the largest stored one, in shard
    and row order.
    """
    if not paths:
        return 0
    d = store.code_size()
    with store.adding():
        store.con.execute(_FRESH, [[str(p) for p in paths]])  # rolled back with the rest on failure
        added = store.scalar("SELECT count(*) FROM _ingest")
        store.con.execute("INSERT INTO images SELECT id, uri, sha256, time, label, tile_row, tile_col, "
                          "width, height, meta FROM _ingest")
        store.con.execute(f"INSERT INTO embeddings SELECT id, vector::FLOAT[{int(d)}] FROM _ingest")
        store.con.execute("DROP TABLE _ingest")
    return int(added)


def export_keys(store: Store, path: Path) -> Path:
    """Write the (uri, sha256) pairs the atlas holds to ``path`` (Parquet), for workers that cannot open the atlas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    store.con.execute(f"COPY (SELECT uri, sha256 FROM images) TO '{_quoted(path)}' (FORMAT parquet)")
    return path


def stored_keys(path: Path, uris: Sequence[str]) -> set[tuple[str, str]]:
    """The pairs of :func:`export_keys`'s file ``path`` whose uri is among ``uris`` (read with an in-memory DuckDB)."""
    import duckdb

    with duckdb.connect() as con:
        rows = con.execute("SELECT uri, sha256 FROM read_parquet(?) WHERE uri IN (SELECT unnest(?))",
                           [str(path), list(uris)]).fetchall()
    return set(rows)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
