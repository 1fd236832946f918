"""Export for Apple's Embedding Atlas (pyarrow only) and ``explore``, opened in a real headless Chromium."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from latentatlas import Atlas

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true")


def test_the_export_has_the_rows_a_map_the_neighbours_and_thumbnails(cli, served, tmp_path):
    result = cli("export", "--atlas", served, "--format", "embedding-atlas", "--out", tmp_path, "--neighbours", "5",
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    table = pq.read_table(tmp_path / "copy.parquet")
    assert report["rows"] == table.num_rows == 300 and report["failures"] == []
    assert table.column_names == ["id", "uri", "label", "time", "cluster_k3", "x", "y", "neighbors", "image"]
    with Atlas.open(served, read_only=True) as atlas:
        ids, codes = atlas.store.vectors()
    assert table.column("id").to_pylist() == ids.tolist()
    for row in (0, 17, 299):  # zero-based rows of the file, the nearest first, itself left out
        neighbours = table.column("neighbors")[row].as_py()
        exact = np.linalg.norm(codes - codes[row], axis=1)
        exact[row] = np.inf
        assert neighbours["ids"] == np.argsort(exact, kind="stable")[:5].tolist()
        np.testing.assert_allclose(neighbours["distances"], np.sort(exact)[:5], rtol=1e-4)
    thumbnail = Image.open(io.BytesIO(table.column("image")[0].as_py()))
    assert thumbnail.format == "PNG" and max(thumbnail.size) == 96
    assert set(table.column("cluster_k3").to_pylist()) == {0, 1, 2}


def test_export_refuses_an_unknown_format_and_explore_names_its_extra(cli, digits_atlas, tmp_path, error_line,
                                                                        monkeypatch):
    line = error_line(cli("export", "--atlas", digits_atlas, "--format", "csv", "--out", tmp_path), 2)
    assert line == "Error: --format must be one of embedding-atlas, got 'csv'"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "embedding_atlas" else real(name, *a))
    line = error_line(cli("explore", "--atlas", digits_atlas), 1)
    assert "explore needs Embedding Atlas, an optional extra: pip install 'latentatlas[explore]'" in line


def _devtools(url: str, expression: str, profile) -> object:
    """Open ``url`` in headless Chromium, with every other address unreachable, and return ``expression``'s value there.

    Chromium speaks its DevTools protocol over a pipe (fds 3 and 4 of the
    child, messages ended by NUL), so no WebSocket client is needed.
    """
    to_chromium, to_us = os.pipe(), os.pipe()

    def pipes() -> None:
        read, write = os.dup(to_chromium[0]), os.dup(to_us[1])
        os.dup2(read, 3)
        os.dup2(write, 4)

    browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
                                f"--user-data-dir={profile}", "--window-size=1400,1000", "--remote-debugging-pipe",
                                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"],  # offline but for the page
                               preexec_fn=pipes, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_chromium[0])
    os.close(to_us[1])
    pending = b""
    sent = 0

    def call(method: str, params: dict, session: str | None = None) -> dict:
        nonlocal pending, sent
        sent += 1
        os.write(to_chromium[1], json.dumps({"id": sent, "method": method, "params": params,
                                             **({"sessionId": session} if session else {})}).encode() + b"\0")
        while True:
            while b"\0" not in pending:
                chunk = os.read(to_us[0], 1 << 16)
                assert chunk, "chromium closed its DevTools pipe"
                pending += chunk
            raw, pending = pending.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == sent:
                if "error" in reply:
                    raise RuntimeError(reply["error"]["message"])
                return reply["result"]

    try:
        target = call("Target.createTarget", {"url": url})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for _ in range(60):
            try:  # the page may still be replacing its first, blank document
                return call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                 "returnByValue": True}, session)["result"]["value"]
            except RuntimeError as error:
                if "context" not in str(error):
                    raise
                time.sleep(0.5)
        raise AssertionError(f"{url} never had a document to evaluate in")
    finally:
        browser.kill()
        browser.wait()
        os.close(to_chromium[1])
        os.close(to_us[0])


# What Embedding Atlas shows once its DuckDB-WASM has loaded the file: the point count and the table's thumbnails.
SHOWN = """new Promise((resolve) => {
  const start = Date.now();
  const look = () => {
    const thumbnails = [...document.querySelectorAll("img")].filter(
      (img) => img.src.startsWith("data:image/png") && img.complete && img.naturalWidth > 0).length;
    if (thumbnails >= 10 || Date.now() - start > 90000) {
      resolve({thumbnails, text: document.body.innerText.slice(0, 400), seconds: (Date.now() - start) / 1000});
    } else setTimeout(look, 250);
  };
  look();
})"""


@pytest.mark.skipif(not IN_CI and (CHROMIUM is None or importlib.util.find_spec("embedding_atlas") is None),
                    reason="needs chromium and the explore extra")
def test_explore_shows_every_point_with_its_thumbnail_offline(served, tmp_path):
    assert CHROMIUM is not None and importlib.util.find_spec("embedding_atlas") is not None, \
        "CI=true but chromium or the explore extra is missing"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    explorer = subprocess.Popen([str(Path(sys.executable).with_name("latentatlas")), "explore", "--atlas", str(served), "--port",
                                 str(port), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        for _ in range(240):  # the export, then Embedding Atlas's start
            with socket.socket() as knock:
                if knock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert explorer.poll() is None, explorer.stdout.read().decode()
            time.sleep(0.5)
        shown = _devtools(f"http://127.0.0.1:{port}/", SHOWN, tmp_path / "profile")
    finally:
        os.killpg(explorer.pid, signal.SIGINT)
        explorer.wait(timeout=30)
    assert "300 / 300 points" in shown["text"] and shown["thumbnails"] >= 10, shown
