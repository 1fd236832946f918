"""Weather throughput: full-size 1059 x 1799 GRIB2 fields to stored codes, peak memory, and the study's figures.

Writes the generated radar on HRRR's full grid, one GRIB2 file per hour,
and fits the study's model (refc, clipped to 0..60 dBZ, ``--scale``
downsampling, 50 numbers) on a few of them (not timed). Then, for each of
``--counts``, a fresh child process embeds that many files into an empty
copy of the atlas as ``latentatlas embed`` does: index the file, hash the
message, decode it with ecCodes, downsample (area average), clip, resize to
the model's input, encode in batches of ``--batch``, insert the batch into
DuckDB in one transaction. The slower run's fields per second (start-up
added) are extrapolated to a year of hourly fields (8,760) against the
30-minute target; the peak resident memory of the runs, each several
batches long, shows whether memory grows with the number of fields. The
stages of that path are timed one by one on a sample. Last, the weather study (``latentatlas demo weather``) runs on
the generated year and its figures are reported.

Prints one JSON document; notes go to stderr. Run:
``.venv/bin/python bench/weather.py [--counts 128,256] [--batch 64] [--scale 0.0625] [--study-days 365]``
(``--skip-study`` for the throughput only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

YEAR = 8760
TARGET_SECONDS = 1800.0
FIT_FIELDS = 24


def reader(scale: float):
    """The study's reading options with ``scale`` downsampling."""
    from latentatlas.demos.weather import READER

    return READER.updated(scale=scale)


def write_fields(folder: Path, count: int) -> float:
    """``count`` hours of generated radar on HRRR's grid as GRIB2 files; returns the seconds taken."""
    from latentatlas.sources.lambert import HRRR_SHAPE
    from latentatlas.datasets.radar_files import export_radar

    start = time.perf_counter()
    export_radar(folder, "grib2", days=math.ceil(count / 24), grid=HRRR_SHAPE)
    for extra in sorted(folder.glob("*.grib2"))[count:]:
        extra.unlink()
    return time.perf_counter() - start


def linked(files: list[Path], folder: Path) -> Path:
    """A folder of hard links to ``files``."""
    folder.mkdir(parents=True)
    for file in files:
        os.link(file, folder / file.name)
    return folder


def embed_worker(atlas: Path, folder: Path, batch: int) -> dict:
    """Embed ``folder`` into ``atlas`` in this (child) process; its time and peak memory."""
    start = time.perf_counter()
    from latentatlas import Atlas

    with Atlas.open(atlas) as opened:
        _ = opened.model  # loaded before the clock starts, as a long-running embed loads it once
        loaded = time.perf_counter()
        report = opened.embed(folder, batch_size=batch)
        seconds = time.perf_counter() - loaded
    if report.failures:
        raise RuntimeError(f"{len(report.failures)} fields failed, first: {report.failures[0]}")
    return {"fields": report.added, "seconds": seconds, "fields_per_s": report.added / seconds,
            "startup_seconds": loaded - start, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def run_embed(model_atlas: Path, files: list[Path], root: Path, batch: int) -> dict:
    """:func:`embed_worker` on the first files, in a fresh process with an empty copy of the atlas."""
    name = f"n{len(files)}"
    atlas = Path(shutil.copytree(model_atlas, root / f"{name}.atlas"))
    folder = linked(files, root / name)
    worker = subprocess.run([sys.executable, __file__, "--worker", str(atlas), str(folder), str(batch)],
                            check=True, capture_output=True, text=True)
    result = json.loads(worker.stdout)
    print(f"embedded {result['fields']} full-size fields in {result['seconds']:.1f} s after "
          f"{result['startup_seconds']:.1f} s of start-up "
          f"({result['fields_per_s']:.2f} fields/s), peak RSS {result['peak_rss_bytes'] / 1e6:.0f} MB", file=sys.stderr)
    return result


def stages(files: list[Path], model_atlas: Path, scale: float) -> dict:
    """Seconds per field of each stage of the embed path, timed one by one on ``files``."""
    from latentatlas import Atlas
    from latentatlas.sources import ReaderOptions, read_sources
    from latentatlas.sources.transform import apply_pixels

    options = reader(scale)
    timings: dict[str, float] = {}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        timings[name] = (time.perf_counter() - start) / len(files)
        return value

    raw = timed("index_s", lambda: read_sources(files, ReaderOptions(variables=options.variables)).records)
    timed("sha256_s", lambda: [record.hasher() for record in raw])
    fields = timed("decode_s", lambda: [record.load() for record in raw])
    small = timed("downsample_clip_s", lambda: [apply_pixels(field, options) for field in fields])
    with Atlas.open(model_atlas, read_only=True) as opened:
        model = opened.model
        model.encode(small)  # warm-up: the first call sets up the convolutions
        inputs = timed("preprocess_s", lambda: model.prepare(small))
        timed("encode_s", lambda: model.encode_inputs(inputs))
    timings["sum_s"] = sum(timings.values())
    return {key: round(value * 1e3, 2) for key, value in timings.items()} | {"unit": "ms per field"}


def study(root: Path, days: int) -> dict:
    """The weather study on the generated period: its settings, timings and figures."""
    from latentatlas.demos.weather import WeatherSettings, weather_demo

    result = weather_demo(root / "study.atlas", WeatherSettings(days=days)).to_dict()
    result.pop("pictures")
    result.pop("report")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="128,256", help="Field counts embedded, each in a fresh process.")
    parser.add_argument("--batch", type=int, default=64, help="Fields per batch (and transaction) of embed.")
    parser.add_argument("--scale", type=float, default=0.0625, help="Downsampling of the full-size fields.")
    parser.add_argument("--stage-fields", type=int, default=24, help="Fields the stages are timed on.")
    parser.add_argument("--study-days", type=int, default=365, help="Days of the study's generated period.")
    parser.add_argument("--skip-study", action="store_true", help="Measure the throughput only.")
    parser.add_argument("--worker", nargs=3, metavar=("ATLAS", "FOLDER", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(embed_worker(Path(args.worker[0]), Path(args.worker[1]), int(args.worker[2]))))
        return
    from latentatlas import Atlas
    from latentatlas.sources.lambert import HRRR_SHAPE

    counts = sorted(int(c) for c in args.counts.split(","))
    report: dict = {"grid": list(HRRR_SHAPE), "scale": args.scale, "batch": args.batch, "counts": counts}
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        data = root / "full"
        report["write_seconds"] = round(write_fields(data, counts[-1]), 1)
        files = sorted(data.glob("*.grib2"))
        report["file_bytes"] = files[0].stat().st_size
        print(f"wrote {len(files)} full-size GRIB2 files in {report['write_seconds']} s", file=sys.stderr)
        model_atlas = root / "model.atlas"
        with Atlas.open(model_atlas) as atlas:
            fitted = atlas.fit(files[:FIT_FIELDS], reader=reader(args.scale), code_size=50, base_channels=16,
                               epochs=1, seed=0)
        report["input_shape"] = list(fitted.model.preprocessor.input_shape)
        runs = [run_embed(model_atlas, files[:count], root, args.batch) for count in counts]
        report["embed"] = runs
        slowest = min(runs, key=lambda run: run["fields_per_s"])  # the machine is shared: the conservative rate
        rate = slowest["fields_per_s"]
        year = slowest["startup_seconds"] + YEAR / rate
        report["fields_per_s"] = round(rate, 2)
        report["year_seconds_extrapolated"] = round(year, 1)
        report["year_target_met"] = year < TARGET_SECONDS
        report["peak_rss_ratio_largest_to_smallest"] = round(runs[-1]["peak_rss_bytes"] / runs[0]["peak_rss_bytes"], 3)
        report["stages"] = stages(files[:args.stage_fields], model_atlas, args.scale)
        if not args.skip_study:
            report["study"] = study(root, args.study_days)
    print(f"a year of {YEAR} fields at {rate:.2f} fields/s: {year / 60:.1f} min with start-up "
          f"(target 30 min, i.e. >= {YEAR / TARGET_SECONDS:.2f} fields/s); peak RSS {counts[-1]} vs {counts[0]} fields: "
          f"x{report['peak_rss_ratio_largest_to_smallest']}", file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
