"""Hostile input, as a user who means harm or has a damaged file would send it: one line, nothing lost.

Each case names the input, the one-line message expected and checks that the
atlas's tables and model files are unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import LatentAtlasError, UsageError


def snapshot(atlas: Path) -> dict[str, object]:
    """Row counts of every table and the hash of every model file."""
    con = duckdb.connect(str(atlas / "atlas.duckdb"), read_only=True)
    try:
        tables = [name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        counts = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
    finally:
        con.close()
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((atlas / "model").iterdir())}
    return {"rows": counts, "model": files}


WRITING_SQL = [
    ("EXPLAIN ANALYZE COPY (SELECT 'x') TO '{atlas}/model/config.json'", "got COPY"),
    ("EXPLAIN ANALYZE DELETE FROM embeddings WHERE id < 100", "got DELETE"),
    ("EXPLAIN DELETE FROM embeddings", "got DELETE"),
    ("WITH d AS (DELETE FROM images RETURNING *) SELECT count(*) FROM d", "got DELETE"),
    ("SELECT * FROM query('DELETE FROM embeddings')", r"got the function query\(\)"),
    ("COPY images TO '{atlas}/out.csv'", "got COPY"),
    ("ATTACH '{atlas}/other.duckdb' AS other", "got ATTACH"),
    ("INSTALL httpfs", "got (INSTALL|LOAD)"),
    ("LOAD httpfs", "got LOAD"),
    ("SET threads = 1", "got SET"),
    ("PRAGMA database_size", "got PRAGMA"),
    ("CALL checkpoint()", "got CALL"),
    ("DROP TABLE embeddings", "got DROP"),
    ("SELECT 1; DELETE FROM images", "expected one statement, got 2"),
    ("SELECT * FROM enable_logging(storage='file', storage_path='{atlas}/log')", r"got the function enable_logging\(\)"),
    ("UPDATE EXTENSIONS", "got UPDATE"),
]


@pytest.mark.parametrize("query, reason", WRITING_SQL, ids=[q.split()[0] + str(i) for i, (q, _) in enumerate(WRITING_SQL)])
def test_sql_that_writes_is_refused_in_one_line_from_the_cli(cli, error_line, atlas_copy, query, reason):
    before = snapshot(atlas_copy)
    line = error_line(cli("sql", "--atlas", atlas_copy, query.format(atlas=atlas_copy)), 2)
    assert line.startswith("Error: bad query: ") and re.search(reason, line), line
    assert snapshot(atlas_copy) == before
    assert not (atlas_copy / "out.csv").exists() and not (atlas_copy / "other.duckdb").exists()
    assert not (atlas_copy / "log").exists()


@pytest.mark.parametrize("query, reason", WRITING_SQL[:5])
def test_sql_that_writes_is_refused_from_python_on_a_writable_atlas(atlas_copy, query, reason):
    before = snapshot(atlas_copy)
    with Atlas.open(atlas_copy) as atlas:
        with pytest.raises(UsageError, match=reason):
            atlas.sql(query.format(atlas=atlas_copy))
        assert atlas.sql("SELECT count(*) AS n FROM embeddings").rows[0][0] == before["rows"]["embeddings"]
    assert snapshot(atlas_copy) == before


@pytest.mark.parametrize("query", [
    "EXPLAIN SELECT count(*) FROM images",
    "EXPLAIN ANALYZE SELECT count(*) FROM images",
    "WITH a AS (SELECT id FROM images) SELECT count(*) FROM a",
    "DESCRIBE images",
    "SUMMARIZE SELECT id FROM images",
    "FROM images LIMIT 2",
    "SELECT id FROM images UNION SELECT id FROM embeddings ORDER BY id LIMIT 3",
])
def test_reading_sql_still_runs(atlas_copy, query):
    with Atlas.open(atlas_copy) as atlas:
        assert atlas.sql(query).rows


def test_a_where_predicate_that_writes_is_refused(atlas_copy):
    before = snapshot(atlas_copy)
    with Atlas.open(atlas_copy) as atlas:
        with pytest.raises(UsageError, match="only read-only"):
            atlas.search(id=0, k=3, where="id IN (SELECT id FROM query('DELETE FROM images'))")
    assert snapshot(atlas_copy) == before


@pytest.mark.parametrize("k", [10**8, 2**63 - 1])
def test_k_beyond_the_rows_gives_every_row_once(digits_atlas, k):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        found = atlas.search(id=0, k=k)
        batch = atlas.search_batch([0, 1], k=k)
        rows = atlas.info()["rows"]
    assert sorted(h.id for h in found.hits) == list(range(rows)) and found.hits[0].id == 0
    assert batch.ids.shape == (2, rows) and (batch.ids >= 0).all()


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG of about a hundred bytes whose header claims ``width`` x ``height`` grey pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def hostile_folder(tmp_path, digits_dir) -> Path:
    """Good digits beside a decompression bomb, a small file claiming 144 MP, and a FIFO named like a PNG."""
    folder = tmp_path / "mixed"
    shutil.copytree(digits_dir / "3", folder / "good")
    png_claiming(folder / "bomb.png", 30000, 30000)
    png_claiming(folder / "claims.png", 12000, 12000)
    os.mkfifo(folder / "pipe.png")
    return folder


HOSTILE_FILES = {
    "bomb.png": "decompression bomb|more than the limit",
    "claims.png": r"12000 x 12000 pixels is more than the limit of 100,000,000 \(--max-pixels\)",
    "pipe.png": r"not a regular file \(a FIFO, device or socket\); skipped",
}


def test_embed_lists_bombs_oversized_headers_and_fifos_and_keeps_the_good_images(cli, atlas_copy, hostile_folder):
    before = snapshot(atlas_copy)["rows"]["images"]
    result = cli("embed", hostile_folder, "--atlas", atlas_copy, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    reasons = {Path(f["uri"]).name: f["reason"] for f in report["failed"]}
    assert set(reasons) == set(HOSTILE_FILES)
    for name, pattern in HOSTILE_FILES.items():
        assert re.search(pattern, reasons[name]), reasons[name]
    good = len(list((hostile_folder / "good").iterdir()))
    assert report["added"] + report["skipped"] == good and report["rows"] == before + report["added"]


def test_build_keeps_the_good_images_of_a_hostile_folder(cli, hostile_folder, tmp_path):
    result = cli("build", hostile_folder, "--atlas", tmp_path / "b.atlas", "--code-size", "4", "--epochs", "1",
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["embed"]
    assert {Path(f["uri"]).name for f in report["failed"]} == set(HOSTILE_FILES)
    assert report["rows"] == len(list((hostile_folder / "good").iterdir()))


def test_max_pixels_is_a_reading_option_stored_with_the_atlas(cli, error_line, tmp_path, digits_dir):
    line = error_line(cli("build", digits_dir / "1", "--atlas", tmp_path / "small.atlas", "--code-size", "4",
                          "--epochs", "1", "--max-pixels", "63"), 1)
    assert "8 x 8 pixels is more than the limit of 63 (--max-pixels)" in line
    atlas = tmp_path / "m.atlas"
    result = cli("build", digits_dir / "1", "--atlas", atlas, "--code-size", "4", "--epochs", "1",
                 "--max-pixels", "64", "--json")
    assert result.exit_code == 0, result.output
    with Atlas.open(atlas) as opened:
        assert opened.store.setting("reader")["max_pixels"] == 64


def _npz_declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An ``.npz`` of a few hundred bytes whose ``images`` header declares a uint8 array of ``shape``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", header.getvalue())
    return path


def test_an_npz_is_checked_from_its_headers_before_it_is_unpacked(cli, error_line, atlas_copy, tmp_path):
    before = snapshot(atlas_copy)
    forged = _npz_declaring(tmp_path / "forged.npz", (600_000, 8_000, 8_000))  # 38 TB declared
    line = error_line(cli("embed", forged, "--atlas", atlas_copy), 1)
    assert "forged.npz: its arrays would take 38,400,000,000,000 bytes unpacked, more than the" in line
    wide = tmp_path / "wide.npz"
    np.savez_compressed(wide, images=np.zeros((2, 300, 400), np.uint8))
    line = error_line(cli("build", wide, "--atlas", tmp_path / "w.atlas", "--max-pixels", "1000"), 1)
    assert "wide.npz: images of 400 x 300 pixels is more than the limit of 1,000 (--max-pixels)" in line
    assert snapshot(atlas_copy) == before


def test_a_fifo_given_as_the_source_is_refused_in_one_line(cli, error_line, atlas_copy, tmp_path):
    os.mkfifo(tmp_path / "x.png")
    line = error_line(cli("embed", tmp_path / "x.png", "--atlas", atlas_copy), 1)
    assert "x.png: not a regular file" in line


def test_build_skips_non_finite_stack_items_and_takes_the_range_from_the_finite_ones(cli, tmp_path, rng):
    stack = (rng.random((40, 16, 16)) * 50).astype(np.float32)
    stack[3, 2, 2], stack[7, 0, 0] = np.inf, np.nan
    np.save(tmp_path / "fields.npy", stack)
    result = cli("build", tmp_path / "fields.npy", "--atlas", tmp_path / "f.atlas", "--code-size", "4",
                 "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [f["uri"].rsplit("#", 1)[1] for f in report["embed"]["failed"]] == ["3", "7"]
    assert report["embed"]["rows"] == 38
    with Atlas.open(tmp_path / "f.atlas") as opened:
        low, high = opened.model.preprocess.value_range
    finite = np.delete(stack, [3, 7], axis=0)
    assert np.isfinite([low, high]).all() and high <= float(finite.max()) + 1e-3


BIG_IDS = ["99999999999999999999", "-99999999999999999999", "9223372036854775808"]


@pytest.mark.parametrize("command", ["search", "decode"])
@pytest.mark.parametrize("big", BIG_IDS)
def test_ids_outside_bigint_get_one_line(cli, error_line, atlas_copy, tmp_path, command, big):
    before = snapshot(atlas_copy)
    extra = ("--out", tmp_path / "o.png") if command == "decode" else ()
    line = error_line(cli(command, "--atlas", atlas_copy, "--id", big, *extra), 2)
    assert line == f"Error: unknown id {big}: row ids are whole numbers from 0 to 9223372036854775807"
    assert snapshot(atlas_copy) == before


def test_ids_outside_bigint_from_python(atlas_copy):
    with Atlas.open(atlas_copy) as atlas:
        with pytest.raises(UsageError, match="unknown id 99999999999999999999: row ids are whole numbers"):
            atlas.search(id=99999999999999999999, k=3)


@pytest.mark.parametrize("damage", ["truncated to a half", "truncated to a tenth", "random bytes"])
@pytest.mark.parametrize("command", [("info",), ("search", "--id", "1"), ("embed", "{digits}")])
def test_a_damaged_database_gets_one_line_naming_it(cli, error_line, atlas_copy, digits_dir, damage, command):
    db = atlas_copy / "atlas.duckdb"
    data = db.read_bytes()
    damaged = {"truncated to a half": data[:len(data) // 2], "truncated to a tenth": data[:len(data) // 10],
               "random bytes": np.random.default_rng(0).bytes(5000)}[damage]
    db.write_bytes(damaged)
    name, *rest = command
    line = error_line(cli(name, *[a.format(digits=digits_dir / "1") for a in rest], "--atlas", atlas_copy), 1)
    assert line.startswith(f"Error: {db}: damaged or not a DuckDB file: ")
    assert db.read_bytes() == damaged


@pytest.mark.parametrize("section, key, value", [
    ("preprocess", "height", 1e9), ("autoencoder", "height", 1e9), ("autoencoder", "code_size", -3),
    ("preprocess", "channels", "3"), ("autoencoder", "base_channels", 10**7),
])
def test_a_model_configuration_with_impossible_sizes_is_refused_before_allocating(
        cli, error_line, atlas_copy, tmp_path, section, key, value):
    config_path = atlas_copy / "model" / "config.json"
    config = json.loads(config_path.read_text())
    config[section][key] = value
    config_path.write_text(json.dumps(config))
    before = snapshot(atlas_copy)
    line = error_line(cli("decode", "--atlas", atlas_copy, "--id", "1", "--out", tmp_path / "o.png"), 1)
    assert line.startswith(f"Error: {config_path}: {key} must be a whole number from ")
    with pytest.raises(LatentAtlasError, match=f"{key} must be a whole number"):
        with Atlas.open(atlas_copy) as atlas:
            atlas.model
    assert snapshot(atlas_copy) == before


def test_an_overwrite_clears_everything_made_from_the_old_rows(atlas_copy, shapes_dir):
    """Ids restart at 0 after ``fit --overwrite``: ORB features, clusters and the ANN index of old rows must go."""
    with Atlas.open(atlas_copy) as atlas:
        atlas.features_index(progress=False)
        atlas.cluster(3, name="old", progress=False)
        atlas.index("hnsw", progress=False)
        old_rows = atlas.store.count("images")
        (atlas.store.ingest_dir / "stopped-run").mkdir(parents=True)  # shards a killed distributed embed left
        atlas.fit(shapes_dir / "train", overwrite=True, code_size=8, epochs=1, base_channels=8, progress=False)
        assert not atlas.store.has_table("orb_features") and not atlas.store.has_table("clusters")
        assert not atlas.store.has_table("centroids") and not (atlas_copy / "index").exists()
        assert not atlas.store.ingest_dir.exists()
        atlas.embed(shapes_dir / "train", progress=False)
        added = atlas.features_index(progress=False)
        query = sorted((shapes_dir / "train").rglob("*.png"))[5]
        found = atlas.features_search(query, k=3)
    assert old_rows == 300 and added.indexed == 240          # every new row got its own features
    assert found.hits and Path(found.hits[0].uri).name == query.name
    assert all(str(shapes_dir) in hit.uri for hit in found.hits)
