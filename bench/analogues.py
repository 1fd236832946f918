"""Analogue forecasts verified on the generated radar year beside pySTEPS' nowcasts, the blend and the references.

Exports the generated year (hourly composite reflectivity, ``--grid``, one
NetCDF file on HRRR's Lambert grid, so that the atlas knows its grid
spacing), builds an atlas on it (clipped to 0..60 dBZ, ``--code-size``
numbers, ``--time-budget`` seconds of training), then runs
``evaluate analogues`` on the last two months (``--test``), every
``--every`` hours of it (STEPS takes about a second a forecast), with
``k`` = 20, a 45-day season window and a 2-day minimum separation at leads
1, 3, 6 and 12 h, the references extrapolation and STEPS, the blend and
the fractions skill score at 1, 3 and 9 grid points, and times it.
``--plain`` adds a second run without the analogue options; ``none``
leaves one option out (``--season-window none``), ``--trend 3h`` adds one.

Prints one JSON document ``{"leads": [{"lead", "crps_analogue",
"crps_extrapolation", "crps_steps", "crps_blend", "crps_climatology",
"crps_persistence", "crps_random", "crpss_vs_climatology", ..., "fss":
{method: {threshold: {scale: FSS}}}}], "fss_scales_km": {scale: km},
"crossover_lead", "seconds_per_forecast", "targets": {...}, "seconds",
"run_s", ...}`` (the fair CRPS, in dBZ; ``seconds`` the verification,
``run_s`` the whole run with the export and the build); notes go to
stderr. Targets: the blend at every lead at most the better of
extrapolation and analogues; extrapolation better than persistence at
+1 h; the whole run under 10 minutes. Run:
``.venv/bin/python bench/analogues.py [--grid 32x56] [--every 12h] [--plain] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

KEYS = ("lead", "forecasts", "members", "crps_analogue", "crps_extrapolation", "crps_steps", "crps_blend",
        "blend_weight", "crps_climatology", "crps_persistence", "crps_random", "crpss_vs_climatology",
        "crpss_vs_persistence", "crpss_vs_random", "crpss_random_vs_climatology")
METHODS = ("analogue", "extrapolation", "steps", "climatology", "persistence", "random")


def build(folder: Path, grid: tuple[int, int], days: int, code_size: int, budget: float) -> tuple[Path, dict]:
    """Export the generated radar and build an atlas on it; the atlas and the seconds each step took."""
    from latentatlas import Atlas
    from latentatlas.datasets.samples import export_sample
    from latentatlas.sources import ReaderOptions

    started = time.perf_counter()
    exported, _ = export_sample("radar", folder / "radar", fmt="netcdf", days=days, grid=grid)
    timings = {"export_s": round(time.perf_counter() - started, 1)}
    atlas = folder / "analogues.atlas"
    started = time.perf_counter()
    with Atlas.open(atlas) as opened:
        opened.build(exported / "radar.nc", reader=ReaderOptions(clip=(0, 60)), code_size=code_size,
                     time_budget=budget, seed=0, progress=False)
    timings["build_s"] = round(time.perf_counter() - started, 1)
    return atlas, timings


def verify(atlas: Path, args: argparse.Namespace, options: dict, out: Path | None) -> dict:
    """One verification run: its JSON, leads trimmed to the benchmark's keys plus the Brier scores."""
    from latentatlas import Atlas
    from latentatlas.analogues.scores import skill

    with Atlas.open(atlas, read_only=True) as opened:
        started = time.perf_counter()
        result = opened.evaluate_analogues(args.test, leads=args.leads, k=args.k, progress=False, out=out,
                                           references="extrapolation,steps", blend=True, scales=(1, 3, 9),
                                           every=args.every, **options)
        seconds = time.perf_counter() - started
    data = result.to_dict()
    leads = [{**{key: lead.get(key) for key in KEYS},
              **{f"crpss_{m}_vs_climatology": skill(lead[f"crps_{m}"], lead["crps_climatology"])
                 for m in ("extrapolation", "steps", "blend")},
              "fss": {m: lead["fields"][m]["fss"] for m in METHODS},
              "brier": {t: {key: value for key, value in scores.items() if key != "reliability"}
                        for t, scores in lead["brier"].items()}} for lead in data["leads"]]
    return {"settings": data["settings"], "hours": data["hours"], "skipped": data["skipped"], "leads": leads,
            "fss_scales_km": data["settings"].get("scales_km"), "crossover_lead": data["crossover_lead"],
            "seconds_per_forecast": data["seconds_per_forecast"], "seconds": round(seconds, 1)}


def targets(leads: list[dict], seconds: float) -> dict[str, bool]:
    """The benchmark's targets, each as met or not (``seconds``: the whole run)."""
    return {
        "blend_at_most_the_better_of_extrapolation_and_analogues": all(
            lead["crps_blend"] <= min(lead["crps_extrapolation"], lead["crps_analogue"]) for lead in leads),
        "extrapolation_beats_persistence_at_1h": leads[0]["crps_extrapolation"] < leads[0]["crps_persistence"],
        "under_10_minutes": seconds < 600,
    }


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
    parser.add_argument("--every", default="12h", help="forecast only the test hours this far apart")
    parser.add_argument("--plain", action="store_true", help="also verify plain nearest neighbours (no options)")
    parser.add_argument("--work", type=Path, help="keep the export and the atlas here (default: a temporary folder)")
    parser.add_argument("--out", type=Path, help="write verification.png and analogues.json here")
    args = parser.parse_args()
    started = time.perf_counter()
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
    report["run_s"] = round(time.perf_counter() - started, 1)
    report["targets"] = targets(report["leads"], report["run_s"])
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
