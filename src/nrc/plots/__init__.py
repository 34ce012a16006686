"""Figures: shared style (colours per weight decay, labelled axes, atomic saving), learning-curve
grids, layer × epoch heat maps and the UFM phase diagram."""

from nrc.plots.heatmap import layer_epoch_heatmap
from nrc.plots.phase import plot_phase
from nrc.plots.style import METRIC_LABELS, reg_color, reg_label, save_figure, subplots

__all__ = [
    "METRIC_LABELS",
    "layer_epoch_heatmap",
    "plot_phase",
    "reg_color",
    "reg_label",
    "save_figure",
    "subplots",
]
