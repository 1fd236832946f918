"""Pictures of analogue forecasts: truth, ensemble mean, spread and exceedance probabilities per lead; verification plots."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .grids import REFLECTIVITY, field_colours

__all__ = ["forecast_figure", "verification_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forecast_figure(rows: Sequence[dict[str, Any]], value_range: tuple[float, float] | None,
                    colormap: str = REFLECTIVITY, title: str = ""):
    """One row per lead: truth (when known), ensemble mean, the references' means, spread, one probability map per threshold.

    Each of ``rows`` is ``{"lead": "3h", "truth": (H, W) or None, "mean", "spread",
    "probabilities": {threshold: (H, W)}, "references": {name: (H, W)}}`` (references optional); fields are drawn in
    ``colormap`` over ``value_range``, probabilities from 0 to 1.
    """
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
            ax.set_title(f"+{row['lead']} {name}", fontsize=8)
            if image is None:
                ax.text(0.5, 0.5, "not stored", ha="center", va="center", fontsize=8, transform=ax.transAxes)
                continue
            drawn = ax.imshow(np.asarray(image, np.float32), cmap=colours, vmin=vmin, vmax=vmax, interpolation="nearest")
            if c >= 2 + len(references):
                fig.colorbar(drawn, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def verification_figure(report: dict[str, Any]):
    """CRPSS against lead per method, the reliability diagram per threshold, and the rank histogram per lead.

    ``report`` is :meth:`latentatlas.analogues.verify.AnalogueEvaluation.to_dict`.
    """
    plt = _pyplot()
    leads = report["leads"]
    hours = [lead["hours"] for lead in leads]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
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
    ax.set_title("reliability", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, ncol=2)
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
    fig.tight_layout()
    return fig
