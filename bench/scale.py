"""Embedding in-process and through Ray Data with 1 and 2 workers: wall time, overhead, same codes, memory, projection.

Two collections, each with a small model fitted on it first (not timed):
``--images`` generated 32x32 RGB shapes (PNG files) and ``--fields``
full-size 1059 x 1799 GRIB2 fields of the generated radar (one file per
hour, HRRR's refc on HRRR's grid, read as the weather study reads them:
clipped to 0..60 dBZ, downsampled by ``--scale``). Each is embedded into an
empty copy of its atlas in a fresh child process: once in-process (PyTorch
limited to ``--threads``, 1 by default: what one Ray worker gets) and once
per entry of ``--workers`` through Ray (``--engine ray`` on a local Ray
instance of as many CPUs, started before the clock). A run's time is split
into the scan (listing, hashing, skipping stored rows: on the driver), the
encoding (in-process batches, or the Ray job with its actors' start-up) and
the ingest of the shards. Reported per run: wall seconds, items per second,
the ratio to in-process, the largest absolute difference of a code from
the in-process one, and the peak resident memory of each worker. From the
one-worker field run's rates and the driver's measured cost per file
(:func:`driver_cost`, beside the listing and hashing it did before the
workers took them over) the time for a decade of hourly HRRR (87,600
fields) on 1, 4 and 16 workers is projected, assuming the workers' work
scales linearly with workers and the driver's listing and ingest do not
(see :func:`projection`).

Prints one JSON document; notes go to stderr. Run:
``.venv/bin/python bench/scale.py [--images 2000] [--fields 256] [--workers 1,2] [--scale 0.0625]
[--fields-from DIR]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DECADE = 87_600
PROJECTED_WORKERS = (1, 4, 16)


def make_images(root: Path, count: int) -> Path:
    """``count`` generated shapes as PNG files in label folders."""
    from latentatlas.datasets.samples import export_sample

    folder, _ = export_sample("shapes", root / "images", n=count)
    return folder


def make_fields(root: Path, count: int, written: Path | None) -> Path:
    """``count`` hours of generated radar on HRRR's full grid, one GRIB2 file each.

    With ``written`` (a folder the generator filled once, kept out of git)
    the first ``count`` of its files are linked instead of written again.
    """
    from latentatlas.datasets.radar_files import export_radar
    from latentatlas.sources.lambert import HRRR_SHAPE

    folder = root / "fields"
    if written is None:
        export_radar(folder, "grib2", days=math.ceil(count / 24), grid=HRRR_SHAPE)
        for extra in sorted(folder.glob("*.grib2"))[count:]:
            extra.unlink()
        return folder
    files = sorted(written.glob("*.grib2"))[:count]
    if len(files) < count:
        raise SystemExit(f"{written} holds {len(files)} fields, fewer than --fields {count}")
    folder.mkdir()
    for path in files:
        (folder / path.name).symlink_to(path.resolve())
    return folder


def subset(folder: Path, count: int) -> Path:
    """A folder linking the first ``count`` files of ``folder`` (what the model is fitted on)."""
    out = folder.with_name(f"{folder.name}-fit")
    out.mkdir()
    for path in sorted(folder.iterdir())[:count]:
        (out / path.name).symlink_to(path.resolve())
    return out


def driver_cost(folder: Path, reader) -> dict:
    """Milliseconds per file of the Ray driver's work before the job, now and as it was.

    Now: list the files (names, ``stat``), digest the run, pickle the shard
    tasks. Before this version: list every item by reading each file's
    index, and hash it (SHA-256 of the message), as the in-process scan does.
    """
    import pickle

    from latentatlas.ops.embed_ray import run_name
    from latentatlas.sources import list_units, read_sources

    class Model:  # the run's digest needs only a fingerprint
        fingerprint = "bench"

    start = time.perf_counter()
    units, _ = list_units([folder])
    run_name(Model(), reader, 32, units)
    tasks = [pickle.dumps(units[i:i + 32]) for i in range(0, len(units), 32)]
    now = time.perf_counter() - start
    start = time.perf_counter()
    records = read_sources([folder], reader).records
    for record in records:
        _ = record.sha256
    before = time.perf_counter() - start
    return {"files": len(units), "task_bytes": sum(map(len, tasks)),
            "driver_ms_per_file": round(1e3 * now / len(units), 4),
            "listing_and_hashing_ms_per_file_before": round(1e3 * before / len(records), 3)}


def fit(atlas: Path, source: Path, reader, seconds: float) -> Path:
    """A small model (16 numbers) fitted on ``source`` for about ``seconds``."""
    from latentatlas import Atlas

    with Atlas.open(atlas) as opened:
        opened.fit(source, reader=reader, code_size=16, base_channels=16, time_budget=seconds, epochs=1000,
                   progress=False, seed=0)
    return atlas


def worker(atlas: Path, source: Path, engine: str, workers: int, batch: int, threads: int) -> dict:
    """One embed of ``source`` into ``atlas`` in this (child) process, timed by phase."""
    import torch

    from latentatlas import Atlas
    from latentatlas.pipeline.ray import peak_rss_mb

    torch.set_num_threads(threads)
    marks: dict[str, float] = {}
    rss: dict[int, float] = {}
    landed: list[tuple[float, int]] = []  # (time, items done) as each batch lands

    def progress(stage: str, done: int, total: int | None, **info) -> None:
        if stage == "embed":
            now = time.perf_counter()
            marks.setdefault("scanned", now)
            marks["encoded"] = now
            if done:
                landed.append((now, done))
            if "worker" in info:
                rss[info["worker"]] = max(rss.get(info["worker"], 0.0), info["worker_peak_rss_mb"])

    if engine == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    with Atlas.open(atlas) as opened:
        _ = opened.model  # loaded before the clock, as a long-running embed loads it once
        start = time.perf_counter()
        options = {"engine": "ray", "workers": workers} if engine == "ray" else {}
        report = opened.embed(source, batch_size=batch, progress=progress, **options)
        end = time.perf_counter()
    if report.failures:
        raise RuntimeError(f"{len(report.failures)} items failed, first: {report.failures[0]}")
    own = peak_rss_mb()  # VmHWM: ru_maxrss would carry this benchmark's own peak into the child
    return {
        "items": report.added, "wall_s": round(end - start, 2), "items_per_s": round(report.added / (end - start), 2),
        "scan_s": round(marks["scanned"] - start, 2), "encode_s": round(marks["encoded"] - marks["scanned"], 2),
        "ingest_s": round(end - marks["encoded"], 2),
        "steady_s_per_item": _steady(landed),
        "peak_rss_mb_per_worker": sorted(round(v) for v in rss.values()) if rss else [round(own)],
        "driver_peak_rss_mb": round(own),
    }


def _steady(landed: list[tuple[float, int]]) -> float | None:
    """Seconds per item between the first and the last batch to land (start-up left out), or None with one batch."""
    if len(landed) < 2:
        return None
    (first, done_first), (last, done_last) = landed[0], landed[-1]
    return round((last - first) / (done_last - done_first), 5)


def run(model_atlas: Path, source: Path, root: Path, engine: str, workers: int, batch: int, threads: int) -> tuple[dict, np.ndarray]:
    """:func:`worker` in a fresh process on an empty copy of ``model_atlas``; its figures and codes."""
    from latentatlas.store import Store

    atlas = root / f"{model_atlas.stem}-{engine}-{workers}.atlas"
    shutil.copytree(model_atlas, atlas)
    store = Store(atlas)
    store.clear()
    store.close()
    child = subprocess.run([sys.executable, __file__, "--worker", str(atlas), str(source), engine, str(workers),
                            str(batch), str(threads)], check=True, capture_output=True, text=True)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    store = Store(atlas, read_only=True)
    _, codes = store.vectors()
    store.close()
    print(f"{model_atlas.stem} {engine} x{workers}: {result['items']} in {result['wall_s']} s "
          f"({result['items_per_s']}/s)", file=sys.stderr)
    return result, codes


def compare(model_atlas: Path, source: Path, root: Path, worker_counts: list[int], batch: int, threads: int) -> dict:
    """In-process and Ray runs of one collection, with ratios and code differences against in-process."""
    local, reference = run(model_atlas, source, root, "local", 1, batch, threads)
    result = {"in_process": local}
    for count in worker_counts:
        figures, codes = run(model_atlas, source, root, "ray", count, batch, threads)
        figures["ratio_to_in_process"] = round(figures["wall_s"] / local["wall_s"], 2)
        figures["max_abs_code_difference"] = float(np.abs(codes - reference).max())
        result[f"ray_{count}_workers"] = figures
    return result


def projection(driver: dict, one_worker: dict) -> dict:
    """Hours for a decade of hourly HRRR from the field runs: the driver's work serial, the workers' split N ways.

    Per field: the driver's listing (:func:`driver_cost`) and the
    one-worker run's ingest, both serial; the worker's steady seconds per
    field (first to last shard: listing, hashing, decoding, encoding,
    writing) divided by the workers. Once: the start-up the one-worker run
    showed beyond those (importing Ray Data, starting actors, loading the
    model). Whole fields, as measured: 32 tiles a field would add rows
    to ingest and inputs to encode, not files to list.
    """
    items = one_worker["items"]
    listing = driver["driver_ms_per_file"] / 1e3
    steady = one_worker["steady_s_per_item"] or one_worker["encode_s"] / items
    startup = max(0.0, one_worker["scan_s"] - listing * items) + max(0.0, one_worker["encode_s"] - steady * items)
    serial = DECADE * (listing + one_worker["ingest_s"] / items)
    return {
        "fields": DECADE,
        "basis": "per field: the driver's listing (driver_cost) and the one-worker run's ingest (serial), "
                 "the one-worker run's steady shard work divided by the workers (linear scaling assumed); "
                 "its start-up once",
        "driver_s_per_field": listing, "ingest_s_per_field": round(one_worker["ingest_s"] / items, 5),
        "steady_s_per_field_per_worker": steady, "startup_s": round(startup, 1),
        "driver_share_on_16_workers": round(DECADE * listing / (serial + startup + DECADE * steady / 16), 4),
        "hours": {str(n): round((serial + startup + DECADE * steady / n) / 3600, 2) for n in PROJECTED_WORKERS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="Generated 32x32 shapes embedded.")
    parser.add_argument("--fields", type=int, default=256, help="Full-size 1059x1799 GRIB2 fields embedded.")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts, comma-separated.")
    parser.add_argument("--image-batch", type=int, default=256, help="Images per batch (and Ray shard).")
    parser.add_argument("--field-batch", type=int, default=32, help="Fields per batch (and Ray shard).")
    parser.add_argument("--scale", type=float, default=0.0625, help="Downsampling of the full-size fields.")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads of the in-process embed.")
    parser.add_argument("--fit-seconds", type=float, default=20.0, help="Training time of each model (not timed).")
    parser.add_argument("--fit-fields", type=int, default=64, help="Fields the field model is fitted on.")
    parser.add_argument("--fields-from", type=Path, help="A folder of full-size GRIB2 fields written once, to link.")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        atlas, source, engine, workers, batch, threads = args.worker
        print(json.dumps(worker(Path(atlas), Path(source), engine, int(workers), int(batch), int(threads))))
        return

    from latentatlas.demos.weather import READER

    counts = [int(n) for n in args.workers.split(",")]
    root = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    try:
        start = time.perf_counter()
        images = make_images(root, args.images)
        fields = make_fields(root, args.fields, args.fields_from)
        print(f"wrote {args.images} images and {args.fields} full-size fields in "
              f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
        reader = READER.updated(scale=args.scale)
        image_atlas = fit(root / "images.atlas", images, None, args.fit_seconds)
        field_atlas = fit(root / "fields.atlas", subset(fields, args.fit_fields), reader, args.fit_seconds)
        report = {
            "machine_cpus": len(os.sched_getaffinity(0)),
            "sizes": {"images": args.images, "fields": args.fields, "image_batch": args.image_batch,
                      "field_batch": args.field_batch, "scale": args.scale, "in_process_threads": args.threads},
            "images": compare(image_atlas, images, root, counts, args.image_batch, args.threads),
            "fields": compare(field_atlas, fields, root, counts, args.field_batch, args.threads),
            "driver": driver_cost(fields, reader),
        }
        if 1 in counts:
            report["projection_hrrr_decade"] = projection(report["driver"], report["fields"]["ray_1_workers"])
        print(json.dumps(report))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
