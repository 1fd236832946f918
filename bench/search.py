"""Nearest-neighbour search and the store at 1, 3 and 10 million codes: ours beside FAISS, scikit-learn and DuckDB.

For each size N of ``--rows`` (N x D clustered float32 codes: 1,000
clusters, within each the spread decays over the dimensions as in the PCA
spectrum of real codes; label ``i % 100`` so that ``label = '7'`` keeps
1 % of rows), in one run:

- the atlas is made by ingesting 1M-row Parquet shards (``store.parquet``,
  the Ray embed's path): rows/s and size on disk; at the first size
  also rows/s through embed's writer (``Store.add``, 100,000 rows a call);
- in a child process: an ``sql`` aggregate (``GROUP BY label``),
  ``info``, ``project`` (its default sample of 200,000 rows) and the
  page's map (5,000 points), with its peak RSS (``--store-only``: these
  and the ingest only);
- our exact engine, in a fresh child process that loads the codes as
  ``latentatlas search`` does: single-query median, a batch of 1,000,
  and the filtered search with ``--where "label = '7'"`` (the SQL and the
  search timed apart); the index build, in a child of its own; our
  approximate engine in another child: single-query median, recall@10
  against exact, and the filtered search; each child's peak RSS;
- beside them: a plain sum over the matrix (the memory-bandwidth limit of
  one scan, single-threaded as NumPy sums; the exact scan uses every
  core), FAISS ``IndexFlatL2`` with default settings and scikit-learn
  ``NearestNeighbors(algorithm="brute")`` (single and batch), and DuckDB
  ``ORDER BY array_distance(...) LIMIT k`` (single). Single queries: the
  median of 100 held-out ones (20 for scikit-learn and DuckDB); batches
  of 200, timed once after a warm-up.

Prints one JSON document; the targets as ratios go to stderr, with the
load average. Atlases go under ``--folder`` (default: a temporary one),
removed after each size. Run:
``.venv/bin/python bench/search.py [--rows 1000000,3000000,10000000] [--d 64] [--kind ivfpq]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

K = 10
CLUSTERS = 1000
SHARD_ROWS = 1_000_000
WHERE = "label = '7'"  # 1 % of the rows
SINGLE = 100  # held-out single queries for ours and for FAISS
PEER_SINGLE = 20  # fewer for the slower peers (scikit-learn, DuckDB)
BATCH = 200  # queries in a batch


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
    """``n`` clustered codes and ``SINGLE + BATCH`` held-out ones from the same clusters."""
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

    return sample(n), sample(SINGLE + BATCH)


def write_shards(folder: Path, matrix: np.ndarray) -> list[Path]:
    """``matrix`` as Parquet shards of the Ray embed's layout, ``SHARD_ROWS`` rows each (columns built vectorised)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for number, start in enumerate(range(0, len(matrix), SHARD_ROWS)):
        block = matrix[start:start + SHARD_ROWS]
        index = np.arange(start, start + len(block))
        text = pa.array(index.astype(str))
        table = pa.table({
            "pos": pa.array(np.arange(len(block), dtype=np.int32)),
            "uri": pa.compute.binary_join_element_wise("/bench/", text, ""),
            "sha256": text, "time": pa.nulls(len(block), pa.timestamp("us")),
            "label": pa.array((index % 100).astype(str)),
            "tile_row": pa.nulls(len(block), pa.int32()), "tile_col": pa.nulls(len(block), pa.int32()),
            "width": pa.array(np.ones(len(block), np.int32)), "height": pa.array(np.ones(len(block), np.int32)),
            "meta": pa.nulls(len(block), pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), matrix.shape[1]),
            "failure": pa.nulls(len(block), pa.string()),
        })
        paths.append(folder / f"shard-{number:05d}.parquet")
        pq.write_table(table, paths[-1])
    return paths


def make_atlas(path: Path, matrix: np.ndarray, shards: Path) -> dict:
    """An atlas holding ``matrix``, ingested shard by shard; its rate and size on disk."""
    from latentatlas.store import Store
    from latentatlas.store.parquet import ingest_shards

    paths = write_shards(shards, matrix)
    store = Store(path)
    store.ensure_embeddings(matrix.shape[1])
    store.set_setting("model_fingerprint", "bench")
    start = time.perf_counter()
    added = sum(ingest_shards(store, [p]) for p in paths)
    seconds = time.perf_counter() - start
    again = ingest_shards(store, paths[:1])
    store.close()
    shutil.rmtree(shards)
    if added != len(matrix) or again:
        raise RuntimeError(f"ingest added {added} of {len(matrix)} rows, {again} again")
    return {"shard_ingest_rows_per_s": len(matrix) / seconds,
            "atlas_bytes": sum(p.stat().st_size for p in path.rglob("*") if p.is_file())}


def writer_rate(path: Path, matrix: np.ndarray) -> float:
    """Rows per second through embed's writer (``Store.add``, 100,000 rows a call) into an empty atlas."""
    from latentatlas.store import ImageRow, Store

    store = Store(path)
    store.ensure_embeddings(matrix.shape[1])
    start = time.perf_counter()
    for begin in range(0, len(matrix), 100_000):
        block = matrix[begin:begin + 100_000]
        store.add([ImageRow(uri=f"/bench/{begin + i}", sha256=f"{begin + i:x}", width=1, height=1, label=str(i % 100))
                   for i in range(len(block))], block)
    seconds = time.perf_counter() - start
    store.close()
    shutil.rmtree(path)
    return len(matrix) / seconds


def peak_rss() -> int:
    """This process's peak resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def ours(phase: str, atlas: Path, folder: Path) -> dict:
    """One phase in this (child) process: ``exact`` or ``ann`` searches, or the index ``build``.

    ``exact`` (before any index exists: codes read from the table) times
    single queries, a batch and the filtered search, and saves the true
    neighbours; ``ann`` (after the build) times single queries and the
    filtered search and measures their recall.
    """
    from latentatlas.search.engine import Engine
    from latentatlas.store import Store

    store = Store(atlas, read_only=phase != "build")
    if phase == "store":
        return store_figures(store, folder)
    if phase == "build":
        from latentatlas.ops.index import AnnSettings, build_index

        start = time.perf_counter()
        build_index(store, AnnSettings(kind=folder.name))
        return {"build_s": time.perf_counter() - start, "peak_rss_bytes": peak_rss()}
    queries = np.load(folder / "queries.npy")
    single, batch = queries[:SINGLE], queries[SINGLE:]
    start = time.perf_counter()
    engine = Engine.open(store, "l2", exact=phase == "exact")
    result = {"kind": engine.kind, "load_seconds": round(time.perf_counter() - start, 2)}
    result["single_ms"] = median_ms(lambda q: engine.search(q, K, "l2"), single)
    sql_ms = median_ms(lambda _: store.ids_where(WHERE), range(5))
    allowed = store.ids_where(WHERE)
    result["filtered_sql_ms"] = sql_ms
    result["filtered_search_ms"] = median_ms(lambda q: engine.search(q, K, "l2", allowed), single)
    found, _ = engine.search(single, K, "l2")
    kept, _ = engine.search(single, K, "l2", allowed)
    result["filtered_rows_returned"] = int((kept >= 0).sum(axis=1).min())
    if phase == "exact":
        result["batch_qps"] = qps(lambda b: engine.search(b, K, "l2"), batch, 1)
        np.save(folder / "truth.npy", found)
        np.save(folder / "filtered_truth.npy", kept)
    else:
        result["recall_at_10"] = _recall(found, np.load(folder / "truth.npy"))
        result["filtered_recall_at_10"] = _recall(kept, np.load(folder / "filtered_truth.npy"))
    result["peak_rss_bytes"] = peak_rss()
    return result


def store_figures(store, folder: Path) -> dict:
    """What a user does with the atlas beside searching: an ``sql`` aggregate, ``info``, ``project``, the page's map.

    ``project`` draws its default sample (200,000 rows spread over the
    ids, and says so); the map draws 5,000, as the page does.
    """
    from latentatlas.ops.info import info
    from latentatlas.ops.project import ProjectSettings, map_points, project

    sql = "SELECT label, count(*) AS n, avg(width * height) AS pixels FROM images GROUP BY label ORDER BY label"
    result = {"sql_aggregate_ms": median_ms(lambda _: store.query(sql), range(5))}
    start = time.perf_counter()
    summary = info(store)
    result["info_ms"] = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    projected = project(store, ProjectSettings(), folder / "pca.png").to_dict()
    result["project_s"] = time.perf_counter() - start
    result["project_rows"], result["project_matched"] = projected["rows"], projected["matched"]
    start = time.perf_counter()
    shown = map_points(store)
    result["map_s"] = time.perf_counter() - start
    result["map_points"], result["map_total"] = len(shown["ids"]), shown["total"]
    result["info_rows"] = summary["rows"]
    result["peak_rss_bytes"] = peak_rss()
    return result


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)]))


def run_ours(phase: str, atlas: Path, folder: Path) -> dict:
    """:func:`ours` in a fresh Python process, so that its peak memory is its own."""
    worker = subprocess.run([sys.executable, __file__, "--worker", phase, str(atlas), str(folder)],
                            check=True, capture_output=True, text=True)
    return json.loads(worker.stdout)


def peers(atlas: Path, matrix: np.ndarray, queries: np.ndarray) -> dict:
    """FAISS flat with default settings, scikit-learn brute force and DuckDB SQL."""
    import duckdb
    import faiss
    from sklearn.neighbors import NearestNeighbors

    single, batch = queries[:SINGLE], queries[SINGLE:]
    result = {}
    flat = faiss.IndexFlatL2(matrix.shape[1])
    flat.add(matrix)
    result["faiss_flat_single_ms"] = median_ms(lambda q: flat.search(q[None], K), single)
    result["faiss_flat_batch_qps"] = qps(lambda b: flat.search(b, K), batch, 1)
    del flat
    knn = NearestNeighbors(n_neighbors=K, algorithm="brute").fit(matrix)
    result["sklearn_single_ms"] = median_ms(lambda q: knn.kneighbors(q[None]), single[:PEER_SINGLE])
    result["sklearn_batch_qps"] = qps(knn.kneighbors, batch, 1)
    del knn
    con = duckdb.connect(str(atlas / "atlas.duckdb"), read_only=True)
    d = matrix.shape[1]
    sql = f"SELECT id FROM embeddings ORDER BY array_distance(vector, ?::FLOAT[{d}]) LIMIT {K}"
    result["duckdb_single_ms"] = median_ms(lambda q: con.execute(sql, [q.tolist()]).fetchall(), single[:PEER_SINGLE])
    con.close()
    return result


def one_size(n: int, args, root: Path) -> dict:
    """Every figure at ``n`` rows."""
    load = os.getloadavg()[0]
    matrix, queries = generate(n, args.d, args.seed)
    folder = root / f"n{n}"
    atlas = folder / "bench.atlas"
    (folder / "shards").mkdir(parents=True)
    report = {"n": n, "d": args.d, "matrix_bytes": int(matrix.nbytes), "load_average_1min_at_start": load}
    if n == args.rows[0]:
        report["writer_rows"] = min(n, 500_000)
        report["writer_rows_per_s"] = writer_rate(folder / "writer.atlas", matrix[:report["writer_rows"]])
    report.update(make_atlas(atlas, matrix, folder / "shards"))
    np.save(folder / "queries.npy", queries)
    report["bandwidth_limit_ms"] = median_ms(lambda _: matrix.sum(), range(10))
    report.update({f"store_{key}": value for key, value in run_ours("store", atlas, folder).items()})
    if not args.store_only:
        search_figures(report, args.kind, atlas, folder, matrix, queries)
    report["load_average_1min_at_end"] = os.getloadavg()[0]
    shutil.rmtree(folder)
    if not args.store_only:
        _print_ratios(report)
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in report.items()}


def search_figures(report: dict, kind: str, atlas: Path, folder: Path, matrix: np.ndarray, queries: np.ndarray) -> None:
    """Our engines, the index build and the peers, into ``report``."""
    exact = run_ours("exact", atlas, folder)
    kind_folder = folder / kind
    kind_folder.mkdir()
    build = run_ours("build", atlas, kind_folder)
    ann = run_ours("ann", atlas, folder)
    report.update({f"exact_{key}": value for key, value in exact.items() if key not in ("kind", "load_seconds")})
    report.update({"ann_kind": ann["kind"], "ann_build_s": build["build_s"], "ann_build_peak_rss_bytes": build["peak_rss_bytes"]})
    report.update({f"ann_{key}": value for key, value in ann.items() if key not in ("kind", "load_seconds")})
    report.update(peers(atlas, matrix, queries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,3000000,10000000", help="Stored codes, comma-separated sizes.")
    parser.add_argument("--d", type=int, default=64, help="Numbers per code.")
    parser.add_argument("--kind", default="ivfpq", choices=["hnsw", "ivfpq"], help="Approximate index to build.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=Path, help="Where the atlases go (default: a temporary folder).")
    parser.add_argument("--store-only", action="store_true", help="Make the atlases and time the store's figures only.")
    parser.add_argument("--worker", nargs=3, metavar=("PHASE", "ATLAS", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(ours(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))))
        return
    args.rows = [int(n) for n in args.rows.split(",")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.folder) as name:
        sizes = [one_size(n, args, Path(name)) for n in args.rows]
    print(json.dumps({"cpus": len(os.sched_getaffinity(0)), "seconds": round(time.perf_counter() - start),
                      "sizes": sizes}))


def _print_ratios(report: dict) -> None:
    """The targets as ratios, on stderr."""
    r = report
    best_peer = max(r["faiss_flat_batch_qps"], r["sklearn_batch_qps"])
    exact_filtered = r["exact_filtered_sql_ms"] + r["exact_filtered_search_ms"]
    ann_filtered = r["ann_filtered_sql_ms"] + r["ann_filtered_search_ms"]
    peak = max(r["exact_peak_rss_bytes"], r["ann_peak_rss_bytes"], r["ann_build_peak_rss_bytes"])
    notes = [
        f"n={r['n']:,} (load {r['load_average_1min_at_start']:.1f} -> {r['load_average_1min_at_end']:.1f})",
        f"  exact single / bandwidth limit: {r['exact_single_ms'] / r['bandwidth_limit_ms']:.2f} (target <= 1.5)",
        f"  ann: recall@10 {r['ann_recall_at_10']:.3f} (target >= 0.95), "
        f"{r['exact_single_ms'] / r['ann_single_ms']:.1f}x exact (target >= 50)",
        f"  peak RSS / matrix: build {r['ann_build_peak_rss_bytes'] / r['matrix_bytes']:.2f}, exact "
        f"{r['exact_peak_rss_bytes'] / r['matrix_bytes']:.2f}, ann {r['ann_peak_rss_bytes'] / r['matrix_bytes']:.2f} "
        f"(target <= 1.5; worst {peak / r['matrix_bytes']:.2f})",
        f"  --where keeping 1 %: {r['ann_filtered_rows_returned']} results, {exact_filtered:.1f} -> {ann_filtered:.1f} ms "
        f"against {r['exact_single_ms']:.1f} ms unfiltered exact: {r['exact_single_ms'] / ann_filtered:.1f}x (target >= 10)",
        f"  exact batch / best peer batch: {r['exact_batch_qps'] / best_peer:.2f} (target >= 1)",
    ]
    print("\n".join(notes), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
