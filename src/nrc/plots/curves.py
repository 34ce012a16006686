"""Learning-curve grids: one panel per (metric, dataset), one line per regularisation value
(Figs. 5, 6, 7, 9, 10 share this layout)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nrc.plots.style import METRIC_LABELS, reg_color, reg_label, subplots

LOG_METRICS = {"nrc1", "nrc2", "nrc3", "nrc3_paper", "train_mse"}


def metric_grid(
    table: pd.DataFrame,
    datasets: Sequence[str],
    metrics: Sequence[str],
    by: str,
    legend: str,
    title: str,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """Rows = metrics, columns = datasets; ``by`` picks the column whose values get one line
    each (colour by value, consistent across figures): the mean over the runs (seeds) with that
    value, with their min–max band where there are several. Metrics the paper plots on a log scale
    (NRC, train MSE) are drawn on one. ``labels`` overrides the y-axis label of a metric."""
    fig, axes = subplots(len(metrics), len(datasets))
    legend_items: dict[float, object] = {}
    for col, dataset in enumerate(datasets):
        rows = table[table.dataset == dataset]
        for r, metric in enumerate(metrics):
            ax = axes[r * len(datasets) + col]
            if metric.startswith("nrc3") and not rows.empty and rows.n.max() < 2:
                ax.text(0.5, 0.5, "n = 1: NRC3 not defined", ha="center", transform=ax.transAxes)
            for value, curve in sorted(rows.groupby(by), key=lambda kv: kv[0]):
                if metric not in curve or curve[metric].isna().all():
                    continue
                seeds = curve.groupby("epoch")[metric].agg(["mean", "min", "max", "count"])
                (line,) = ax.plot(
                    seeds.index, seeds["mean"].to_numpy(dtype=float), color=reg_color(value), lw=1.3
                )
                if seeds["count"].max() > 1:
                    ax.fill_between(
                        seeds.index, seeds["min"].to_numpy(dtype=float),
                        seeds["max"].to_numpy(dtype=float), color=reg_color(value), alpha=0.2,
                        lw=0,
                    )  # fmt: skip
                legend_items.setdefault(float(value), line)
            if metric in LOG_METRICS and np.any(rows.get(metric, pd.Series(dtype=float)) > 0):
                ax.set_yscale("log")
            if metric == "train_r2" and ax.lines:  # an untrained net's R² (< -1) hides the rest
                ax.set_ylim(max(ax.get_ylim()[0], -1.0), 1.05)
            ax.set_xlabel("epoch")
            ax.set_ylabel({**METRIC_LABELS, **(labels or {})}.get(metric, metric))
            if r == 0:
                ax.set_title(dataset)
    if legend_items:  # every value of every dataset (grids can differ per dataset), in order
        values = sorted(legend_items)
        fig.legend(
            [legend_items[v] for v in values],
            [reg_label(legend, v) for v in values],
            loc="upper center",
            ncol=min(len(values), 2 * len(datasets)),
            frameon=False,
            bbox_to_anchor=(0.5, 1.0),
        )
    fig.suptitle(title, y=1.04)
    return fig
