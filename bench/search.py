"""Nearest-neighbour search at scale: our exact and approximate engines beside FAISS, scikit-learn and DuckDB.

Generates N x D clustered float32 codes (1,000 clusters; within each the
spread decays over the dimensions as in the PCA spectrum of real codes),
stores them in an atlas, and times in one run: single-query latency
(median of 100 held-out queries) and batch throughput (1,000 queries) of
our exact engine, FAISS ``IndexFlatL2`` with default settings,
scikit-learn ``NearestNeighbors(algorithm="brute")``, DuckDB
``array_distance ... ORDER BY ... LIMIT`` and our approximate index; the
time of a plain sum over the matrix (the memory-bandwidth limit of one
scan); recall@10 of the approximate index against the exact answer; and
the peak resident memory of our search processes.

Each of our engines runs in a fresh child process that loads the codes as
``latentatlas search`` does: the exact one before any index exists (codes
read from the DuckDB table), the approximate one after the build (the
index file). ``peak_rss_bytes`` is the larger of their peaks. Prints one
JSON document; notes and the targets as ratios go to stderr. Run:
``.venv/bin/python bench/search.py [--n 1000000] [--d 64] [--kind ivfpq]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

K = 10
CLUSTERS = 1000


def median_ms(fn, arguments) -> float:
    """Median milliseconds of ``fn(argument)`` over the arguments, after one warm-up call."""
    arguments = list(arguments)
    fn(arguments[0])
    times = []
    for argument in arguments:
        start = time.perf_counter()
        fn(argument)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def qps(fn, batch: np.ndarray, repeats: int) -> float:
    """Queries per second of ``fn(batch)`` (median of ``repeats`` runs after a warm-up)."""
    return len(batch) / (median_ms(lambda _: fn(batch), range(repeats)) / 1e3)


def generate(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` clustered codes and 1,100 held-out ones from the same clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, d)).astype(np.float32)
    spread = (0.5 * 0.85 ** np.arange(d)).astype(np.float32)  # decaying spectrum, as in real codes
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)

    def sample(count: int) -> np.ndarray:
        out = np.empty((count, d), np.float32)
        for start in range(0, count, 100_000):
            m = min(100_000, count - start)
            noise = rng.standard_normal((m, d), dtype=np.float32) * spread
            out[start:start + m] = centres[rng.integers(0, CLUSTERS, m)] + noise @ rotation
        return out

    return sample(n), sample(1100)


def make_atlas(path: Path, matrix: np.ndarray) -> None:
    """An atlas holding ``matrix`` as its codes (rows added 100,000 at a time)."""
    from latentatlas.store import ImageRow, Store

    store = Store(path)
    store.ensure_embeddings(matrix.shape[1])
    store.set_setting("model_fingerprint", "bench")
    for start in range(0, len(matrix), 100_000):
        block = matrix[start:start + 100_000]
        rows = [ImageRow(uri=f"/bench/{start + i}", sha256=f"{start + i:x}", width=1, height=1) for i in range(len(block))]
        store.add(rows, block)
    store.close()


def peak_rss() -> int:
    """This process's peak resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def ours(phase: str, atlas: Path, folder: Path) -> dict:
    """One of our engines, in this (child) process, loading the codes as ``latentatlas search`` does.

    ``exact`` (before any index exists: codes read from the table) times
    single queries and a batch and saves the true neighbours; ``ann``
    (after the build) times single queries and measures their recall.
    """
    from latentatlas.search.engine import Engine
    from latentatlas.store import Store

    queries = np.load(folder / "queries.npy")
    single, batch = queries[:100], queries[100:]
    start = time.perf_counter()
    engine = Engine.open(Store(atlas, read_only=True), "l2", exact=phase == "exact")
    result = {"kind": engine.kind, "load_seconds": round(time.perf_counter() - start, 2)}
    result[f"{phase}_single_ms"] = median_ms(lambda q: engine.search(q, K, "l2"), single)
    found, _ = engine.search(single, K, "l2")
    if phase == "exact":
        result["exact_batch_qps"] = qps(lambda b: engine.search(b, K, "l2"), batch, 3)
        np.save(folder / "truth.npy", found)
    else:
        truth = np.load(folder / "truth.npy")
        result["ann_recall_at_10"] = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)]))
    result["peak_rss_bytes"] = peak_rss()
    return result


def run_ours(phase: str, atlas: Path, folder: Path) -> dict:
    """:func:`ours` in a fresh Python process, so that its peak memory is its own."""
    worker = subprocess.run([sys.executable, __file__, "--worker", phase, str(atlas), str(folder)],
                            check=True, capture_output=True, text=True)
    result = json.loads(worker.stdout)
    print(f"our {phase} search process ({result.pop('kind')}): codes loaded in {result.pop('load_seconds')} s, "
          f"peak RSS {result['peak_rss_bytes'] / 1e6:.0f} MB", file=sys.stderr)
    return result


def peers(atlas: Path, matrix: np.ndarray, queries: np.ndarray) -> dict:
    """FAISS flat with default settings, scikit-learn brute force and DuckDB SQL."""
    import duckdb
    import faiss
    from sklearn.neighbors import NearestNeighbors

    single, batch = queries[:100], queries[100:]
    result = {}
    flat = faiss.IndexFlatL2(matrix.shape[1])
    flat.add(matrix)
    result["faiss_flat_single_ms"] = median_ms(lambda q: flat.search(q[None], K), single)
    result["faiss_flat_batch_qps"] = qps(lambda b: flat.search(b, K), batch, 1)
    del flat
    knn = NearestNeighbors(n_neighbors=K, algorithm="brute").fit(matrix)
    result["sklearn_single_ms"] = median_ms(lambda q: knn.kneighbors(q[None]), single)
    result["sklearn_batch_qps"] = qps(knn.kneighbors, batch, 1)
    del knn
    con = duckdb.connect(str(atlas / "atlas.duckdb"), read_only=True)
    d = matrix.shape[1]
    sql = f"SELECT id FROM embeddings ORDER BY array_distance(vector, ?::FLOAT[{d}]) LIMIT {K}"
    result["duckdb_single_ms"] = median_ms(lambda q: con.execute(sql, [q.tolist()]).fetchall(), single)
    con.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="Stored codes.")
    parser.add_argument("--d", type=int, default=64, help="Numbers per code.")
    parser.add_argument("--kind", default="ivfpq", choices=["hnsw", "ivfpq"], help="Approximate index to build.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=3, metavar=("PHASE", "ATLAS", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(ours(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))))
        return
    from latentatlas import Atlas

    matrix, queries = generate(args.n, args.d, args.seed)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        atlas = folder / "bench.atlas"
        make_atlas(atlas, matrix)
        np.save(folder / "queries.npy", queries)
        exact = run_ours("exact", atlas, folder)
        start = time.perf_counter()
        with Atlas.open(atlas, read_only=True) as opened:
            opened.index(args.kind)
        print(f"built {args.kind} over {args.n} x {args.d} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        ann = run_ours("ann", atlas, folder)
        theirs = peers(atlas, matrix, queries)
    report = {
        "n": args.n,
        "d": args.d,
        "matrix_bytes": int(matrix.nbytes),
        "bandwidth_limit_ms": median_ms(lambda _: matrix.sum(), range(20)),
        "exact_single_ms": exact["exact_single_ms"],
        "faiss_flat_single_ms": theirs["faiss_flat_single_ms"],
        "sklearn_single_ms": theirs["sklearn_single_ms"],
        "duckdb_single_ms": theirs["duckdb_single_ms"],
        "ann_single_ms": ann["ann_single_ms"],
        "exact_batch_qps": exact["exact_batch_qps"],
        "faiss_flat_batch_qps": theirs["faiss_flat_batch_qps"],
        "sklearn_batch_qps": theirs["sklearn_batch_qps"],
        "ann_recall_at_10": ann["ann_recall_at_10"],
        "peak_rss_bytes": max(exact["peak_rss_bytes"], ann["peak_rss_bytes"]),
    }
    _print_ratios(report)
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value for key, value in report.items()}))


def _print_ratios(report: dict) -> None:
    """The targets as ratios, on stderr."""
    r = report
    notes = [
        f"exact single / bandwidth limit: {r['exact_single_ms'] / r['bandwidth_limit_ms']:.2f} (target <= 1.5)",
        f"exact batch / best peer batch: {r['exact_batch_qps'] / max(r['faiss_flat_batch_qps'], r['sklearn_batch_qps']):.2f}"
        " (target >= 1)",
        f"exact single / ann single: {r['exact_single_ms'] / r['ann_single_ms']:.1f} (target >= 10), "
        f"recall@10 {r['ann_recall_at_10']:.3f} (target >= 0.95)",
        f"peak RSS / matrix: {r['peak_rss_bytes'] / r['matrix_bytes']:.2f} (target < 2)",
    ]
    print("\n".join(notes), file=sys.stderr)


if __name__ == "__main__":
    main()
