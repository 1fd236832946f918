"""The server against hostile clients: a real ``latentatlas serve`` on 127.0.0.1, the atlas unchanged after each case.

The atlas is the session's digits atlas, copied once for this module; the
server runs with small limits (a 1 s query timeout, 1 MB uploads, 64 MB of
memory for the clients' predicates) so that each case is quick.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

# Streams, without memory, for far longer than any timeout: only an interrupt ends it.
ENDLESS = "(SELECT sum(range) FROM range(1000000000000)) > 0"
# Issue 13's query: a cross join the database would materialise until memory or disk ran out.
CROSS_JOIN = "(SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = -1) > 0"
LIMITS = ("--query-timeout", "1", "--max-upload", "1", "--query-memory", "64")


@contextmanager
def serving(atlas: Path, *options: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``latentatlas serve`` on a free port of 127.0.0.1: the process and its address, stopped after.

    Its stderr goes to a file beside the atlas (a pipe nobody reads would block it once full).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from latentatlas.cli import main; main()",
               "serve", "--atlas", str(atlas), "--port", str(port), *options]
    log = atlas.parent / f"serve-{port}.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode}: {log.read_text()}")
            try:
                httpx.get(f"{url}/api/info", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def fingerprint(atlas: Path) -> dict[str, object]:
    """Row counts of the atlas's tables, a hash of each model file, and the names in the atlas directory."""
    import duckdb

    with duckdb.connect(str(atlas / "atlas.duckdb"), read_only=True) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("images", "embeddings")}
    models = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((atlas / "model").iterdir())}
    return {"rows": counts, "model": models, "files": sorted(p.name for p in atlas.iterdir())}


@pytest.fixture(scope="module")
def atlas(digits_atlas, tmp_path_factory) -> Path:
    return Path(shutil.copytree(digits_atlas, tmp_path_factory.mktemp("hostile") / "served.atlas"))


@pytest.fixture(scope="module")
def server(atlas) -> Iterator[tuple[subprocess.Popen, str]]:
    with serving(atlas, *LIMITS) as running:
        yield running


@pytest.fixture(autouse=True)
def unchanged(atlas):
    """Every case leaves the atlas as it was: the same rows, model files and directory."""
    before = fingerprint(atlas)
    yield
    assert fingerprint(atlas) == before


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert "\n" not in error and "Traceback" not in error
    return error


def search_ids(client, ids) -> None:
    """Search by each id, every one answering 200."""
    for i in ids:
        response = client.get("/api/search", params={"id": i, "k": 5})
        assert response.status_code == 200, response.text


def peak_rss(process: subprocess.Popen) -> int:
    """The process's peak resident memory in bytes (VmHWM)."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


@pytest.mark.parametrize("attackers", [1, 4])
def test_endless_wheres_are_cut_off_without_delaying_another_client(atlas, attackers):
    """Another client's searches all answer while the endless wheres still hold the server (counted, not timed).

    The wheres run until a 5 s timeout cuts them off: a server that made the searches wait behind them would
    answer none before the first cut.
    """
    with serving(atlas, "--query-timeout", "5") as (_, url), httpx.Client(base_url=url, timeout=30) as client:
        search_ids(client, range(5))  # warm: codes loaded, connections open
        answers = []

        def hostile() -> None:
            with httpx.Client(base_url=url, timeout=30) as attacker:
                answers.append(attacker.get("/api/search", params={"id": 1, "where": ENDLESS}))

        threads = [threading.Thread(target=hostile) for _ in range(attackers)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        search_ids(client, range(20, 40))
        cut_before = len(answers)
        for thread in threads:
            thread.join(timeout=60)
    assert cut_before == 0, "the searches waited until an endless where had been cut off"
    assert len(answers) == attackers
    for response in answers:
        assert "query timeout of 5 s (--query-timeout)" in one_line_error(response, 408)


@pytest.fixture(scope="module")
def patient_server(atlas) -> Iterator[tuple[subprocess.Popen, str]]:
    """The server with a 60 s query timeout: its cases are cut off by memory, never by the clock, even on a busy machine."""
    with serving(atlas, "--query-timeout", "60", "--query-memory", "64") as running:
        yield running


def test_a_cross_join_fails_alone_with_its_memory_bounded(patient_server):
    process, url = patient_server
    with httpx.Client(base_url=url, timeout=30) as client:
        search_ids(client, range(5))  # warm: the model and codes loaded before the memory is counted
    before = peak_rss(process)
    answers = []

    def hostile() -> None:
        with httpx.Client(base_url=url, timeout=30) as attacker:
            for _ in range(10):
                answers.append(attacker.get("/api/search", params={"id": 1, "where": CROSS_JOIN}))

    attacker = threading.Thread(target=hostile)
    attacker.start()
    with httpx.Client(base_url=url, timeout=30) as client:
        search_ids(client, range(40))  # every search answers 200 while the predicates exhaust their memory
    attacker.join(timeout=60)
    assert len(answers) == 10
    for response in answers:
        assert "Out of Memory" in one_line_error(response, 400)
    assert peak_rss(process) - before < 4 * 64_000_000  # the predicates' memory (64 MB) bounds it


def test_a_client_that_leaves_stops_its_query(atlas):
    """While the client waits, a thread of the server runs its query; once it has left, none does (thread states counted)."""
    with serving(atlas, "--query-timeout", "60") as (process, url):
        left = []

        def client() -> None:
            with pytest.raises(httpx.ReadTimeout):
                httpx.get(f"{url}/api/search", params={"id": 1, "where": ENDLESS}, timeout=3)
            left.append(True)

        waiting = threading.Thread(target=client)
        waiting.start()
        time.sleep(1.0)  # the query has started
        while_waiting = _samples_running(process)
        waiting.join(timeout=30)
        time.sleep(0.3)  # the watchdog's tick and the interrupt
        after_leaving = _samples_running(process)
    assert left and while_waiting >= 15, f"the query's thread ran in {while_waiting} of 20 looks while its client waited"
    assert after_leaving <= 10, f"a thread of the server still ran in {after_leaving} of 20 looks after its client left"


def _samples_running(process: subprocess.Popen, samples: int = 20) -> int:
    """The most looks, of ``samples`` 50 ms apart, in which one thread of ``process`` was running or ready to run.

    A thread that runs a query is in state R at every look; one that wakes now and then (the watchdog's tick,
    the event loop) is at few, even on a busy machine where it waits its turn for a core.
    """
    running: dict[str, int] = {}
    for _ in range(samples):
        for task in Path(f"/proc/{process.pid}/task").iterdir():
            try:
                state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:  # a thread that ended between the listing and the read
                continue
            running[task.name] = running.get(task.name, 0) + (state == "R")
        time.sleep(0.05)
    return max(running.values())


def test_sigterm_stops_the_server_while_a_query_runs(atlas):
    with serving(atlas, "--query-timeout", "60") as (process, url):
        answers = []
        attacker = threading.Thread(target=lambda: answers.append(
            httpx.get(f"{url}/api/search", params={"id": 1, "where": ENDLESS}, timeout=30)))
        attacker.start()
        time.sleep(0.5)
        assert process.poll() is None and not answers  # the query is running
        process.terminate()
        process.wait(timeout=20)  # well before the query's 60 s: the server did not wait for it
        attacker.join(timeout=10)
    assert "shutting down" in one_line_error(answers[0], 503)


def test_a_body_over_the_limit_is_refused(server):
    _, url = server
    declared = httpx.post(f"{url}/api/search", params={"filename": "big.png"}, content=b"x" * 2_000_000, timeout=30)
    assert "(--max-upload)" in one_line_error(declared, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b"x" * 100_000

    streamed = httpx.post(f"{url}/api/search", params={"filename": "big.png"}, content=chunks(), timeout=30)
    assert "(--max-upload)" in one_line_error(streamed, 413)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _npy_header_only(shape: tuple[int, ...]) -> bytes:
    """The header of a uint8 ``.npy`` of ``shape``, without its data: small in the archive, huge as declared."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("filename, body, status, message", [
    ("bomb.npz", _npz(images=np.zeros((200, 1000, 1000), np.uint8)), 413,
     "bomb.npz: the arrays of this .npz (200,000,128 bytes unpacked) is more than the server's limit"),
    ("forged.npz", _zip_of("images.npy", _npy_header_only((100_000, 100_000))), 413,
     "forged.npz: the arrays of this .npz (10,000,000,000 bytes unpacked)"),
    ("q.csv", b"path,label\n../model/config.json,x\n", 422,
     "q.csv: not an image (PNG, JPEG, TIFF, BMP, WebP) or an array"),
    ("q.npz", _zip_of("labels.csv", b"path,label\n/etc/passwd,x\n"), 422, "q.npz: not an .npz of arrays"),
    ("q.npz", b"PK\x03\x04 broken", 422, "q.npz: not a readable .npz"),
    ("..", b"\x89PNG", 400, "filename must be a plain file name, got '..'"),
    (".", b"\x89PNG", 400, "filename must be a plain file name, got '.'"),
    ("", b"\x89PNG", 400, "filename must be a plain file name, got ''"),
    ("../../model/config.json", b"\x89PNG", 400, "filename must be a plain file name"),
])
def test_uploads_are_one_image_or_array_by_content(server, filename, body, status, message):
    _, url = server
    response = httpx.post(f"{url}/api/search", params={"filename": filename}, content=body, timeout=30)
    assert message in one_line_error(response, status)


def test_an_array_upload_is_searched(server, digits_dir):
    from PIL import Image

    _, url = server
    path = sorted((digits_dir / "3").glob("*.png"))[0]
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(Image.open(path)))
    response = httpx.post(f"{url}/api/search", params={"filename": "three.csv", "k": 1}, content=buffer.getvalue(),
                          timeout=30)
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["query"]["image"] == "three.csv" and found["results"][0]["uri"] == str(path.resolve())


def test_a_where_that_changes_settings_is_refused_and_the_server_answers_after(server, tmp_path):
    process, url = server
    crashing = [f"EXISTS (SELECT 1 FROM enable_logging(storage='file', storage_path='{tmp_path}'))",
                "EXISTS (SELECT 1 FROM enable_profiling())"]
    with httpx.Client(base_url=url, timeout=30) as client:
        for where in crashing:
            response = client.get("/api/search", params={"id": 1, "k": 3, "where": where})
            assert "only read-only queries are allowed, got the function enable_" in one_line_error(response, 400)
        response = client.get("/api/search", params={"id": 1, "k": 3, "where": "id > 0"})
        assert response.status_code == 200, response.text
        assert len(response.json()["results"]) == 3
    assert process.poll() is None and not any(tmp_path.iterdir())


def test_an_upload_dropped_by_its_client_is_one_line_in_the_log(server, atlas):
    process, url = server
    port = int(url.rsplit(":", 1)[1])
    log = atlas.parent / f"serve-{port}.log"
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"POST /api/search?filename=q.png HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                           + b"\x89PNG" * 100)
    for _ in range(200):
        if "went away" in log.read_text():
            break
        time.sleep(0.05)
    lines = [line for line in log.read_text().splitlines() if "went away" in line]
    assert len(lines) == 1, log.read_text()
    assert "POST /api/search" in lines[0] and "Traceback" not in log.read_text()
    assert httpx.get(f"{url}/api/search", params={"id": 1, "k": 2}, timeout=30).status_code == 200


@pytest.mark.parametrize("path, params, message", [
    ("/api/search", {"id": "seven"}, "id: Input should be a valid integer"),
    ("/api/search", {"id": "99999999999999999999"}, "row ids are whole numbers from 0 to 9223372036854775807"),
    ("/api/search", {"id": "-99999999999999999999"}, "row ids are whole numbers from 0 to 9223372036854775807"),
    ("/api/search", {"id": "123456"}, "unknown id 123456"),
    ("/api/search", {"id": "1", "k": "1000000000"}, "k: Input should be less than or equal to 1000"),
    ("/api/search", {"id": "1", "k": str(2**63 - 1)}, "k: Input should be less than or equal to 1000"),
    ("/api/search", {"id": "1", "where": "(SELECT count(*) FROM read_text('/etc/hostname')) > 0"}, "disabled"),
    ("/api/search", {"id": "1", "where": "1 = 1; DROP TABLE images"}, "bad where predicate"),
    ("/api/images/99999999999999999999.png", {}, "row ids are whole numbers"),
    ("/api/decoded/1e3.png", {}, "id: Input should be a valid integer"),
    ("/api/interpolate.png", {"a": "1", "b": "99999999999999999999"}, "row ids are whole numbers"),
    ("/api/clusters/x';DROP TABLE images;--", {}, "no cluster run named"),
])
def test_bad_ids_and_predicates_are_one_line(server, path, params, message):
    _, url = server
    response = httpx.get(f"{url}{path}", params=params, timeout=30)
    assert message in one_line_error(response, 400)
