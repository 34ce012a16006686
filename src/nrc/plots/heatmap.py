"""Layer × epoch heat maps of a per-layer metric (Deep NRC's view of collapse across depth and
training time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm

# Metrics drawn on a log colour scale (they fall by orders of magnitude as a layer collapses).
LOG_SCALE = ("noise_fraction", "probe_mse", "nrc1")


def layer_epoch_heatmap(ax: Axes, rows: pd.DataFrame, metric: str, title: str) -> None:
    """Draw `metric` of per-layer `rows` (columns epoch, layer, metric) as layers (top: the input
    side) × evaluations, on `ax` with a colour bar."""
    layers = list(dict.fromkeys(rows.layer))
    epochs = sorted(rows.epoch.unique())
    grid = rows.pivot_table(index="layer", columns="epoch", values=metric, aggfunc="first")
    values = grid.reindex(index=layers, columns=epochs).to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    norm = None
    if metric in LOG_SCALE and finite.size and finite.max() > 0:
        low = max(float(finite[finite > 0].min()) if np.any(finite > 0) else 1e-16, 1e-16)
        norm = LogNorm(vmin=low, vmax=max(float(finite.max()), low * 10))
        values = np.clip(values, low, None)
    image = ax.imshow(values, aspect="auto", interpolation="nearest", norm=norm, cmap="viridis")
    ax.set_yticks(range(len(layers)), layers, fontsize=7)
    ticks = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), 5)).astype(int))
    ax.set_xticks(ticks, [str(epochs[i]) for i in ticks], fontsize=7)
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=8)
    ax.figure.colorbar(image, ax=ax)
