"""Cluster runs in the atlas: the ``clusters`` and ``centroids`` tables.

::

    clusters(run TEXT, id BIGINT, cluster INT, distance FLOAT)
    centroids(run TEXT, cluster INT, vector FLOAT[d])

A run is written in one transaction, under a name; the run's settings and
scores go to the ``settings`` table under ``cluster_run:<name>``. Writing a
new run never touches the others; an existing name is refused unless
``replace`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelMismatchError, UsageError
from .database import Store
from .schema import CLUSTER_RUN_SETTING, CLUSTERS_TABLE, centroids_table

__all__ = ["ClusterRun", "save_run", "load_run", "run_names", "run_exists", "check_name", "free_run_name", "RUN_SETTING"]

RUN_SETTING = CLUSTER_RUN_SETTING


@dataclass
class ClusterRun:
    """One stored run: each row's cluster and distance, and the centres."""

    name: str
    ids: np.ndarray
    clusters: np.ndarray
    distances: np.ndarray
    centroids: np.ndarray
    info: dict[str, Any]


def run_names(store: Store) -> list[str]:
    """Names of the stored runs, sorted."""
    if not store.has_table("centroids"):
        return []
    return [r[0] for r in store.con.execute("SELECT DISTINCT run FROM centroids ORDER BY run").fetchall()]


def run_exists(store: Store, name: str) -> bool:
    """Whether a run called ``name`` is stored."""
    return store.has_table("centroids") and store.scalar("SELECT count(*) FROM centroids WHERE run = ?", [name]) > 0


def check_name(store: Store, name: str, replace: bool = False) -> None:
    """Raise :class:`UsageError` if ``name`` is empty, or taken and ``replace`` is false."""
    if not name or not name.strip():
        raise UsageError("a run name must not be empty")
    if not replace and run_exists(store, name):
        raise UsageError(f"{store.path}: a cluster run named {name!r} exists; choose another name or pass replace",
                         parameter=("name", "replace"))


def free_run_name(store: Store, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... whichever is not taken."""
    taken = set(run_names(store))
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def save_run(store: Store, run: ClusterRun, replace: bool = False) -> None:
    """Write a run in one transaction.

    Raises
    ------
    UsageError
        If a run of that name exists and ``replace`` is false, or the name is empty.
    ModelMismatchError
        If the stored centroids have another length than the run's.
    """
    import pyarrow as pa

    check_name(store, run.name, replace)
    d = run.centroids.shape[1]
    _ensure_tables(store, d)
    k = len(run.centroids)
    assignments = pa.table({
        "run": pa.array([run.name] * len(run.ids), pa.string()),
        "id": np.asarray(run.ids, np.int64),
        "cluster": np.asarray(run.clusters, np.int32),
        "distance": np.asarray(run.distances, np.float32),
    })
    centres = pa.table({
        "run": pa.array([run.name] * k, pa.string()),
        "cluster": np.arange(k, dtype=np.int32),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(np.asarray(run.centroids, np.float32).reshape(-1)), d),
    })
    store.con.register("_new_clusters", assignments)
    store.con.register("_new_centroids", centres)
    try:
        with store.transaction():
            store.con.execute("DELETE FROM clusters WHERE run = ?", [run.name])
            store.con.execute("DELETE FROM centroids WHERE run = ?", [run.name])
            store.con.execute("INSERT INTO clusters SELECT run, id, cluster, distance FROM _new_clusters")
            store.con.execute(f"INSERT INTO centroids SELECT run, cluster, vector::FLOAT[{d}] FROM _new_centroids")
            store.set_setting(RUN_SETTING + run.name, run.info)
    finally:
        store.con.unregister("_new_clusters")
        store.con.unregister("_new_centroids")


def load_run(store: Store, name: str) -> ClusterRun:
    """Read a stored run back, rows by id and centres by cluster number.

    Raises
    ------
    UsageError
        If there is no run of that name.
    """
    if not run_exists(store, name):
        known = run_names(store)
        hint = f"; stored runs: {', '.join(known)}" if known else "; none stored yet (run `latentatlas cluster`)"
        raise UsageError(f"{store.path}: no cluster run named {name!r}{hint}")
    rows = store.con.execute(
        "SELECT id, cluster, distance FROM clusters WHERE run = ? ORDER BY id", [name]
    ).fetchnumpy()
    table = store.con.sql("SELECT vector FROM centroids WHERE run = $1 ORDER BY cluster", params=[name]).to_arrow_table()
    flat = table.column("vector").combine_chunks().flatten().to_numpy()
    centroids = np.ascontiguousarray(flat.reshape(table.num_rows, -1), np.float32)
    return ClusterRun(
        name=name, ids=rows["id"].astype(np.int64), clusters=rows["cluster"].astype(np.int64),
        distances=rows["distance"].astype(np.float32), centroids=centroids,
        info=store.setting(RUN_SETTING + name, {}),
    )


def _ensure_tables(store: Store, d: int) -> None:
    store.con.execute(CLUSTERS_TABLE)
    store.con.execute(centroids_table(d))
    data_type = store.scalar(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'centroids' AND column_name = 'vector'"
    )
    stored = int(data_type.split("[")[1].rstrip("]"))
    if stored != d:
        raise ModelMismatchError(
            f"{store.path}: the stored cluster runs ({', '.join(run_names(store))}) have centres of {stored} numbers, "
            f"the codes now have {d}"
        )
