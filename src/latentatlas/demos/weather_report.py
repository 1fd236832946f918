"""The weather study's HTML report: the article's sections, fields drawn as radar maps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..analogues.verify import summary_tables
from ..atlas import Atlas
from ..baselines.codec import LinearCodec
from ..datasets.radar import REGIMES
from ..ops.at_time import format_time, row_at
from ..ops.embed import reader_options
from ..ops.evaluate.interpolation import JSON_KEYS
from ..ops.evaluate.quality import psnr
from ..ops.rows import atlas_geometry, read_pixels
from ..ops.search_picture import placed
from ..pictures.grids import REFLECTIVITY, captioned_rows, field_colours, save_png
from ..pictures.report import Report
from ..store.clusters import load_run

if TYPE_CHECKING:
    from .weather import WeatherStudy

__all__ = ["write_report"]

_INTERPOLATION_ROWS = {
    "triples": "triples (t - 1 h, t, t + 1 h)",
    "code_sqdist_interp": "squared code distance, mean of t - 1 h and t + 1 h to t",
    "code_sqdist_step": "squared code distance between consecutive hours",
    "ratio": "ratio (interpolation / one hour)",
    "psnr_interp": "PSNR of the decoded mean code (dB)",
    "psnr_pixel_blend": "PSNR of the pixel average of t - 1 h and t + 1 h (dB)",
    "psnr_reconstruction": "PSNR of the reconstruction of t itself (dB)",
}


def write_report(atlas: Atlas, study: WeatherStudy, pca: LinearCodec, path: Path, pictures: Path) -> Path:
    """Write the report of ``study`` to ``path``; its pictures go to ``pictures`` (and into ``study.pictures``).

    The search pictures are already there; this draws the fields beside
    their decoded codes and ``pca``'s reconstructions (PCA of the same
    size), the interpolation of the chosen hour and the decoded centroids.
    """
    settings = study.settings
    chosen = _utc(settings.time)
    report = Report(f"latentatlas demo: the weather study ({study.fields} hours of generated radar)")
    _summary(report, atlas, study)
    report.heading("Training")
    report.picture((atlas.store.model_dir / "loss.png").read_bytes(),
                   "Training and validation loss per epoch (epoch 0: the linear path alone, i.e. PCA); "
                   "dashed: the loss of predicting the mean field.")

    run = load_run(atlas.store, study.clusters["run"])
    typical = [int(run.ids[run.clusters == c][np.argmin(run.distances[run.clusters == c])])
               for c in range(len(run.centroids))]
    shown = [row_at(atlas.store, settings.time)] + typical
    originals = _originals(atlas, shown)
    size = originals[0].shape
    decoded = atlas.model.decode_images(_codes(atlas, shown), [size] * len(shown))
    inputs = atlas.model.prepare(originals)
    linear = atlas.model.to_images(pca.decode(pca.encode(inputs)), [size] * len(shown))
    ours_db, pca_db = psnr(inputs, atlas.model.reconstruct(inputs)), psnr(inputs, pca.decode(pca.encode(inputs)))
    times = atlas.store.images(shown)
    labels = [_utc(times[i]["time"]) + ("" if n == 0 else f"\ncluster {n - 1}") for n, i in enumerate(shown)]
    study.pictures["reconstructions"] = _maps(
        atlas, pictures / "reconstructions.png", [originals, decoded, linear],
        [[f"original\n{t}" for t in labels], [f"decoded, {db:.1f} dB" for db in ours_db],
         [f"PCA, {db:.1f} dB" for db in pca_db]])
    report.heading("Original and decoded fields, beside PCA")
    report.picture(study.pictures["reconstructions"].read_bytes(),
                   f"Top: the field as read from GRIB2 (clipped to 0..60 dBZ). Middle: decoded from its "
                   f"{atlas.model.code_size} numbers. Bottom: PCA with as many numbers, fitted on the same training "
                   f"hours. First {chosen}, then the hour nearest each k-means cluster's centre (below).")
    against = study.against_pca
    report.table(["on hours the model never trained on", "value"], [
        ["hours scored", against["hours"]], ["PSNR of the model (dB)", against["ours_psnr"]],
        ["PSNR of PCA of the same size (dB)", against["pca_psnr"]], ["gain over PCA (dB)", against["gain_db"]],
    ])

    report.heading(f"Nearest hours of {chosen}")
    _hits(report, study.pictures["nearest"], study.nearest,
          "The chosen hour (itself first, at distance 0), then its nearest stored hours by code distance.")
    report.heading("Analogues, leaving out one day either side")
    _hits(report, study.pictures["analogues"], study.analogues,
          f"search --time '{chosen}' --exclude-within 1d: hours whose weather looked most like it, "
          "more than a day away.")

    report.heading("Interpolation: the mean of t - 1 h and t + 1 h as a prediction of t")
    report.table(["figure", "value"], [[_INTERPOLATION_ROWS[key], study.interpolation[key]] for key in JSON_KEYS])
    study.pictures["interpolation"] = _interpolation_picture(atlas, settings.time, pictures / "interpolation.png")
    report.picture(study.pictures["interpolation"].read_bytes(),
                   f"Top: the fields at {chosen} - 1 h, {chosen} and + 1 h. Bottom: the mean of the two neighbours' "
                   "codes, decoded; the pixel average of the two neighbours; the reconstruction of the hour itself.")

    report.heading(f"Weather regimes: the {run.centroids.shape[0]} k-means++ centroids, decoded")
    centroids = atlas.model.decode_images(run.centroids, [size] * len(run.centroids))
    sizes = study.clusters["sizes"]
    study.pictures["centroids"] = _maps(atlas, pictures / "centroids.png", [centroids],
                                        [[f"cluster {c}\n{sizes[c]} hours" for c in range(len(centroids))]])
    report.picture(study.pictures["centroids"].read_bytes(),
                   "Each cluster's centre in code space, decoded: the typical field of its hours.")
    report.table(["cluster", "hours", *REGIMES],
                 [[c, sizes[c], *(f"{shares[name]:.0%}" for name in REGIMES)]
                  for c, shares in enumerate(study.clusters["regimes"])])
    report.paragraph("Of each cluster's hours, the share in each of the generator's regimes: the kind of weather "
                     "covering most ground at that hour (quiet, north-west coastal rain, convective cells, squall "
                     "lines, stratiform rain shields), which the clustering never saw.")
    _what_followed(report, study, chosen)
    return report.write(path)


def _what_followed(report: Report, study: WeatherStudy, chosen: str) -> None:
    """The analogue forecast of the chosen hour beside the truth, and the verification of the held-out month."""
    forecast = study.forecast
    options = forecast["settings"]
    report.heading(f"What followed: the analogue forecast from {chosen}")
    report.picture(study.pictures["forecast"].read_bytes(),
                   f"latentatlas forecast --time '{chosen}' --lead {','.join(options['leads'])} -k {options['k']} "
                   "--season-window 45d --min-separation 2d: the fields that followed its analogues (each its own "
                   "event, within 45 days of its date in the year) as an ensemble, beside pySTEPS' extrapolation "
                   "nowcast and the blend of the two. Per lead: the truth, the ensemble mean, the extrapolation, the "
                   "blend's mean, the ensemble's spread (dBZ) and the probability of exceeding each threshold.")
    thresholds = list(forecast["leads"][0]["exceedance"])
    report.table(["lead", "members", "CRPS (dBZ)", "MAE of the mean (dBZ)", "CRPS extrapolation", "CRPS blend",
                  *[f"area > {t} dBZ: forecast / seen" for t in thresholds]],
                 [[lead["lead"], len(forecast["analogues"]),
                   *(["n/a", "n/a"] if lead["truth"] is None else [lead["truth"]["crps"], lead["truth"]["mae_of_mean"]]),
                   *(["n/a", "n/a"] if lead["truth"] is None else [lead["references"]["extrapolation"]["crps"],
                                                                 lead["blend"]["crps"]]),
                   *[f"{lead['exceedance'][t]:.1%} / " + ("n/a" if lead["truth"] is None else f"{lead['truth']['exceeded'][t]:.1%}")
                     for t in thresholds]]
                  for lead in forecast["leads"]])
    verification = study.verification
    start, end = verification["settings"]["test"]
    report.heading("Verification of the analogue forecasts of a held-out month")
    report.paragraph(
        f"latentatlas evaluate analogues --test {start[:10]}/{end[:10]}: every hour of the period forecast by its "
        f"{verification['settings']['k']} analogues from outside it ({verification['hours']} hours), scored per "
        "pixel by the CRPS beside climatology (the same hour of day within 45 days, outside the period), "
        "persistence (the field at the start) and as many random hours; skill scores are 1 - score / "
        "reference's (above 0: better than the reference); BSS: Brier skill against climatology. The last table "
        "(--space codes,pca,pixels) scores the analogues found in the stored codes beside those found with PCA "
        "of the same size and with the raw pixels at the model's input size, on the same hours and k: which "
        "space finds the better analogues.")
    for columns, rows in summary_tables(verification):
        report.table(columns, rows)
    report.picture(study.pictures["verification"].read_bytes(),
                   "CRPS skill against lead, reliability of the exceedance probabilities, rank histogram of the "
                   "truth among the members.")


def _summary(report: Report, atlas: Atlas, study: WeatherStudy) -> None:
    settings = study.settings
    c, h, w = study.input_shape
    first = settings.start
    last = first + timedelta(hours=study.fields - 1)
    report.paragraph(
        f"{study.fields} hourly fields of generated composite reflectivity from {_utc(first)} to "
        f"{_utc(last)} on a {settings.grid[0]}x{settings.grid[1]} grid over HRRR's domain, written as GRIB2 "
        f"and read back through the GRIB reader (refc, clipped to 0..60 dBZ), resized to {h}x{w} and encoded to "
        f"{atlas.model.code_size} numbers each.")
    training = study.training
    report.table(["figure", "value"], [
        ["fields", study.fields],
        [f"training fields (one hour in {settings.train_every})", training["fields"]],
        ["epochs", training["epochs"]],
        ["objective (stopped by; model kept)", f"{training['objective']} ({training['stop_reason']}; {training['kept']})"],
        ["best validation loss (the objective's)", training["best_val_loss"]],
        ["MSE of predicting the mean field", training["baseline_val_loss"]],
        ["interpolation ratio", study.interpolation["ratio"]],
        ["model", atlas.model.fingerprint],
    ])
    report.table(["timing", "seconds"], [  # apart from the results: they change with the machine
        ["training", training["seconds"]],
        *([name, study.seconds[name]] for name in ("export", "fit", "embed", "study")),
    ])


def _originals(atlas: Atlas, ids: Sequence[int]) -> list[np.ndarray]:
    pixels = read_pixels(atlas.store, ids)
    found = dict(zip(pixels.ids.tolist(), pixels.images))
    return [found[i] for i in ids]


def _codes(atlas: Atlas, ids: Sequence[int]) -> np.ndarray:
    found, codes = atlas.store.vectors(np.array(ids))
    code = dict(zip(found.tolist(), codes))
    return np.stack([code[i] for i in ids])


def _utc(when) -> str:
    return f"{format_time(when)} UTC"


def _maps(atlas: Atlas, path: Path, rows: list[list[np.ndarray]], captions: list[list[str]]) -> Path:
    """Whole fields as radar maps on the atlas's grid, the colour bar over its clip range."""
    cmap, span = field_colours(REFLECTIVITY, reader_options(atlas.store).clip)
    geometry = atlas_geometry(atlas.store)
    places = None if geometry is None else [[placed(geometry, image) for image in row] for row in rows]
    return save_png(captioned_rows(rows, captions, cmap=cmap, value_range=span, colorbar="dBZ", geometries=places),
                    path)


def _hits(report: Report, picture: Path, hits: list[dict], caption: str) -> None:
    report.picture(picture.read_bytes(), caption)
    report.table(["rank", "time (UTC)", "hours from the chosen time", "distance"],
                 [[rank, format_time(np.datetime64(hit["time"])), f"{hit['hours']:+g}", hit["distance"]]
                  for rank, hit in enumerate(hits, start=1)])


def _interpolation_picture(atlas: Atlas, chosen, path: Path) -> Path:
    ids = [row_at(atlas.store, chosen + timedelta(hours=step)) for step in (-1, 0, 1)]
    before, now, after = _originals(atlas, ids)
    codes = _codes(atlas, ids)
    mean, itself = atlas.model.decode_images(np.stack([(codes[0] + codes[2]) / 2, codes[1]]), [now.shape] * 2)
    when = [_utc(chosen + timedelta(hours=step)) for step in (-1, 0, 1)]
    return _maps(atlas, path, [[before, now, after], [mean, (before + after) / 2, itself]],
                 [[f"t - 1 h\n{when[0]}", f"t\n{when[1]}", f"t + 1 h\n{when[2]}"],
                  ["mean of the codes\ndecoded", "mean of the pixels", "t\nreconstructed"]])
