"""Fig. 7 (MuJoCo; Fig. 8 for images): every metric under every weight decay, per dataset."""

from __future__ import annotations

from nrc.experiments.common import Artifact, Context
from nrc.plots import save_figure
from nrc.plots.curves import metric_grid

METRICS = ("train_mse", "test_mse", "train_r2", "nrc1", "nrc2", "nrc3")


def make(ctx: Context) -> Artifact:
    """Rows: train MSE (log), test MSE, R², NRC1–3; columns: datasets; lines: weight decays."""
    res = ctx.results
    fig = metric_grid(
        res.wd, res.plan.datasets, METRICS, "weight_decay", "WD", "Weight-decay sweep"
    )
    paths = save_figure(fig, ctx.figures / "fig7_wd_sweep", ctx.formats)
    return Artifact(
        "fig7",
        "Fig. 7: train/test MSE, R² and NRC1–3 under different weight decays",
        "One line per weight decay (colour fixed by value, black = 0); NRC3 at the optimal γ.",
        paths,
    )
