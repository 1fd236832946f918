"""Analogue forecasts verified on the generated radar year: CRPS skill against climatology, persistence and random hours.

Exports the generated year (hourly composite reflectivity, ``--grid``,
``.npy``), builds an atlas on it (clipped to 0..60 dBZ, ``--code-size``
numbers, ``--time-budget`` seconds of training; not timed), then runs
``evaluate analogues`` on the last two months (``--test``) with ``k`` = 20,
a 45-day season window and a 2-day minimum separation at leads 1, 3, 6 and
12 h, and times the whole verification. ``--plain`` adds a second run
without the analogue options, to show what they add; ``none`` leaves one
option out (``--season-window none``), ``--trend 3h`` adds one.

Prints one JSON document ``{"leads": [{"lead", "crps_analogue",
"crps_climatology", "crps_persistence", "crps_random",
"crpss_vs_climatology", "crpss_vs_persistence", "brier": {threshold: ...}}],
"seconds", ...}``; notes go to stderr. Run:
``.venv/bin/python bench/analogues.py [--grid 32x56] [--code-size 32] [--time-budget 60] [--plain] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

KEYS = ("lead", "forecasts", "members", "crps_analogue", "crps_climatology", "crps_persistence", "crps_random",
        "crpss_vs_climatology", "crpss_vs_persistence", "crpss_vs_random", "crpss_random_vs_climatology")


def build(folder: Path, grid: tuple[int, int], days: int, code_size: int, budget: float) -> tuple[Path, dict]:
    """Export the generated radar and build an atlas on it; the atlas and the seconds each step took."""
    from latentatlas import Atlas
    from latentatlas.datasets.samples import export_sample
    from latentatlas.sources import ReaderOptions

    started = time.perf_counter()
    exported, _ = export_sample("radar", folder / "radar", fmt="npy", days=days, grid=grid)
    timings = {"export_s": round(time.perf_counter() - started, 1)}
    atlas = folder / "analogues.atlas"
    started = time.perf_counter()
    with Atlas.open(atlas) as opened:
        opened.build(exported / "radar.npy", reader=ReaderOptions(clip=(0, 60)), code_size=code_size,
                     time_budget=budget, seed=0, progress=False)
    timings["build_s"] = round(time.perf_counter() - started, 1)
    return atlas, timings


def verify(atlas: Path, args: argparse.Namespace, options: dict, out: Path | None) -> dict:
    """One verification run: its JSON, leads trimmed to the benchmark's keys plus the Brier scores."""
    from latentatlas import Atlas

    with Atlas.open(atlas, read_only=True) as opened:
        started = time.perf_counter()
        result = opened.evaluate_analogues(args.test, leads=args.leads, k=args.k, progress=False, out=out, **options)
        seconds = time.perf_counter() - started
    data = result.to_dict()
    leads = [{**{key: lead[key] for key in KEYS},
              "brier": {t: {key: value for key, value in scores.items() if key != "reliability"}
                        for t, scores in lead["brier"].items()}} for lead in data["leads"]]
    return {"settings": data["settings"], "hours": data["hours"], "skipped": data["skipped"], "leads": leads,
            "seconds": round(seconds, 1)}


def _option(text: str) -> str | None:
    """An analogue option from the command line; ``none`` leaves it out."""
    return None if text.lower() == "none" else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="32x56", help="HxW of the generated fields")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--code-size", type=int, default=32)
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--test", default="2019-11-01/2020-01-01")
    parser.add_argument("--leads", default="1h,3h,6h,12h")
    parser.add_argument("-k", type=int, default=20)
    parser.add_argument("--season-window", default="45d")
    parser.add_argument("--min-separation", default="2d")
    parser.add_argument("--trend", default="none")
    parser.add_argument("--plain", action="store_true", help="also verify plain nearest neighbours (no options)")
    parser.add_argument("--work", type=Path, help="keep the export and the atlas here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="write verification.png and analogues.json here")
    args = parser.parse_args()
    grid = tuple(int(side) for side in args.grid.lower().split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.work or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        atlas = folder / "analogues.atlas"
        timings = {}
        if not atlas.exists():
            print(f"exporting {args.days} days on {args.grid} and building the atlas ...", file=sys.stderr)
            atlas, timings = build(folder, grid, args.days, args.code_size, args.time_budget)
        options = {"season_window": _option(args.season_window), "min_separation": _option(args.min_separation),
                   "trend": _option(args.trend)}
        print("verifying ...", file=sys.stderr)
        report = {**verify(atlas, args, options, args.out), "grid": list(grid), "code_size": args.code_size, **timings}
        if args.plain:
            print("verifying plain nearest neighbours ...", file=sys.stderr)
            report["plain"] = verify(atlas, args, {}, None)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
