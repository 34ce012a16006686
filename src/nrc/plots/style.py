"""Figure conventions for every experiment (owns the metric labels, the colour of each
regularisation value and saving): matplotlib (Agg), PNG and optionally PDF, labelled axes, log
scales where the paper uses them, one colour per regularisation value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from nrc.io import atomic_write

METRIC_LABELS = {
    "nrc1": "NRC1",
    "nrc2": "NRC2",
    "nrc3": "NRC3 (optimal γ)",
    "nrc3_paper": "NRC3 (γ from final W)",
    "train_mse": "train MSE",
    "test_mse": "test MSE",
    "train_r2": "train R²",
    "feature_norm_mean": "mean ‖h‖",
    "w_row_norm_1": "‖w₁‖ (row 1 of W)",
    "w_row_norm_2": "‖w₂‖ (row 2 of W)",
}

# Colours are fixed by the value itself, so the same weight decay has the same colour in every
# figure; 0 (no regularisation) is always black. Values are binned to sixths of a decade, so the
# 1-2-5 steps of the paper's grids and values between them (0.1, 0.13) get distinct bins, and
# the bins take 16 distinct strong colours in turn (tab10 and Dark2 without their greys): two
# values share a colour only when 16 bins (2.7 decades) apart, which no sweep of the plans has
# (tests/plots/test_style.py).
_PALETTE = tuple(
    [matplotlib.colormaps["tab10"](i) for i in range(10) if i != 7]
    + [matplotlib.colormaps["Dark2"](i) for i in range(8) if i != 7]
)
BINS_PER_DECADE = 6
_FIRST_BIN = -6 * BINS_PER_DECADE  # 1e-6


def reg_color(value: float) -> tuple[float, float, float, float]:
    """The colour of a regularisation strength (weight decay or λ)."""
    if value == 0:
        return (0.0, 0.0, 0.0, 1.0)
    return _PALETTE[(round(BINS_PER_DECADE * math.log10(value)) - _FIRST_BIN) % len(_PALETTE)]


def reg_label(name: str, value: float) -> str:
    """Legend text such as 'WD = 1e-02', 'λ = 1.3e-01' or 'WD = 0' (two digits where needed)."""
    if value == 0:
        return f"{name} = 0"
    return f"{name} = {value:.0e}" if float(f"{value:.0e}") == value else f"{name} = {value:.1e}"


def subplots(rows: int, cols: int, width: float = 3.4, height: float = 2.7) -> tuple[Figure, list]:
    """A figure with a rows×cols grid of axes (returned as a flat list)."""
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Save ``fig`` as ``stem.<fmt>`` for each format (atomically), close it, return the paths."""
    fig.tight_layout()
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        atomic_write(path, lambda tmp, f=fmt: fig.savefig(tmp, format=f, dpi=110))
        paths.append(path)
    plt.close(fig)
    return paths
