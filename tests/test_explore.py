"""Export for Apple's Embedding Atlas (pyarrow only) and ``explore``, opened in a real headless Chromium."""

from __future__ import annotations

import base64
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


def _devtools(url: str, expression: str, profile, flags: tuple[str, ...] = ()) -> tuple[object, bytes | None]:
    """Open ``url`` in headless Chromium, with every other address unreachable; ``expression``'s value there, and a picture.

    The picture is a PNG of the rectangle ``{"x", "y", "width", "height"}``
    the value holds under ``"clip"`` (None without one). Chromium speaks
    its DevTools protocol over a pipe (fds 3 and 4 of the child, messages
    ended by NUL), so no WebSocket client is needed.
    """
    to_chromium, to_us = os.pipe(), os.pipe()

    def pipes() -> None:
        read, write = os.dup(to_chromium[0]), os.dup(to_us[1])
        os.dup2(read, 3)
        os.dup2(write, 4)

    browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
                                f"--user-data-dir={profile}", "--window-size=1400,1000", "--remote-debugging-pipe",
                                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1", *flags],  # offline but for the page
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
                value = call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                  "returnByValue": True}, session)["result"]["value"]
                break
            except RuntimeError as error:
                if "context" not in str(error) and "navigated" not in str(error):
                    raise
                time.sleep(0.5)
        else:
            raise AssertionError(f"{url} never had a document to evaluate in")
        clip = value.get("clip") if isinstance(value, dict) else None
        if not clip:
            return value, None
        shot = call("Page.captureScreenshot", {"format": "png", "clip": {**clip, "scale": 1}}, session)
        return value, base64.b64decode(shot["data"])
    finally:
        browser.kill()
        browser.wait()
        os.close(to_chromium[1])
        os.close(to_us[0])


# What Embedding Atlas shows once its DuckDB-WASM has loaded the file: the point count and the table's thumbnails;
# whether WebGPU offers what its scatter needs (an adapter with shader-f16), and where the scatter's canvas is.
SHOWN = """new Promise((resolve) => {
  const start = Date.now();
  const look = async () => {
    const thumbnails = [...document.querySelectorAll("img")].filter(
      (img) => img.src.startsWith("data:image/png") && img.complete && img.naturalWidth > 0).length;
    if (thumbnails >= 10 || Date.now() - start > 90000) {
      const adapter = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
      const f16 = adapter !== null && adapter.features.has("shader-f16");
      if (f16) await new Promise((done) => setTimeout(done, 3000));  // the scatter's first frames
      const canvases = [...document.querySelectorAll("canvas")].map((c) => c.getBoundingClientRect())
        .filter((r) => r.width >= 100 && r.height >= 100).sort((a, b) => b.width * b.height - a.width * a.height);
      const clip = f16 && canvases.length
        ? {x: canvases[0].x, y: canvases[0].y, width: canvases[0].width, height: canvases[0].height} : null;
      resolve({thumbnails, text: document.body.innerText.slice(0, 2000), seconds: (Date.now() - start) / 1000,
               adapter: adapter === null ? null : {f16, architecture: adapter.info ? adapter.info.architecture : ""},
               clip});
    } else setTimeout(look, 250);
  };
  look();
})"""
# Chromium's software WebGPU (SwiftShader) in headless mode; see docs/web.md for what it lacks.
SOFTWARE_WEBGPU = ("--enable-unsafe-webgpu",)


@pytest.fixture(scope="module")
def explored(digits_atlas, tmp_path_factory):
    """``latentatlas explore`` on a copy of the digits atlas (with a cluster run), as Chromium shows it."""
    if not IN_CI and (CHROMIUM is None or importlib.util.find_spec("embedding_atlas") is None):
        pytest.skip("needs chromium and the explore extra")
    assert CHROMIUM is not None and importlib.util.find_spec("embedding_atlas") is not None, \
        "CI=true but chromium or the explore extra is missing"
    folder = tmp_path_factory.mktemp("explore")
    served = Path(shutil.copytree(digits_atlas, folder / "digits.atlas"))
    with Atlas.open(served) as atlas:
        atlas.cluster(3, name="k3", restarts=1, progress=False)
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
        return _devtools(f"http://127.0.0.1:{port}/", SHOWN, folder / "profile", SOFTWARE_WEBGPU)
    finally:
        os.killpg(explorer.pid, signal.SIGINT)
        explorer.wait(timeout=30)


def test_explore_shows_every_point_with_its_thumbnail_offline(explored):
    shown, _ = explored
    assert "300 / 300 points" in shown["text"] and shown["thumbnails"] >= 10, shown


def test_explore_draws_the_scatter_where_webgpu_has_what_it_needs(explored):
    shown, picture = explored
    if shown["adapter"] is None or not shown["adapter"]["f16"]:
        assert "WebGPU is unavailable" in shown["text"], shown  # the table and filters work without it
        pytest.skip(f"this Chromium's WebGPU adapter ({shown['adapter']}) lacks shader-f16, "
                    "which Embedding Atlas's scatter needs (docs/web.md)")
    assert picture is not None, shown
    pixels = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    drawn = 1 - counts.max() / len(pixels)  # the share of the canvas that is not its background
    assert len(colours) >= 10 and drawn > 0.002, (len(colours), drawn)
