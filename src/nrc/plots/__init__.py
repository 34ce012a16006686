"""Shared figure style: consistent colours per weight decay, labelled axes, atomic saving."""

from nrc.plots.style import METRIC_LABELS, reg_color, reg_label, save_figure, subplots

__all__ = ["METRIC_LABELS", "reg_color", "reg_label", "save_figure", "subplots"]
