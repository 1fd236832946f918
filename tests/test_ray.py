"""The Ray Data distributor of embed (latentatlas.pipeline.ray) on a local Ray instance, and its Parquet shards."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.store.parquet import ingest_shards, shard_name, write_shard
from latentatlas.sources import Failure, Record
from latentatlas.store import ImageRow, Store

ray = pytest.importorskip("ray")

ROWS = "SELECT id, uri, sha256, time, label, tile_row, tile_col, width, height, meta FROM images ORDER BY id"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray instance of 2 CPUs for the module (the embeds join it rather than start their own)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _empty_copy(atlas: Path, to: Path) -> Path:
    """A copy of ``atlas`` with the model and no rows."""
    shutil.copytree(atlas, to)
    store = Store(to)
    store.clear()
    store.close()
    return to


def _same_atlas(a: Path, b: Path) -> None:
    """Rows equal, vectors within 1e-5."""
    left, right = Store(a, read_only=True), Store(b, read_only=True)
    try:
        assert left.query(ROWS).rows == right.query(ROWS).rows
        ids_a, vectors_a = left.vectors()
        ids_b, vectors_b = right.vectors()
    finally:
        left.close()
        right.close()
    assert np.array_equal(ids_a, ids_b)
    np.testing.assert_allclose(vectors_a, vectors_b, atol=1e-5, rtol=0)


@pytest.fixture()
def digits_with_broken(tmp_path, digits_dir) -> Path:
    """The digits and one file that is not an image."""
    root = Path(shutil.copytree(digits_dir, tmp_path / "digits"))
    (root / "3" / "broken.png").write_bytes(b"not a png")
    return root


def test_ray_embed_gives_the_rows_and_codes_of_a_local_embed(tmp_path, cli, digits_atlas, digits_with_broken):
    local, distributed = (_empty_copy(digits_atlas, tmp_path / f"{n}.atlas") for n in ("local", "ray"))
    expected = cli("embed", digits_with_broken, "--atlas", local, "--json", "--batch-size", "64")
    result = cli("embed", digits_with_broken, "--atlas", distributed, "--json", "--engine", "ray",
                 "--workers", "2", "--batch-size", "64")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(expected.stdout)
    assert json.loads(result.stdout)["failed"][0]["uri"].endswith("broken.png")
    _same_atlas(local, distributed)
    assert not any((distributed / "ingest").iterdir())  # the run's shards go once ingested
    again = cli("embed", digits_with_broken, "--atlas", distributed, "--json", "--engine", "ray")
    assert json.loads(again.stdout)["added"] == 0


def test_grib2_and_netcdf_are_read_in_the_workers(tmp_path, radar_atlas):
    from latentatlas.datasets.samples import export_sample

    grib, _ = export_sample("radar", tmp_path / "grib", fmt="grib2", days=1, grid=(32, 56))
    netcdf, _ = export_sample("radar", tmp_path / "nc", fmt="netcdf", days=1, grid=(32, 56), seed=1)
    sources = [grib, netcdf / "radar.nc"]
    local, distributed = (_empty_copy(radar_atlas, tmp_path / f"{n}.atlas") for n in ("local", "ray"))
    with Atlas.open(local) as atlas:
        atlas.embed(sources, batch_size=16, progress=False)
    with Atlas.open(distributed) as atlas:
        report = atlas.embed(sources, batch_size=16, progress=False, engine="ray", workers=2)
    assert report.added == 48 and not report.failures
    _same_atlas(local, distributed)


def test_the_workers_hash_as_in_process_and_the_driver_opens_no_file(tmp_path, digits_atlas, digits_dir, monkeypatch):
    local, distributed = (_empty_copy(digits_atlas, tmp_path / f"{n}.atlas") for n in ("local", "ray"))
    with Atlas.open(local) as atlas:
        atlas.embed(digits_dir, batch_size=100, progress=False)

    def hashed_on_the_driver(record):
        raise AssertionError(f"the driver hashed {record.uri}")

    with monkeypatch.context() as patch:  # the actors are processes of their own: only the driver's hashing fails
        patch.setattr(Record, "sha256", property(hashed_on_the_driver))
        patch.setattr(Record, "load", hashed_on_the_driver)
        with Atlas.open(distributed) as atlas:
            report = atlas.embed(digits_dir, batch_size=100, progress=False, engine="ray", workers=2)
    assert report.added == 300 and not report.failures
    keys = "SELECT id, uri, sha256 FROM images ORDER BY id"
    left, right = Store(local, read_only=True), Store(distributed, read_only=True)
    assert right.query(keys).rows == left.query(keys).rows
    left.close()
    right.close()


class _Stop(Exception):
    """What the test's progress callback raises to stop a job as a killed driver would."""


def test_a_rerun_after_a_failed_job_reuses_its_finished_shards(tmp_path, digits_atlas, digits_dir):
    local, distributed = (_empty_copy(digits_atlas, tmp_path / f"{n}.atlas") for n in ("local", "ray"))
    with Atlas.open(local) as atlas:
        atlas.embed(digits_dir, batch_size=10, progress=False)

    def stop_after_two(stage, done, total, **info):
        if info.get("shard") and len(list((distributed / "ingest").glob("*/shard-*.parquet"))) >= 2:
            raise _Stop

    with Atlas.open(distributed) as atlas, pytest.raises(_Stop):
        atlas.embed(digits_dir, batch_size=10, progress=stop_after_two, engine="ray", workers=1)
    store = Store(distributed, read_only=True)
    assert store.count("images") == 0  # nothing is ingested before every shard is there
    store.close()
    left = {p.name for p in (distributed / "ingest").glob("*/shard-*.parquet")}
    assert 2 <= len(left) < 30  # 30 batches: the job stops long before its end

    events = []
    with Atlas.open(distributed) as atlas:
        report = atlas.embed(digits_dir, batch_size=10, progress=lambda *a, **info: events.append(info),
                             engine="ray", workers=1)
    assert next(e["reused_shards"] for e in events if "reused_shards" in e) == len(left)
    encoded = {e["shard"] for e in events if "shard" in e}
    assert encoded.isdisjoint(left) and encoded | left == {shard_name(i) for i in range(30)}
    assert report.added == 300
    _same_atlas(local, distributed)


def _row(i: int) -> ImageRow:
    return ImageRow(uri=f"/data/{i}.png", sha256=f"{i:064x}", width=8, height=8, label=str(i % 3), meta={"i": i})


def test_ingest_is_idempotent_and_skips_stored_rows(tmp_path):
    store = Store(tmp_path / "a.atlas")
    store.ensure_embeddings(4)
    store.add([_row(0)], np.zeros((1, 4), np.float32))
    vectors = np.arange(24, dtype=np.float32).reshape(6, 4)
    first = write_shard(tmp_path / "run" / shard_name(0), [_row(i) for i in range(3)], vectors[:3],
                        [Failure("/data/bad.png", "not an image")])
    second = write_shard(tmp_path / "run" / shard_name(1), [_row(i) for i in range(2, 5)], vectors[3:], [])
    assert ingest_shards(store, [first, second]) == 4  # rows 1, 2, 3, 4: row 0 was stored, row 2 is in both
    assert ingest_shards(store, [first, second]) == 0
    assert store.query("SELECT id, uri FROM images ORDER BY id").rows == [(i, f"/data/{i}.png") for i in range(5)]
    ids, stored = store.vectors()
    np.testing.assert_array_equal(stored[1:], vectors[[1, 2, 4, 5]])
    assert store.images([3])[3]["meta"] == {"i": 3}
    store.close()


@pytest.mark.parametrize("options, message", [
    (["--engine", "spark"], "--engine must be one of local, ray, got 'spark'"),
    (["--engine", "ray", "--workers", "0"], "--workers must be a whole number >= 1, got 0"),
    (["--address", "auto"], "--address and --workers apply to --engine 'ray' only"),
])
def test_bad_engine_options_give_one_error_line(cli, error_line, atlas_copy, digits_dir, options, message):
    assert error_line(cli("embed", digits_dir, "--atlas", atlas_copy, *options), 2) == f"Error: {message}"


def test_missing_ray_names_the_extra(cli, error_line, atlas_copy, digits_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    line = error_line(cli("embed", digits_dir, "--atlas", atlas_copy, "--engine", "ray"), 1)
    assert line == "Error: the ray engine needs Ray Data, which is not installed: pip install latentatlas[scale]"
