"""The UFM phase-diagram figure (owns ``plot_phase``): rank, loss, MSE and NRC1–3 of the
closed form and the gradient solver against c = λ_W·λ_H, from the table of
:func:`nrc.ufm.phase_diagram` (paper Theorem 4.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nrc.io import atomic_path

SOURCES = ("theory", "solver")
METRICS = ("rank", "loss", "mse", "nrc1", "nrc2", "nrc3")
TITLES = {
    "rank": "rank of W",
    "loss": "loss (1)",
    "mse": "training MSE",
    "nrc1": "NRC1",
    "nrc2": "NRC2",
    "nrc3": "NRC3 (γ = c)",
}
STYLES = ({"ls": "-"}, {"ls": "none", "marker": "o", "ms": 4})


def plot_phase(table: pd.DataFrame, path: str | Path) -> Path:
    """PNG of rank, loss, MSE, NRC1–3 vs c: theory as lines, solver as markers; λmin, λmax marked.

    NRC values below 1e-16 (exact zeros of the closed form) are drawn at 1e-16 on the log axis.
    """
    path = Path(path)
    # A bare Figure renders with Agg and leaves pyplot's global backend and state alone.
    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 3, sharex=True)
    floor = 1e-16
    for ax, metric in zip(axes.flat, METRICS, strict=True):
        for src, style in zip(SOURCES, STYLES, strict=True):
            values = table[f"{metric}_{src}"].to_numpy(dtype=float)
            if metric.startswith("nrc"):
                values = np.maximum(values, floor)
            ax.plot(table.c, values, label=src, **style)
        for name, label in (("lambda_min", "λmin"), ("lambda_max", "λmax")):
            x = table[name].iloc[0]
            ax.axvline(x, color="grey", ls="--", lw=0.8)
            ax.text(x, 1.0, label, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
        ax.set_xscale("log")
        if metric != "rank":
            ax.set_yscale("log")
        ax.set_title(TITLES[metric], pad=14)
    for ax in axes[1]:
        ax.set_xlabel("c = λ_W·λ_H")
    axes[0, 0].legend()
    sizes = ", ".join(f"{k} = {table[k].iloc[0]}" for k in ("M", "n", "d"))
    fig.suptitle(f"UFM phase diagram ({sizes}): theory as lines, gradient solver as markers")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
