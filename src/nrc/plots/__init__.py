"""Figures: shared style (colours per weight decay, labelled axes, atomic saving), learning-curve
grids and the UFM phase diagram."""

from nrc.plots.phase import plot_phase
from nrc.plots.style import METRIC_LABELS, reg_color, reg_label, save_figure, subplots

__all__ = ["METRIC_LABELS", "plot_phase", "reg_color", "reg_label", "save_figure", "subplots"]
