"""Stored cluster runs: written whole, read back, never touching other runs."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas import ModelMismatchError, UsageError
from latentatlas.store import Store
from latentatlas.store.clusters import ClusterRun, free_run_name, load_run, run_names, save_run


@pytest.fixture()
def store(tmp_path):
    opened = Store(tmp_path / "a.atlas")
    yield opened
    opened.close()


def make_run(rng, name, n=12, k=3, d=4):
    return ClusterRun(name, np.arange(n, dtype=np.int64), rng.integers(k, size=n), rng.random(n, dtype=np.float32),
                      rng.normal(size=(k, d)).astype(np.float32), {"k": k, "seed": 1})


def same(a: ClusterRun, b: ClusterRun) -> bool:
    return (a.name == b.name and np.array_equal(a.ids, b.ids) and np.array_equal(a.clusters, b.clusters)
            and np.array_equal(a.distances, b.distances) and np.array_equal(a.centroids, b.centroids) and a.info == b.info)


def test_a_run_reads_back_as_written(store, rng):
    run = make_run(rng, "first")
    save_run(store, run)
    assert same(load_run(store, "first"), run)
    assert store.query("SELECT count(*) FROM clusters WHERE run = 'first'").rows == [(12,)]
    assert store.query("SELECT typeof(vector) FROM centroids LIMIT 1").rows == [("FLOAT[4]",)]


def test_new_names_leave_old_runs_alone_and_taken_names_are_refused(store, rng):
    first, second = make_run(rng, "first"), make_run(rng, "second", n=7, k=2)
    save_run(store, first)
    save_run(store, second)
    assert run_names(store) == ["first", "second"] and same(load_run(store, "first"), first)
    with pytest.raises(UsageError, match="a cluster run named 'first' exists; choose another name or pass replace"):
        save_run(store, make_run(rng, "first"))
    assert same(load_run(store, "first"), first)
    replacement = make_run(rng, "first", n=5, k=2)
    save_run(store, replacement, replace=True)
    assert same(load_run(store, "first"), replacement) and same(load_run(store, "second"), second)
    assert free_run_name(store, "first") == "first-2" and free_run_name(store, "third") == "third"


def test_a_failed_write_leaves_nothing(store, rng):
    save_run(store, make_run(rng, "kept"))
    broken = make_run(rng, "broken")
    broken.info = {"not json": object()}  # fails inside the transaction, after the rows went in
    with pytest.raises(TypeError):
        save_run(store, broken)
    assert run_names(store) == ["kept"] and store.query("SELECT count(*) FROM clusters").rows == [(12,)]


def test_errors_name_the_run_and_the_sizes(store, rng):
    with pytest.raises(UsageError, match="no cluster run named 'nope'; none stored yet"):
        load_run(store, "nope")
    save_run(store, make_run(rng, "four"))
    with pytest.raises(UsageError, match="no cluster run named 'nope'; stored runs: four"):
        load_run(store, "nope")
    with pytest.raises(ModelMismatchError, match=r"runs \(four\) have centres of 4 numbers, the codes now have 6"):
        save_run(store, make_run(rng, "six", d=6))
    with pytest.raises(UsageError, match="must not be empty"):
        save_run(store, make_run(rng, " "))


def test_clearing_the_codes_drops_the_runs(store, rng):
    save_run(store, make_run(rng, "gone"))
    store.clear()
    assert run_names(store) == [] and store.setting("cluster_run:gone") is None
