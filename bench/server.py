"""The web server under load, alone and beside a hostile client: requests per second, latency, errors, memory.

Builds an atlas of scikit-learn's 1,797 digits with hourly times and
labels, starts ``latentatlas serve`` on 127.0.0.1 (default limits: a 10 s
query timeout, 64 MB for the predicates), and sends a bounded, seeded mix of
requests (search by id, search by time, image uploads, stored and decoded
pictures) from ``--concurrency`` httpx clients. The run is made twice, each
on a fresh server process: alone, and beside one more client that sends
hostile ``where`` predicates one after the other for the whole run (an
endless scan, cut off by the timeout, and issue 13's cross join, stopped by
the memory limit). Latency is per request, end to end; the server's peak
resident memory is its ``VmHWM`` (``/proc``) at the end of the run. Prints
one JSON document; the targets as ratios go to stderr. Run:
``.venv/bin/python bench/server.py [--requests 2000] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import io
import json
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ENDLESS = "(SELECT sum(range) FROM range(1000000000000)) > 0"
CROSS_JOIN = "(SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = -1) > 0"
KINDS = ("id", "time", "upload", "image", "decoded")
WEIGHTS = (0.35, 0.2, 0.15, 0.15, 0.15)


def make_atlas(root: Path, seed: int) -> tuple[Path, np.ndarray, list[bytes]]:
    """The digits atlas (hourly times from 2019-01-01), the stored times and some PNG uploads."""
    from sklearn.datasets import load_digits

    from latentatlas import Atlas

    digits = load_digits()
    images = (digits.images * 16).clip(0, 255).astype(np.uint8)
    times = np.datetime64("2019-01-01T00:00") + np.arange(len(images)).astype("timedelta64[h]")
    np.savez(root / "digits.npz", images=images, labels=digits.target.astype(str), times=times)
    path = root / "bench.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(root / "digits.npz", code_size=16, epochs=10, batch_size=64, seed=seed)
    uploads = []
    for image in images[:20]:
        buffer = io.BytesIO()
        from PIL import Image

        Image.fromarray(image).save(buffer, format="PNG")
        uploads.append(buffer.getvalue())
    return path, times, uploads


def plan(n: int, rows: int, times: np.ndarray, uploads: list[bytes], seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` requests as (kind, httpx arguments), drawn with ``WEIGHTS``."""
    rng = np.random.default_rng(seed)
    requests = []
    for kind in rng.choice(KINDS, size=n, p=WEIGHTS):
        row = int(rng.integers(rows))
        if kind == "id":
            arguments = {"method": "GET", "url": "/api/search", "params": {"id": row, "k": 10}}
        elif kind == "time":
            arguments = {"method": "GET", "url": "/api/search", "params": {"time": str(times[row]), "k": 10}}
        elif kind == "upload":
            arguments = {"method": "POST", "url": "/api/search", "params": {"filename": "q.png", "k": 10},
                         "content": uploads[row % len(uploads)]}
        else:
            arguments = {"method": "GET", "url": f"/api/{'images' if kind == 'image' else 'decoded'}/{row}.png"}
        requests.append((str(kind), arguments))
    return requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(atlas: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``latentatlas serve`` on a free port (its stderr into ``log``), once it answers."""
    port = free_port()
    with open(log, "ab") as stderr:
        process = subprocess.Popen([sys.executable, "-c", "from latentatlas.cli import main; main()", "serve",
                                    "--atlas", str(atlas), "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {log.read_text()}")
        try:
            httpx.get(f"{url}/api/info", timeout=10).raise_for_status()
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("serve did not answer within 60 s")


def peak_rss(process: subprocess.Popen) -> int:
    """The process's peak resident memory in bytes (``VmHWM``)."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def load(url: str, requests: list[tuple[str, dict[str, Any]]], concurrency: int) -> dict[str, Any]:
    """Send ``requests`` from ``concurrency`` clients; throughput, latency percentiles and errors."""
    todo: queue.Queue = queue.Queue()
    for request in requests:
        todo.put(request)
    latencies: list[float] = []
    errors: Counter = Counter()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:
                try:
                    kind, arguments = todo.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    status = http.request(**arguments).status_code
                except httpx.TransportError as error:
                    status = type(error).__name__
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors[f"{kind}: {status}"] += 1

    started = time.perf_counter()
    clients = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1e3
    return {"requests": len(requests), "seconds": round(elapsed, 2),
            "requests_per_s": round(len(requests) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "errors": sum(errors.values()), "error_kinds": dict(errors)}


def hostile(url: str, stop: threading.Event, answers: Counter) -> None:
    """Send hostile predicates one after the other until ``stop``; count the answers by status."""
    with httpx.Client(base_url=url, timeout=60) as http:
        for turn in range(1_000_000):
            if stop.is_set():
                return
            where = (ENDLESS, CROSS_JOIN)[turn % 2]
            try:
                status = http.get("/api/search", params={"id": 1, "where": where}).status_code
            except httpx.TransportError as error:
                status = type(error).__name__
            answers[f"{'endless' if where is ENDLESS else 'cross join'}: {status}"] += 1


def run(atlas: Path, requests: list, concurrency: int, with_hostile: bool, log: Path) -> dict[str, Any]:
    """One phase on a fresh server (its stderr into ``log``): the load's figures and the server's peak memory."""
    process, url = start_server(atlas, log)
    try:
        load(url, requests[: len(requests) // 10], concurrency)  # warm-up: codes loaded, threads started
        stop, answers = threading.Event(), Counter()
        attacker = threading.Thread(target=hostile, args=(url, stop, answers))
        if with_hostile:
            attacker.start()
            time.sleep(0.5)
        figures = load(url, requests, concurrency)
        stop.set()
        if with_hostile:
            attacker.join()
            figures["hostile_answers"] = dict(answers)
        figures["server_peak_rss_bytes"] = peak_rss(process)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", type=Path, help="Keep the servers' stderr here (default: discarded).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        atlas, times, uploads = make_atlas(Path(scratch), args.seed)
        requests = plan(args.requests, len(times), times, uploads, args.seed)
        log = args.log or Path(scratch) / "serve.log"
        alone = run(atlas, requests, args.concurrency, with_hostile=False, log=log)
        beside = run(atlas, requests, args.concurrency, with_hostile=True, log=log)
    ratios = {"p99_hostile_over_alone": round(beside["p99_ms"] / alone["p99_ms"], 2),
              "rss_hostile_over_alone": round(beside["server_peak_rss_bytes"] / alone["server_peak_rss_bytes"], 2)}
    print(f"p99 beside the hostile client / alone: {ratios['p99_hostile_over_alone']} (target <= 1.5); "
          f"peak RSS: {ratios['rss_hostile_over_alone']} (target <= 1.2); errors: {alone['errors']} alone, "
          f"{beside['errors']} beside (target 0)", file=sys.stderr)
    print(json.dumps({"alone": alone, "beside_hostile": beside, **ratios, "mix": dict(zip(KINDS, WEIGHTS)),
                      "concurrency": args.concurrency, "seed": args.seed}))


if __name__ == "__main__":
    main()
