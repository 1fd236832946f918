"""Pictures of analogue forecasts: truth, ensemble mean, spread and exceedance probabilities per lead; verification plots."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..sources.geometry import GridGeometry
from .grids import REFLECTIVITY, field_colours

__all__ = ["forecast_figure", "verification_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forecast_figure(rows: Sequence[dict[str, Any]], value_range: tuple[float, float] | None,
                    colormap: str = REFLECTIVITY, title: str = "", geometry: GridGeometry | None = None):
    """One row per lead: truth (when known), ensemble mean, the references' means, spread, one probability map per threshold.

    Each of ``rows`` is ``{"lead": "3h", "truth": (H, W) or None, "mean", "spread",
    "probabilities": {threshold: (H, W)}, "references": {name: (H, W)}}`` (references optional); fields are drawn in
    ``colormap`` over ``value_range`` (the truth with its colour bar, in
    dBZ for the reflectivity colours), probabilities from 0 to 1; a row's
    ``"valid"`` (text) follows its truth's title. With ``geometry`` every
    panel is a map (coastlines, borders, latitudes and longitudes).
    """
    from .maps import draw_map

    plt = _pyplot()
    first = rows[0]
    thresholds = list(first["probabilities"])
    references = list(first.get("references", {}))
    columns = 3 + len(references) + len(thresholds)
    height, width = np.shape(first["mean"])[:2]
    cell = 2.2
    fig, axes = plt.subplots(len(rows), columns, squeeze=False,
                             figsize=(cell * columns, (cell * height / width + 0.5) * len(rows) + 0.4))
    cmap, span = field_colours(colormap, value_range)
    low, high = span or (None, None)
    for r, row in enumerate(rows):
        panels = [("truth", row["truth"], cmap, low, high), ("mean", row["mean"], cmap, low, high),
                  *[(name, row["references"][name], cmap, low, high) for name in references],
                  ("spread", row["spread"], "magma", 0, None)]
        panels += [(f"P(> {t:g})", row["probabilities"][t], "Blues", 0, 1) for t in thresholds]
        for c, (name, image, colours, vmin, vmax) in enumerate(panels):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            valid = f"\n{row['valid']}" if c == 0 and row.get("valid") else ""
            ax.set_title(f"+{row['lead']} {name}{valid}", fontsize=8)
            if image is None:
                ax.text(0.5, 0.5, "not stored", ha="center", va="center", fontsize=8, transform=ax.transAxes)
                continue
            if geometry is not None and tuple(np.shape(image)) == tuple(geometry.shape):
                drawn = draw_map(ax, image, geometry, colours, (vmin, vmax) if vmax is not None else None)
            else:
                drawn = ax.imshow(np.asarray(image, np.float32), cmap=colours, vmin=vmin, vmax=vmax,
                                  interpolation="nearest")
            if c == 0 or c >= 2 + len(references):
                bar = fig.colorbar(drawn, ax=ax, fraction=0.04, pad=0.02)
                bar.ax.tick_params(labelsize=6)
                if c == 0 and colormap == REFLECTIVITY:
                    bar.set_label("dBZ", fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def verification_figure(report: dict[str, Any]):
    """CRPSS against lead per method, reliability per threshold (with the forecasts per bin), the rank histogram per lead,
    and, when the report has them, the fractions skill score against the neighbourhood's size per method.

    ``report`` is :meth:`latentatlas.analogues.verify.AnalogueEvaluation.to_dict`.
    """
    plt = _pyplot()
    leads = report["leads"]
    hours = [lead["hours"] for lead in leads]
    fss = "fields" in leads[0] if leads else False
    fig, axes = plt.subplots(1, 4 if fss else 3, figsize=(17 if fss else 13, 3.8))
    ax = axes[0]
    for key, label in (("crpss_vs_climatology", "analogues vs climatology"),
                       ("crpss_vs_persistence", "analogues vs persistence"),
                       ("crpss_random_vs_climatology", "random hours vs climatology")):
        values = [np.nan if lead[key] is None else lead[key] for lead in leads]
        ax.plot(hours, values, marker="o", label=label)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("lead (h)")
    ax.set_ylabel("CRPS skill score")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    for lead in leads:
        for threshold, scores in lead["brier"].items():
            table = scores["reliability"]
            ax.plot([b["forecast"] for b in table], [b["observed"] for b in table], marker=".",
                    label=f"+{lead['hours']:g} h, > {threshold}")
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("reliability (bars: points per bin, first lead)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, ncol=2)
    first = next(iter(leads[0]["brier"].values()))["reliability"] if leads and leads[0]["brier"] else []
    if first:
        counts = ax.twinx()
        counts.bar([(b["from"] + b["to"]) / 2 for b in first], [b["count"] for b in first], width=0.08, alpha=0.2,
                   color="grey")
        counts.set_yscale("log")
        counts.tick_params(labelsize=6)
    ax = axes[2]
    drawn = [lead for lead in leads if sum(lead["rank_histogram"])]
    for lead in drawn:
        counts = np.asarray(lead["rank_histogram"], np.float64)
        ax.plot(np.arange(len(counts)), counts / counts.sum(), marker=".",
                label=f"+{lead['hours']:g} h ({lead['rank_histogram_members']} members)")
    if drawn:
        ax.axhline(1 / len(drawn[0]["rank_histogram"]), color="grey", linewidth=0.8)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no forecast", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("rank of the truth among the members")
    ax.set_ylabel("frequency")
    ax.set_title("rank histogram", fontsize=9)
    if fss:
        _fss_by_scale(axes[3], leads, report["settings"].get("grid_km"))
    fig.tight_layout()
    return fig


def _fss_by_scale(ax, leads: Sequence[dict[str, Any]], grid_km: float | None = None) -> None:
    """The fractions skill score against the neighbourhood's size, per method, at the first threshold: first lead solid, last dashed.

    With ``grid_km`` (a georeferenced grid) the axis says how far a grid point is.
    """
    shown = [leads[0]] + ([leads[-1]] if len(leads) > 1 else [])
    for lead, style in zip(shown, ("-", "--")):
        for n, (method, scores) in enumerate(lead["fields"].items()):
            by_scale = next(iter(scores["fss"].values()))
            values = [np.nan if v is None else v for v in by_scale.values()]
            ax.plot([int(s) for s in by_scale], values, style, marker=".", color=f"C{n}",
                    label=f"{method} +{lead['hours']:g} h")
    threshold = next(iter(leads[0]["fields"]["analogue"]["fss"]))
    ax.set_xscale("log")
    ax.set_xlabel("neighbourhood (grid points" + (f", 1 = {grid_km:.3g} km)" if grid_km else ")"))
    ax.set_ylabel(f"FSS, > {threshold}")
    ax.set_title("fractions skill score", fontsize=9)
    ax.legend(fontsize=5, ncol=2)
