"""A damaged or odd atlas, file or name gets one line with the reason and what still works, never a traceback."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from latentatlas.store.database import ImageRow, Store

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from latentatlas.server import create_app  # noqa: E402


def warnings_of(result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]


@pytest.mark.parametrize("content", ["[]", "null", "{not json"])
def test_a_configuration_that_is_no_object_is_one_line_everywhere(cli, error_line, atlas_copy, digits_dir, content):
    (atlas_copy / "model" / "config.json").write_text(content)
    reason = "config.json: not a latentatlas model configuration"
    result = cli("info", "--atlas", atlas_copy)
    assert result.exit_code == 0 and "300 images" in result.stdout
    assert [reason in line and "decoding is off" in line for line in warnings_of(result)] == [True]
    image = next((digits_dir / "3").glob("*.png"))
    for command in (["decode", "--atlas", atlas_copy, "--id", "0", "--out", atlas_copy / "d.png"],
                    ["search", "--atlas", atlas_copy, image], ["embed", digits_dir / "3", "--atlas", atlas_copy]):
        assert reason in error_line(cli(*command), 1)
    assert cli("search", "--atlas", atlas_copy, "--id", "0", "-k", "3").exit_code == 0  # no model needed


def test_a_garbage_history_is_one_line_in_info_and_the_page_still_loads(cli, atlas_copy):
    (atlas_copy / "model" / "history.json").write_bytes(b"\xff\x00garbage")
    result = cli("info", "--atlas", atlas_copy)
    assert result.exit_code == 0 and "Model " in result.stdout
    assert len(warnings_of(result)) == 1 and "history.json: not a training history" in warnings_of(result)[0]
    with TestClient(create_app(atlas_copy)) as client:
        info = client.get("/api/info")
    assert info.status_code == 200 and info.json()["history"] is None
    assert "history.json: not a training history" in info.json()["problems"][0]


def test_the_server_starts_on_damaged_weights_with_decoding_off(atlas_copy):
    weights = atlas_copy / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    app = create_app(atlas_copy)
    assert "weights.safetensors: cannot read weights" in app.state.decoding_off
    assert "decoding is off" in app.state.decoding_off
    with TestClient(app) as client:
        assert client.get("/api/search", params={"id": 1, "k": 3}).status_code == 200
        assert client.get("/api/search", params={"id": 1, "k": 3, "where": "id > 5"}).status_code == 200
        assert client.get("/api/info").json()["model"] is None
        decoded = client.get("/api/decoded/1.png")
    assert decoded.status_code == 422 and "cannot read weights" in decoded.json()["error"]


def test_an_index_that_cannot_be_written_is_one_line(cli, error_line, atlas_copy, monkeypatch):
    from latentatlas.search.ann import AnnIndex

    def refuse(self, directory):  # as on a read-only atlas (the tests may run as root, whom chmod does not stop)
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(AnnIndex, "save", refuse)
    line = error_line(cli("index", "--atlas", atlas_copy, "--kind", "hnsw"), 1)
    assert "cannot write the index (Permission denied); the atlas is unchanged" in line
    assert not (atlas_copy / "index").exists()


def test_two_writable_handles_adding_from_two_threads_give_distinct_ids(tmp_path):
    path = tmp_path / "two.atlas"
    first = Store(path)
    first.ensure_embeddings(4)
    first.close()
    handles = [Store(path), Store(path)]
    start = threading.Barrier(2)
    errors = []

    def add(store: Store, name: str) -> None:
        start.wait()
        try:
            for batch in range(20):
                rows = [ImageRow(f"{name}/{batch}/{i}", f"{name}{batch}{i}", 8, 8) for i in range(5)]
                store.add(rows, np.full((5, 4), batch, np.float32))
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=add, args=(h, n)) for h, n in zip(handles, "ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = handles[0].con.execute("SELECT id FROM images ORDER BY id").fetchnumpy()["id"]
    assert np.array_equal(ids, np.arange(200))
    assert handles[0].count("embeddings") == 200
    for handle in handles:
        handle.close()


def test_a_manifest_that_is_no_manifest_does_not_show_its_content(cli, error_line, atlas_copy, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$s3cr3t$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    (tmp_path / "list.csv").symlink_to(secret)
    line = error_line(cli("embed", tmp_path / "list.csv", "--atlas", atlas_copy), 1)
    assert "its first line is not a header of column names" in line and "s3cr3t" not in line


def test_terminal_escapes_in_file_names_are_shown_not_sent(cli, atlas_copy, digits_dir, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    name = "a\x1b[31mred\x1b]0;title\x07.png"
    shutil.copy(next((digits_dir / "5").glob("*.png")), folder / name)
    (folder / "[bold]x.png").write_bytes(b"not a png")
    embedded = cli("embed", folder, "--atlas", atlas_copy)
    assert embedded.exit_code == 0, embedded.output
    assert "\x1b" not in embedded.output and "[bold]x.png" in embedded.stderr  # the skipped file, as named
    found = cli("search", "--atlas", atlas_copy, folder / name, "-k", "1")
    assert found.exit_code == 0 and "\x1b" not in found.stdout and "\x07" not in found.stdout
    assert "a\\x1b[31mred" in found.stdout.replace("\n", "")
